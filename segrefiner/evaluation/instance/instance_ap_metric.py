"""``InstanceAPMetric``: LVIS mask AP and boundary AP of refined instances during a test run."""
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from .coco_results import instances_to_results
from .lvis_eval import IOU_TYPES, SUMMARY_KEYS, ap_table, evaluate_instances


@METRICS.register_module()
class InstanceAPMetric(BaseMetric):
    """Mask AP and boundary AP (LVIS rules) of the samples' ``pred_instances``.

    Each sample's instances (``masks``, ``bboxes``, ``scores``, ``labels``; the output of the
    Refiner's ``'instance'`` mode) become COCO results with ``image_id`` = the sample's
    ``img_id`` and ``category_id = dataset_meta['cat_ids'][label]``; at the end they are scored
    against ``gt_file`` by :func:`evaluate_instances` (the evaluation of
    ``scripts/eval_json.py``). Use the LVIS v1 val annotations restricted to COCO
    (``scripts/lvis2coco.py``) to reproduce SegRefiner's COCO table.

    Args:
        gt_file (str): LVIS-format GT annotations.
        iou_types (Sequence[str]): ``'segm'`` (mask AP) and/or ``'boundary'``.
        dilation_ratio (float): boundary band width as a fraction of the image diagonal.
        max_dets (int): detections per image, by score.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): prefix of the returned keys. Defaults to ``'lvis'``.

    Returns (``evaluate``): ``{prefix}/{iou_type}_{key}`` for the keys ``AP``, ``AP50``,
    ``AP75``, ``APs``, ``APm``, ``APl``, ``APr``, ``APc``, ``APf``, fractions in [0, 1]
    (-1 where nothing was evaluated).
    """
    default_prefix: Optional[str] = 'lvis'

    def __init__(self,
                 gt_file: str,
                 iou_types: Sequence[str] = ('segm', 'boundary'),
                 dilation_ratio: float = 0.02,
                 max_dets: int = 300,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not osp.isfile(gt_file):
            raise FileNotFoundError(
                f'GT file of InstanceAPMetric not found: {gt_file} (write LVIS v1 val restricted '
                'to COCO with scripts/lvis2coco.py, or pass --cfg-options "test_evaluator=[]" '
                'to tools/test.py to refine without evaluating)')
        bad = [t for t in iou_types if t not in IOU_TYPES]
        if bad or not iou_types:
            raise ValueError(f'iou_types must be a non-empty subset of {IOU_TYPES}, got '
                             f'{list(iou_types)}')
        self.gt_file = gt_file
        self.iou_types = tuple(iou_types)
        self.dilation_ratio = dilation_ratio
        self.max_dets = max_dets

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Encode each sample's instances as COCO results (RLE masks)."""
        cat_ids = (self.dataset_meta or {}).get('cat_ids')
        if cat_ids is None:
            raise KeyError('InstanceAPMetric needs dataset_meta["cat_ids"] (the category id '
                           'of each label), as CocoRefineDataset provides')
        for sample in data_samples:
            if 'pred_instances' not in sample:
                raise KeyError('InstanceAPMetric needs pred_instances; run the Refiner with '
                               'test_cfg.mode="instance"')
            self.results.append(instances_to_results(sample['pred_instances'],
                                                     sample['img_id'], cat_ids))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Evaluate all detections and log the table."""
        detections = [det for per_image in results for det in per_image]
        evaluated = evaluate_instances(self.gt_file, detections, self.iou_types,
                                       self.dilation_ratio, self.max_dets, logger='current')
        print_log('\n' + ap_table(evaluated), logger=MMLogger.get_current_instance())
        return {f'{iou_type}_{key}': round(values[key], 4)
                for iou_type, values in evaluated.items() for key in SUMMARY_KEYS}
