"""Boundary IoU metric (Cheng et al. 2021) for semantic or binary segmentation."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..functional.mask_boundary import boundary_intersection_union
from .utils import (check_aggregation, class_names, get_label_map, make_table, percent,
                    present_classes, refined_and_coarse, selected_classes, void_mask)


@METRICS.register_module()
class BoundaryIoUMetric(BaseMetric):
    """Per-class Boundary IoU, averaged over classes (``mBIoU``).

    For every image and class c, the inner boundary bands of ``pred == c`` and ``gt == c`` are
    taken with :func:`~segrefiner.evaluation.functional.mask_to_boundary` (d = 2% of the image
    diagonal, image edge counts as background) and their intersection and union are counted;
    pixels whose GT is ``ignore_index`` are not counted.

    Aggregation (``aggregation``):

    * ``'pooled'`` (default, like mmseg's mIoU): per class ``Σ intersections / Σ unions`` over
      the dataset;
    * ``'image'``: per class, the mean over the images where the class has a boundary in the
      prediction or the GT of the per-image Boundary IoU (0 when the bands do not intersect, the
      pycocotools rule of the reference).

    A class never present is NaN and left out of the mean. When the samples carry
    ``coarse_sem_seg``, ``coarse_mBIoU`` is computed for it as well. For binary refinement use
    ``class_ids=[1]`` to score the foreground only.

    Args:
        dilation_ratio (float): band width as a fraction of the image diagonal. Default 0.02.
        ignore_index (int, optional): GT label of void pixels. Default 255.
        class_ids (Sequence[int], optional): classes to score (default: all).
        aggregation (str): ``'pooled'`` or ``'image'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): prefix of the returned keys.

    Returns (``evaluate``), percentages with 2 decimals: ``mBIoU`` (+ ``coarse_mBIoU``).
    """

    def __init__(self,
                 dilation_ratio: float = 0.02,
                 ignore_index: Optional[int] = 255,
                 class_ids: Optional[Sequence[int]] = None,
                 aggregation: str = 'pooled',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        check_aggregation(aggregation)
        self.dilation_ratio = dilation_ratio
        self.ignore_index = ignore_index
        self.class_ids = None if class_ids is None else [int(c) for c in class_ids]
        self.aggregation = aggregation

    def _classes(self) -> List[int]:
        return selected_classes(self.dataset_meta, self.class_ids, type(self).__name__)

    def _counts(self, label: np.ndarray, gt: np.ndarray, void, classes) -> np.ndarray:
        present = present_classes([label, gt], max(classes) + 1)
        out = np.zeros((len(classes), 2), np.int64)
        for i, c in enumerate(classes):
            if present[c]:
                out[i] = boundary_intersection_union(label == c, gt == c, self.dilation_ratio,
                                                     void)
        return out

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Append ``{'refined': (C, 2), 'coarse': (C, 2) or None}`` intersection/union counts."""
        classes = self._classes()
        for sample in data_samples:
            gt = get_label_map(sample, 'gt_sem_seg')
            void = void_mask(gt, self.ignore_index)
            self.results.append({
                kind: None if label is None else self._counts(label, gt, void, classes)
                for kind, label in refined_and_coarse(sample, gt).items()
            })

    def _per_class(self, counts: np.ndarray) -> np.ndarray:
        inter, union = counts[..., 0], counts[..., 1]  # (N, C)
        with np.errstate(invalid='ignore', divide='ignore'):
            if self.aggregation == 'pooled':
                i, u = inter.sum(0), union.sum(0)
                return np.where(u > 0, i / np.maximum(u, 1), np.nan)
            scored = union > 0
            per_image = np.where(scored, inter / np.maximum(union, 1), 0.0)
            return per_image.sum(0) / scored.sum(0)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        classes = self._classes()
        names = class_names(self.dataset_meta, type(self).__name__)
        kinds = {'refined': np.stack([r['refined'] for r in results])}
        coarse = [r['coarse'] for r in results if r['coarse'] is not None]
        if coarse:
            kinds['coarse'] = np.stack(coarse)
        metrics, columns = {}, {}
        for kind, counts in kinds.items():
            per_class = self._per_class(counts)
            columns[kind] = per_class
            key = 'mBIoU' if kind == 'refined' else 'coarse_mBIoU'
            metrics[key] = percent(np.nanmean(per_class)) if np.any(
                ~np.isnan(per_class)) else float('nan')
        header = ['Class'] + [('BIoU' if k == 'refined' else 'coarse BIoU') for k in columns]
        rows = [[names[c]] + [percent(v[i]) for v in columns.values()]
                for i, c in enumerate(classes)]
        print_log(f'boundary IoU per class ({self.aggregation}, d = {self.dilation_ratio} x '
                  f'diagonal, {len(results)} images):', logger)
        print_log('\n' + make_table(header, rows), logger=logger)
        return metrics
