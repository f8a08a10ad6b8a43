"""mmpose's top-down pose estimator with the backbone-to-decoder agreement checked at build time,
and the decoder's multiply-adds counted from its layers.

mmpose's heads never compare their ``in_channels`` with what the backbone produces: a ViTPose
config whose decoder expects 384 channels on a 768-wide backbone builds, and fails at the first
forward pass with a convolution's shape error. ``CheckedTopdownPoseEstimator`` is mmpose's
``TopdownPoseEstimator`` unchanged except that, once built, it compares the channels of the
backbone's outputs (the package's backbones, from their architecture) with what the neck passes
on and the head takes, and raises ``ValueError`` naming both numbers. A config switches to it
with ``model = dict(type='CheckedTopdownPoseEstimator')``.

This module imports mmpose, so ``import vit_scaled`` does not import it; pose configs list it in
``custom_imports``.
"""
from typing import List, Optional, Sequence, Tuple

from mmengine.registry import MODELS
from mmpose.models.necks import FeatureMapProcessor
from mmpose.models.pose_estimators import TopdownPoseEstimator
from torch import nn

from ..families import backbone_out_channels


def neck_out_channels(neck: Optional[nn.Module], channels: List[int]) -> Optional[List[int]]:
    """What the neck passes on, for the necks ViTPose uses; ``None`` when unknown."""
    if neck is None:
        return channels
    if isinstance(neck, FeatureMapProcessor):  # selects, maybe concatenates, rescales
        if neck.select_index is not None:
            idx = neck.select_index if isinstance(neck.select_index, Sequence) else [neck.select_index]
            channels = [channels[i] for i in idx]
        return [sum(channels)] if neck.concat else channels
    return None


@MODELS.register_module()
class CheckedTopdownPoseEstimator(TopdownPoseEstimator):
    """``TopdownPoseEstimator`` (mmpose 1.3) that validates, once built, that the head's
    ``in_channels`` (or the neck's, when it has them) match the backbone's output channels."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_channels()

    def check_channels(self) -> None:
        produced = backbone_out_channels(self.backbone)
        if produced is None:
            return
        backbone = type(self.backbone).__name__
        where = f'the backbone {backbone} returns {produced} channels ' \
                f'(out_indices={tuple(self.backbone.out_indices)})'
        neck = getattr(self, 'neck', None)
        taken = getattr(neck, 'in_channels', None) if neck is not None else None
        if taken is not None:
            taken = [taken] if isinstance(taken, int) else list(taken)
            if taken != produced:
                raise ValueError(f'the neck {type(neck).__name__} takes in_channels={taken} but '
                                 f'{where}: set neck.in_channels to {produced}')
            return
        passed = neck_out_channels(neck, produced)
        head = getattr(self, 'head', None)
        wanted = getattr(head, 'in_channels', None)
        if passed is None or wanted is None:
            return
        if not isinstance(wanted, int):
            return  # a multi-input head: not one of ViTPose's
        if wanted != passed[-1]:  # mmpose's heatmap heads decode the last map
            via = '' if neck is None else f' (through the neck {type(neck).__name__}: {passed})'
            raise ValueError(f'the head {type(head).__name__} takes in_channels={wanted} but '
                             f'{where}{via}: set head.in_channels to {passed[-1]}')


# -- the decoder's cost --------------------------------------------------------------------------
def _conv_out(n: int, m: nn.Conv2d, axis: int) -> int:
    k, s, p, d = m.kernel_size[axis], m.stride[axis], m.padding[axis], m.dilation[axis]
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _deconv_out(n: int, m: nn.ConvTranspose2d, axis: int) -> int:
    k, s, p, d = m.kernel_size[axis], m.stride[axis], m.padding[axis], m.dilation[axis]
    return (n - 1) * s - 2 * p + d * (k - 1) + m.output_padding[axis] + 1


def decoder_flops(model: nn.Module, feat_hw: Tuple[int, int], batch_size: int = 1) -> int:
    """Multiply-adds of a top-down model's neck and head on a backbone map of ``feat_hw``, from
    their layers' shapes, under the package's conventions (``vit_scaled.cost.analytic``): a
    convolution ``C_out * C_in / groups * k_h * k_w`` per output pixel, a transposed one the same
    per input pixel (as the traced count), ReLU one per element, interpolation and BatchNorm none.
    """
    from ..cost.analytic import NONLINEAR_FLOPS_PER_ELEMENT
    h, w = feat_hw
    c = model.head.in_channels
    total = 0
    neck = getattr(model, 'neck', None)
    if isinstance(neck, FeatureMapProcessor):
        if neck.apply_relu:
            total += NONLINEAR_FLOPS_PER_ELEMENT * c * h * w
        if neck.scale_factor != 1.0:
            h, w = int(h * neck.scale_factor), int(w * neck.scale_factor)
    elif neck is not None:
        raise ValueError(f'decoder_flops does not know the neck {type(neck).__name__}')
    for m in model.head.modules():
        if isinstance(m, nn.ConvTranspose2d):
            total += m.in_channels * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] * h * w
            h, w, c = _deconv_out(h, m, 0), _deconv_out(w, m, 1), m.out_channels
        elif isinstance(m, nn.Conv2d):
            h, w, c = _conv_out(h, m, 0), _conv_out(w, m, 1), m.out_channels
            total += m.out_channels * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] * h * w
        elif isinstance(m, nn.ReLU):
            total += NONLINEAR_FLOPS_PER_ELEMENT * c * h * w
        elif isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv3d)):
            raise ValueError(f'decoder_flops does not count {type(m).__name__} layers')
    return total * batch_size
