"""Refinement metric: pooled IoU, mBA and boundary F of refined masks, next to the coarse input."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..functional.boundary_acc import band_accuracies, boundary_bands
from ..functional.boundary_fmeasure import bound_pixels, counts_from_masks, f_measure_array
from ..functional.overlap import intersection_union
from ..functional.utils import binarize
from .utils import get_label_map, make_table, nanmean, percent, refined_and_coarse, void_mask

#: Fields of the per-image statistics (one row per image and mask kind).
STATS = ('inter', 'union', 'mba', 'bf_matched_pred', 'bf_n_pred', 'bf_matched_gt', 'bf_n_gt')


@METRICS.register_module()
class RefineMetric(BaseMetric):
    """IoU, mBA and boundary F of binary refinement, for the refined and the coarse masks.

    Computes SegRefiner's BIG/DIS numbers (``docs/metrics.md``):

    * ``IoU``: foreground IoU **pooled** over the dataset, ``Σ|P ∩ G| / Σ|P ∪ G|``;
    * ``mBA``: CascadePSP's mean boundary accuracy, the mean over images of the per-image mean
      over five radii (images whose GT is constant have no band and are skipped);
    * ``BF``: DAVIS boundary F-measure with tolerance ``bound_th``, mean over images (DAVIS' rules
      for empty boundaries: an image where neither mask has a boundary scores 1);
    * ``IoU_img`` (with ``per_image_iou=True``): the mean of per-image IoUs (1 when both empty).

    When the samples carry ``coarse_sem_seg`` (the coarse input at the GT's resolution), the
    same numbers are computed for it under ``coarse_*`` keys, and a coarse / refined / delta
    table is logged, so every test run shows the gain.

    Label maps: ``pred_sem_seg`` and ``coarse_sem_seg`` are masks (0/1 labels; 0/255 data works
    too, see :func:`~segrefiner.evaluation.functional.binarize`). In ``gt_sem_seg`` 0 is
    background, ``ignore_index`` is void and any other value is foreground. Void pixels are left
    out of every count (IoU), of the mBA bands, and removed from both masks before boundary
    extraction (DAVIS' void rule). Set ``ignore_index=None`` for GTs without void.

    Only 7 numbers per image and mask kind are kept by ``process`` (gathered across ranks by
    :meth:`BaseMetric.evaluate`).

    Args:
        bound_th (float): boundary-F tolerance; ``< 1`` fraction of the diagonal, ``>= 1`` pixels.
        ignore_index (int, optional): GT label of void pixels. Default 255.
        per_image_iou (bool): also return the mean per-image IoU (``IoU_img``).
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): prefix of the returned keys.

    Returns (``evaluate``), percentages with 2 decimals: ``IoU``, ``mBA``, ``BF``
    (+ ``IoU_img``), and ``coarse_IoU``, ``coarse_mBA``, ``coarse_BF`` (+ ``coarse_IoU_img``)
    when coarse masks were given.
    """

    def __init__(self,
                 bound_th: float = 0.008,
                 ignore_index: Optional[int] = 255,
                 per_image_iou: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        bound_pixels(bound_th, (1, 1))  # validates
        self.bound_th = bound_th
        self.ignore_index = ignore_index
        self.per_image_iou = per_image_iou

    @staticmethod
    def _stats(mask: np.ndarray, gt: np.ndarray, void, bands, radius: int) -> np.ndarray:
        inter, union = intersection_union(mask, gt, void)
        acc = band_accuracies(mask, gt, bands, void)
        mba = float(sum(acc.tolist()) / len(acc))
        p = mask if void is None else mask & ~void
        bf = counts_from_masks(p, gt, [radius])[0]
        return np.array([inter, union, mba, *bf], np.float64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Append ``{'refined': stats, 'coarse': stats or None}`` per sample (see ``STATS``)."""
        for sample in data_samples:
            gt_label = get_label_map(sample, 'gt_sem_seg')
            void = void_mask(gt_label, self.ignore_index)
            gt = gt_label != 0
            if void is not None:
                gt &= ~void
            bands = boundary_bands(gt)
            radius = bound_pixels(self.bound_th, gt.shape)
            self.results.append({
                kind: None if label is None else self._stats(binarize(label), gt, void, bands,
                                                             radius)
                for kind, label in refined_and_coarse(sample, gt_label).items()
            })

    def _summary(self, stats: np.ndarray) -> Dict[str, float]:
        inter, union, mba = stats[:, 0], stats[:, 1], stats[:, 2]
        f = f_measure_array(stats[:, 3:7].astype(np.int64))[0]
        out = {
            'IoU': inter.sum() / union.sum() if union.sum() else float('nan'),
            'mBA': nanmean(mba),
            'BF': float(f.mean()),
        }
        if self.per_image_iou:
            out['IoU_img'] = float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))
        return out

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        refined = np.stack([r['refined'] for r in results])
        coarse_rows = [r['coarse'] for r in results if r['coarse'] is not None]
        summaries = {'refined': self._summary(refined)}
        if coarse_rows:
            summaries['coarse'] = self._summary(np.stack(coarse_rows))
            if len(coarse_rows) != len(results):
                print_log(f'only {len(coarse_rows)} of {len(results)} samples carry '
                          f'coarse_sem_seg: the coarse_* numbers cover those only', logger,
                          level=30)

        metrics = {k: percent(v) for k, v in summaries['refined'].items()}
        if 'coarse' in summaries:
            metrics.update({f'coarse_{k}': percent(v) for k, v in summaries['coarse'].items()})

        cols = list(summaries['refined'])
        rows = []
        if 'coarse' in summaries:
            rows.append(['coarse'] + [percent(summaries['coarse'][k]) for k in cols])
        rows.append(['refined'] + [percent(summaries['refined'][k]) for k in cols])
        if 'coarse' in summaries:
            rows.append(['delta'] + [
                percent(summaries['refined'][k] - summaries['coarse'][k]) for k in cols])
        skipped = int(np.isnan(refined[:, 2]).sum())
        note = f', {skipped} without GT boundary skipped by mBA' if skipped else ''
        print_log(f'refinement results ({len(results)} images{note}; BF tolerance '
                  f'{self.bound_th}):', logger)
        print_log('\n' + make_table([''] + cols, rows), logger=logger)
        return metrics
