"""Top-k accuracy on known logits."""
import torch
from mmengine.registry import METRICS


def test_topk_accuracy_on_known_logits():
    metric = METRICS.build(dict(type='TopKAccuracy', topk=(1, 5)))
    scores = torch.tensor([[.9, .1, 0, 0, 0, 0, 0],      # label 0: top-1
                           [.1, .2, .3, .4, .5, .6, .7],  # label 2: rank 5, in top-5 only
                           [.1, .2, .3, .4, .5, .6, .7],  # label 1: rank 6, in neither
                           [0, 0, 0, 0, 0, 1, 0]])        # label 5: top-1
    samples = [dict(pred_score=s, gt_label=torch.tensor([y])) for s, y in zip(scores, [0, 2, 1, 5])]
    metric.process({}, samples)
    assert metric.evaluate(4) == {'accuracy/top1': 50.0, 'accuracy/top5': 75.0}
    # Fewer than 5 classes: top-5 is clipped to top-3, which every sample passes.
    metric.process({}, [dict(pred_score=torch.tensor([.1, .2, .7]), gt_label=torch.tensor([0]))])
    assert metric.evaluate(1) == {'accuracy/top1': 0.0, 'accuracy/top5': 100.0}
