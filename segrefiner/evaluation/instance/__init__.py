"""Instance evaluation: COCO results I/O, LVIS mask AP and boundary AP, the AP metric."""
from .coco_results import (RESULT_KEYS, check_results, dump_results, encode_masks,
                           instances_to_results, load_json, load_results, segmentation_to_rle)
from .lvis_eval import (IOU_TYPES, LVISDict, LVISInstanceEval, ap_table, build_lvis_results,
                        evaluate_instances, filter_to_gt, load_lvis_gt, prepare_results)
from .instance_ap_metric import InstanceAPMetric

__all__ = [
    'RESULT_KEYS', 'check_results', 'dump_results', 'encode_masks', 'instances_to_results',
    'load_json', 'load_results', 'segmentation_to_rle', 'IOU_TYPES', 'LVISDict',
    'LVISInstanceEval', 'ap_table', 'build_lvis_results', 'evaluate_instances',
    'filter_to_gt', 'load_lvis_gt', 'prepare_results', 'InstanceAPMetric'
]
