from .inference import init_refiner, refine
from .semantic import (SemanticScorer, build_test_dataset, evaluate_methods, format_table,
                       merge_class_probs, predict_label_map, refine_label_map,
                       residual_refiner_method, results_table, save_study, segmentor_method,
                       segrefiner_method)

__all__ = [
    'init_refiner', 'refine', 'SemanticScorer', 'build_test_dataset', 'evaluate_methods',
    'format_table', 'merge_class_probs', 'predict_label_map', 'refine_label_map',
    'residual_refiner_method', 'results_table', 'save_study', 'segmentor_method',
    'segrefiner_method'
]
