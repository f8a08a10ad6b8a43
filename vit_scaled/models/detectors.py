"""mmdet's Deformable DETR with its shape agreements checked when the model is built.

Deformable DETR's parts must agree on two numbers that mmdet never compares: the backbone's output
maps against the neck's ``in_channels``, and the neck's levels against ``num_feature_levels`` and
the ``num_levels`` of every deformable attention (encoder self-attention, decoder
cross-attention). A mismatch only shows at the first forward pass, as a shape error deep inside
a convolution or mmcv's sampling; here it fails at build time naming both numbers. The detector
is otherwise mmdet's, unchanged: a config switches to it with ``model = dict(type=...)``.

``OneToManyProposalDETRHead`` is mmdet's Deformable DETR head with one option for two-stage
training: the encoder's proposals matched one-to-many (docs/detection.md, "what holds the
detector in the plateau").

This module imports mmdet, so it is not imported by ``import vit_scaled``; detection configs list
it in ``custom_imports``.
"""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import DeformableDETRHead
from mmdet.models.detectors import DeformableDETR
from mmengine.registry import MODELS
from mmengine.structures import InstanceData
from torch import nn

from ..families import backbone_out_channels


def neck_in_channels(neck: nn.Module) -> Optional[List[int]]:
    channels = getattr(neck, 'in_channels', None)
    if channels is None and hasattr(neck, 'convs'):   # mmdet's ChannelMapper keeps only its convs
        channels = [m.conv.in_channels for m in neck.convs]
    if isinstance(channels, int):
        channels = [channels]
    return list(channels) if channels is not None else None


def neck_num_outs(neck: nn.Module) -> Optional[int]:
    num = getattr(neck, 'num_outs', None)
    if num is None and hasattr(neck, 'convs'):       # ChannelMapper: one per input, plus extras
        num = len(neck.convs) + len(neck.extra_convs or ())
    return num


def _attention_levels(coder: nn.Module, attr: str) -> List[int]:
    return [getattr(layer, attr).num_levels for layer in coder.layers]


@MODELS.register_module()
class CheckedDeformableDETR(DeformableDETR):
    """``DeformableDETR`` (mmdet 3.3) that validates, once built, that the backbone's output
    channels match the neck's ``in_channels`` and that the neck's number of levels matches
    ``num_feature_levels`` and the ``num_levels`` of the encoder's and decoder's deformable
    attention. Raises ``ValueError`` naming both sides of the first disagreement."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_shapes()

    def check_shapes(self) -> None:
        backbone, neck = type(self.backbone).__name__, type(self.neck).__name__
        produced, taken = backbone_out_channels(self.backbone), neck_in_channels(self.neck)
        if produced is not None and taken is not None and produced != taken:
            raise ValueError(
                f'the neck {neck} takes in_channels={taken} ({len(taken)} maps) but the backbone '
                f'{backbone} returns {len(produced)} maps of channels {produced} '
                f'(out_indices={tuple(self.backbone.out_indices)}): set the neck\'s in_channels '
                f'to {produced if len(taken) == len(produced) else "match"}')
        levels = neck_num_outs(self.neck)
        if levels is None:
            return
        for what, num in (('num_feature_levels', [self.num_feature_levels]),
                          ('encoder.layer_cfg.self_attn_cfg.num_levels',
                           _attention_levels(self.encoder, 'self_attn')),
                          ('decoder.layer_cfg.cross_attn_cfg.num_levels',
                           _attention_levels(self.decoder, 'cross_attn'))):
            bad = [n for n in num if n != levels]
            if bad:
                raise ValueError(f'the neck {neck} gives {levels} feature levels but the model '
                                 f'sets {what}={bad[0]}: set it to {levels}')


@MODELS.register_module()
class OneToManyProposalDETRHead(DeformableDETRHead):
    """mmdet's ``DeformableDETRHead`` whose two-stage proposals are matched one-to-many.

    In two-stage Deformable DETR the encoder scores every token as a proposal and the decoder
    starts from the top ``num_queries`` of them. mmdet matches those proposals to the ground truth
    one-to-one, as it does the final detections: each object makes one of the few hundred tokens
    a positive and all its neighbours negatives. Here each ground-truth box is repeated
    ``proposal_repeats`` times before the proposals' Hungarian matching (the hybrid matching of
    H-DETR, Jia et al. 2023, applied to the proposals only), so up to that many tokens per object
    learn its objectness and box. The proposals are never detections (the decoder's top
    ``num_queries`` are re-scored and matched one-to-one as before), so inference stays free of
    NMS. ``proposal_repeats=1`` is mmdet's head exactly.
    """

    def __init__(self, *args, proposal_repeats: int = 1, **kwargs):
        if isinstance(proposal_repeats, bool) or not isinstance(proposal_repeats, int) \
                or proposal_repeats < 1:
            raise ValueError(f'proposal_repeats={proposal_repeats!r} is invalid: expected an '
                             'integer of at least 1 (1 is one-to-one matching)')
        self.proposal_repeats = proposal_repeats
        super().__init__(*args, **kwargs)

    def proposal_gt_instances(self, batch_gt_instances):
        """The proposals' targets: every box ``proposal_repeats`` times, all of class 0
        ("object", as mmdet's head labels them)."""
        k = self.proposal_repeats
        return [InstanceData(bboxes=gt.bboxes.repeat(k, 1),
                             labels=torch.zeros_like(gt.labels).repeat(k))
                for gt in batch_gt_instances]

    def loss_by_feat(self, all_layers_cls_scores, all_layers_bbox_preds, enc_cls_scores,
                     enc_bbox_preds, batch_gt_instances, batch_img_metas,
                     batch_gt_instances_ignore=None):
        k = self.proposal_repeats
        if enc_cls_scores is None or k == 1:
            return super().loss_by_feat(all_layers_cls_scores, all_layers_bbox_preds,
                                        enc_cls_scores, enc_bbox_preds, batch_gt_instances,
                                        batch_img_metas, batch_gt_instances_ignore)
        losses = super().loss_by_feat(all_layers_cls_scores, all_layers_bbox_preds, None, None,
                                      batch_gt_instances, batch_img_metas,
                                      batch_gt_instances_ignore)
        cls, bbox, iou = self.loss_by_feat_single(enc_cls_scores, enc_bbox_preds,
                                                  self.proposal_gt_instances(batch_gt_instances),
                                                  batch_img_metas=batch_img_metas)
        losses.update(enc_loss_cls=cls, enc_loss_bbox=bbox, enc_loss_iou=iou)
        return losses
