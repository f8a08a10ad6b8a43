from .accuracy import TopKAccuracy, topk_accuracy

__all__ = ['TopKAccuracy', 'topk_accuracy']
