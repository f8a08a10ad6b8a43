"""An image classifier around any backbone of the package, trained with DeiT's losses."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import nn


def feature_dims(backbone: nn.Module) -> int:
    """Width of the backbone's pooled feature (its last stage's for a pyramid such as PiT)."""
    for name in ('num_features', 'out_channels', 'embed_dims'):
        dims = getattr(backbone, name, None)
        if isinstance(dims, int):
            return dims
        if isinstance(dims, (list, tuple)) and dims:
            return int(dims[-1])
    raise ValueError(f'cannot tell the feature width of {type(backbone).__name__}: '
                     'pass in_channels to the classifier')


@MODELS.register_module()
class ViTClassifier(BaseModel):
    """Backbone -> class-token feature -> dropout -> linear head.

    Args:
        backbone: config of a backbone returning a tuple whose last item is a (B, C) feature
            (``DeiTScaled`` / ``PiTScaled`` with ``out_type='cls_token'``).
        num_classes: number of classes.
        in_channels: width of that feature; read from the backbone when None.
        head_drop_rate: dropout before the head.
        label_smoothing: DeiT's 0.1; the hard-label loss is ``LabelSmoothingCrossEntropy``.
        mixup: keyword arguments of ``timm.data.Mixup`` (DeiT: ``dict(mixup_alpha=0.8,
            cutmix_alpha=1.0)``), or None. When set, each training batch is mixed and the loss
            is ``SoftTargetCrossEntropy`` on the mixed, smoothed targets, as in DeiT. timm mixes
            pairs, so training batches must be even: use ``drop_last=True``.
        data_preprocessor: defaults to ``ViTDataPreprocessor`` (ImageNet mean/std, no erasing).

    ``forward`` modes: ``tensor`` gives logits, ``loss`` a dict with ``loss``, ``predict`` the data
    samples with ``pred_score`` (softmax) and ``pred_label`` set.
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 in_channels: Optional[int] = None,
                 head_drop_rate: float = 0.,
                 label_smoothing: float = 0.1,
                 mixup: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type='ViTDataPreprocessor'),
                         init_cfg=init_cfg)
        self.num_classes = num_classes
        self.backbone = MODELS.build(backbone)
        self.head_drop = nn.Dropout(head_drop_rate) if head_drop_rate > 0 else nn.Identity()
        self.head = nn.Linear(in_channels or feature_dims(self.backbone), num_classes)
        trunc_normal_(self.head.weight, std=.02)  # timm's ViT head init
        nn.init.zeros_(self.head.bias)
        if mixup:
            self.mixup = Mixup(**{'label_smoothing': label_smoothing, 'num_classes': num_classes,
                                  **mixup})
            self.criterion = SoftTargetCrossEntropy()
        else:
            self.mixup = None
            self.criterion = LabelSmoothingCrossEntropy(smoothing=label_smoothing)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(inputs)
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.head(self.head_drop(self.extract_feat(inputs)))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode={mode!r} is invalid: choose 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor, data_samples: List[BaseDataElement]) -> dict:
        targets = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        if self.mixup is not None:
            inputs, targets = self.mixup(inputs, targets)
        return dict(loss=self.criterion(self(inputs), targets))

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None) -> List[BaseDataElement]:
        scores = self(inputs).softmax(dim=-1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(scores))]
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax(dim=-1, keepdim=True)
        return data_samples
