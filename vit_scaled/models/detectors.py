"""mmdet's Deformable DETR with its shape agreements checked when the model is built.

Deformable DETR's parts must agree on two numbers that mmdet never compares: the backbone's output
maps against the neck's ``in_channels``, and the neck's levels against ``num_feature_levels`` and
the ``num_levels`` of every deformable attention (encoder self-attention, decoder
cross-attention). A mismatch only shows at the first forward pass, as a shape error deep inside
a convolution or mmcv's sampling; here it fails at build time naming both numbers. The detector
is otherwise mmdet's: a config switches to it with ``model = dict(type=...)``, and its two
two-stage options are off by default: ``proposal_size`` (the proposals' prior side) and
``distinct_queries`` (the decoder's queries taken after an NMS of the proposals).

``OneToManyProposalDETRHead`` is mmdet's Deformable DETR head with one option for two-stage
training: the encoder's proposals matched one-to-many. Why the small configs use all three:
docs/detection.md, "What made the small detector learn".

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
from torchvision.ops import nms

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
    attention. Raises ``ValueError`` naming both sides of the first disagreement.

    Two-stage options (mmdet's behaviour at their defaults): ``proposal_size``, the side of the
    encoder's proposals at the finest level as a share of the image (doubling per level; mmdet's
    0.05); ``distinct_queries``, an IoU: the decoder's queries are the best proposals that a
    class-agnostic NMS at that IoU keeps (0: mmdet's plain top-k)."""

    def __init__(self, *args, proposal_size: float = 0.05, distinct_queries: float = 0.0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.check_shapes()
        if isinstance(distinct_queries, bool) or not isinstance(distinct_queries, (int, float)) \
                or not 0 <= distinct_queries < 1:
            raise ValueError(f'distinct_queries={distinct_queries!r} is invalid: expected an IoU '
                             'in [0, 1); 0 is mmdet\'s plain top-k of the proposals')
        self.distinct_queries = float(distinct_queries)
        top = 0.99 / 2 ** (self.num_feature_levels - 1)
        if isinstance(proposal_size, bool) or not isinstance(proposal_size, (int, float)) \
                or not 0.01 < proposal_size < top:
            raise ValueError(f'proposal_size={proposal_size!r} is invalid: the two-stage proposals '
                             f'of level l are squares of side proposal_size * 2**l of the image, '
                             f'which must lie in (0.01, 0.99) for all {self.num_feature_levels} '
                             f'levels: choose a value in (0.01, {top:.3g})')
        self.proposal_size = float(proposal_size)

    def gen_encoder_output_proposals(self, memory, memory_mask, spatial_shapes):
        """mmdet's proposals (a box at every encoder token), their side ``proposal_size * 2**l``
        of the image at level ``l`` instead of mmdet's fixed 0.05 * 2**l. mmdet's 0.05 suits four
        levels on COCO images, whose largest prior is 0.4; two levels give 0.05 and 0.1, far
        below the 30-60 % objects of the small set, and the decoder's deformable sampling, which
        scales with its reference box, then starts inside a small part of each object."""
        memory, proposals = super().gen_encoder_output_proposals(memory, memory_mask,
                                                                 spatial_shapes)
        if self.proposal_size == 0.05:
            return memory, proposals
        side = torch.cat([proposals.new_full((int(h) * int(w), ), self.proposal_size * 2.0 ** lvl)
                          for lvl, (h, w) in enumerate(spatial_shapes)])
        wh = torch.logit(side)[None, :, None].expand_as(proposals[..., 2:])
        masked = torch.isinf(proposals[..., 2:])        # padding and invalid tokens stay masked
        proposals = torch.cat([proposals[..., :2], torch.where(masked, proposals[..., 2:], wh)], -1)
        return memory, proposals

    def pre_decoder(self, memory, memory_mask, spatial_shapes):
        """mmdet's two-stage query selection (the top ``num_queries`` encoder proposals by
        objectness), with ``distinct_queries`` > 0 taking them after a class-agnostic NMS at that
        IoU (DDQ, Zhang et al. 2023): neighbouring tokens regress to nearly the same box, and
        the decoder, whose queries are made from the boxes alone, then has to learn to tell
        near-copies apart before it can give one of them the object."""
        if not (self.as_two_stage and self.distinct_queries):
            return super().pre_decoder(memory, memory_mask, spatial_shapes)
        c = memory.shape[-1]
        output_memory, output_proposals = self.gen_encoder_output_proposals(
            memory, memory_mask, spatial_shapes)
        enc_outputs_class = self.bbox_head.cls_branches[self.decoder.num_layers](output_memory)
        enc_outputs_coord_unact = self.bbox_head.reg_branches[self.decoder.num_layers](
            output_memory) + output_proposals
        enc_outputs_coord = enc_outputs_coord_unact.sigmoid()
        chosen = torch.stack([self._distinct(boxes, scores) for boxes, scores in zip(
            enc_outputs_coord.detach(), enc_outputs_class[..., 0].detach())])
        topk_coords_unact = torch.gather(enc_outputs_coord_unact, 1,
                                         chosen.unsqueeze(-1).repeat(1, 1, 4)).detach()
        pos_trans_out = self.pos_trans_norm(
            self.pos_trans_fc(self.get_proposal_pos_embed(topk_coords_unact)))
        query_pos, query = torch.split(pos_trans_out, c, dim=2)
        decoder_inputs = dict(query=query, query_pos=query_pos, memory=memory,
                              reference_points=topk_coords_unact.sigmoid())
        head_inputs = dict(enc_outputs_class=enc_outputs_class,
                           enc_outputs_coord=enc_outputs_coord) if self.training else dict()
        return decoder_inputs, head_inputs

    def _distinct(self, boxes, scores):
        """Indexes of ``num_queries`` proposals: those NMS keeps, best first, then (if too few
        survive) the best of the suppressed ones."""
        xyxy = torch.cat([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], -1)
        kept = nms(xyxy, scores, self.distinct_queries)
        rest = torch.ones_like(scores, dtype=torch.bool)
        rest[kept] = False
        order = torch.cat([kept, torch.nonzero(rest).flatten()[scores[rest].argsort(
            descending=True)]])
        return order[:self.num_queries]

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
