from .diffseg import inference_segmentor, init_segmentor, reverse_process
from .inference import init_refiner, refine
from .query_seg import query_outputs, segment_class_on_image
from .semantic import merge_class_probs, refine_label_map

__all__ = [
    'init_refiner', 'refine', 'merge_class_probs', 'refine_label_map', 'init_segmentor',
    'inference_segmentor', 'reverse_process', 'query_outputs', 'segment_class_on_image'
]
