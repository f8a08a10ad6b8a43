from .layer_decay import ViTLayerDecayOptimWrapperConstructor, layer_id

__all__ = ['ViTLayerDecayOptimWrapperConstructor', 'layer_id']
