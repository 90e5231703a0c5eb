"""Boundary F-measure metric (DAVIS definition) for binary and multi-class segmentation."""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..functional.boundary_fmeasure import bound_pixels, counts_from_masks, f_measure_array
from .utils import (check_aggregation, check_shape, class_names, get_label_map, make_table,
                    percent, present_classes, selected_classes, tolerance_tag, void_mask)


@METRICS.register_module()
class BoundaryF1Metric(BaseMetric):
    """Per-class boundary F-measure (DAVIS ``db_eval_boundary``), averaged over classes.

    For every image and class c the masks ``pred == c`` and ``gt == c`` are compared with
    :func:`~segrefiner.evaluation.functional.boundary_f1` (one-pixel ``seg2bmap`` boundaries,
    disk tolerance, precision on the prediction's boundary). Pixels whose GT is ``ignore_index``
    are void: removed from both masks before the boundaries are extracted, as DAVIS does.

    In ``process`` only the boundary counts (matched/total, prediction and GT; 4 integers per
    class and tolerance) are kept, so the results are small to gather across ranks.

    Aggregation over images (``aggregation``):

    * ``'image'`` (default): per class, the mean over images of the per-image F (DAVIS' per-frame
      F, then mean), over the images where the class has a boundary in the prediction or the GT
      (an image without the class in either is not scored: DAVIS would give it F = 1).
    * ``'pooled'``: per class, precision and recall from the counts summed over all images.

    A class without any boundary in the whole set is NaN and left out of the mean over classes
    (like mmseg's ``IoUMetric``). For a binary task (classes background/foreground) the two
    classes share their boundary, so ``class_ids=[1]`` reports the foreground's F alone.

    Args:
        bound_th (float | Sequence[float]): tolerance; ``< 1``: fraction of the image diagonal
            (DAVIS' 0.008), ``>= 1``: whole pixels (e.g. 2). Several values give one set of keys
            per value, suffixed ``_{tag}`` (``mBF_2px``, ``mBF_0.008``).
        ignore_index (int): GT label of void pixels. Default 255.
        class_ids (Sequence[int], optional): the classes to score (default: all of
            ``dataset_meta['classes']``).
        aggregation (str): ``'image'`` or ``'pooled'``, see above.
        collect_device (str): ``'cpu'`` or ``'gpu'``, how ranks exchange results.
        prefix (str, optional): prefix of the returned keys (``prefix/mBF``).

    Returns (``evaluate``), as percentages with 2 decimals: ``mBF`` (mean F over classes),
    ``mBP`` (mean precision), ``mBR`` (mean recall); a per-class table is logged.

    Examples:
        >>> val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
        ...                  dict(type='BoundaryF1Metric', bound_th=(1, 3, 5))]
    """

    def __init__(self,
                 bound_th: Union[float, Sequence[float]] = 0.008,
                 ignore_index: int = 255,
                 class_ids: Optional[Sequence[int]] = None,
                 aggregation: str = 'image',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.multi = isinstance(bound_th, (list, tuple))
        self.bound_ths = [float(t) for t in (bound_th if self.multi else [bound_th])]
        if not self.bound_ths:
            raise ValueError('bound_th must not be empty')
        for t in self.bound_ths:
            bound_pixels(t, (1, 1))  # validates
        check_aggregation(aggregation)
        self.ignore_index = ignore_index
        self.class_ids = None if class_ids is None else [int(c) for c in class_ids]
        self.aggregation = aggregation

    def _classes(self) -> List[int]:
        return selected_classes(self.dataset_meta, self.class_ids, type(self).__name__)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Append, per sample, an int64 array (classes, tolerances, 4) of boundary counts."""
        classes = self._classes()
        n_cls = max(classes) + 1
        for sample in data_samples:
            pred = get_label_map(sample, 'pred_sem_seg')
            gt = get_label_map(sample, 'gt_sem_seg')
            check_shape(pred, gt, 'pred_sem_seg')
            void = void_mask(gt, self.ignore_index)
            # a superset is enough: a class only under void pixels gets zero counts
            present = present_classes([pred, gt], n_cls)
            radii = [bound_pixels(t, gt.shape) for t in self.bound_ths]
            counts = np.zeros((len(classes), len(radii), 4), np.int64)
            for i, c in enumerate(classes):
                if not present[c]:
                    continue
                p = pred == c
                g = gt == c
                if void is not None:
                    p &= ~void
                    g &= ~void
                counts[i] = np.asarray(counts_from_masks(p, g, radii), np.int64)
            self.results.append(counts)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        classes = self._classes()
        names = class_names(self.dataset_meta, type(self).__name__)
        counts = np.stack(results)  # (N, C, T, 4)
        if self.aggregation == 'image':
            f, prec, rec = f_measure_array(counts)
            scored = (counts[..., 1] > 0) | (counts[..., 3] > 0)
            n = scored.sum(axis=0)
            with np.errstate(invalid='ignore', divide='ignore'):
                cls_f, cls_p, cls_r = ((np.where(scored, v, 0.0).sum(axis=0) / n)
                                       for v in (f, prec, rec))
        else:
            total = counts.sum(axis=0)  # (C, T, 4)
            cls_f, cls_p, cls_r = f_measure_array(total)
            empty = (total[..., 1] == 0) & (total[..., 3] == 0)
            cls_f, cls_p, cls_r = (np.where(empty, np.nan, v) for v in (cls_f, cls_p, cls_r))

        metrics = {}
        header = ['Class']
        columns = []
        for j, t in enumerate(self.bound_ths):
            suffix = f'_{tolerance_tag(t)}' if self.multi else ''
            for key, vals in (('mBF', cls_f), ('mBP', cls_p), ('mBR', cls_r)):
                col = vals[:, j]
                metrics[key + suffix] = percent(np.nanmean(col)) if np.any(
                    ~np.isnan(col)) else float('nan')
                header.append(key[1:] + suffix)
                columns.append(col)
        rows = [[names[c]] + [percent(col[i]) for col in columns] for i, c in enumerate(classes)]
        print_log(f'per class results ({self.aggregation} aggregation, '
                  f'{len(results)} images):', logger)
        print_log('\n' + make_table(header, rows), logger=logger)
        return metrics
