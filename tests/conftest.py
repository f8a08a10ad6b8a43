import pytest
import torch

import vit_scaled  # noqa: F401  (registers the modules and the checkpoint shims)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
