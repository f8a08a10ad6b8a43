"""Top-k classification accuracy, as mmengine's evaluator calls it."""
from typing import Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> dict:
    """Percent of rows whose label is among the k highest scores, for each k.

    k is clipped to the number of classes (top-5 of a 3-class problem is top-3, i.e. 100%);
    the key keeps the asked-for k, so logs and reports have stable names.
    """
    num_classes = scores.shape[1]
    ranked = scores.topk(min(max(topk), num_classes), dim=1).indices
    hits = ranked == labels.view(-1, 1)
    return {f'top{k}': 100. * hits[:, :min(k, num_classes)].any(dim=1).float().mean().item()
            for k in topk}


@METRICS.register_module()
class TopKAccuracy(BaseMetric):
    """Top-1 / top-5 accuracy in percent, logged as ``accuracy/top1`` and ``accuracy/top5``.

    Reads ``pred_score`` (B scores per class) and ``gt_label`` from the predicted data samples.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Sequence[int] = (1, 5), collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        if not self.topk or any(isinstance(k, bool) or not isinstance(k, int) or k < 1
                                for k in self.topk):
            raise ValueError(f'topk={topk!r} is invalid: expected positive integers')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((sample['pred_score'].detach().cpu(),
                                 int(sample['gt_label'].reshape(-1)[0])))

    def compute_metrics(self, results: list) -> dict:
        scores = torch.stack([score for score, _ in results])
        labels = torch.tensor([label for _, label in results])
        return topk_accuracy(scores, labels, self.topk)
