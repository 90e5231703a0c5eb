from .inference import init_refiner, refine
from .semantic import merge_class_probs, refine_label_map

__all__ = ['init_refiner', 'refine', 'merge_class_probs', 'refine_label_map']
