"""Photo composites rendered on the fly (:mod:`segrefiner.datasets.generators.composite`)."""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS

from .generators.composite import (COARSE_IOU_RANGE, COARSE_KINDS, render_composite,
                                   sample_coarse_mask)


@DATASETS.register_module()
class CompositeRefineDataset(BaseDataset):
    """Refinement samples rendered from ``(seed, index)``: no files, the same sample every time.

    Sample ``i`` is :func:`~segrefiner.datasets.generators.composite.render_composite` and
    :func:`~segrefiner.datasets.generators.composite.sample_coarse_mask` drawn from
    ``np.random.default_rng([seed, i])``. The pipeline receives what the file-based refine
    datasets' loading transforms produce: ``img`` (H, W, 3) uint8 BGR, ``gt_seg_map`` and
    ``coarse_seg_map`` (H, W) uint8 in {0, 1}, both listed in ``seg_fields``, ``img_shape``,
    ``ori_shape``, plus ``img_path`` (a virtual name), ``sample_idx``, ``index`` (the render
    index, which differs from ``sample_idx`` with ``indices``), ``coarse_kind`` and
    ``shape_kind``. With ``coarse=False`` there is no ``coarse_seg_map`` (add e.g.
    ``GenerateCoarseMask`` to the pipeline). Use another ``seed`` for a held-out split.

    Args:
        num_samples (int): dataset length. Defaults to 100000.
        img_size (tuple[int, int]): (H, W) of the rendered images. Defaults to (320, 320).
        seed (int): non-negative seed of the split. Defaults to 0.
        coarse (bool): render the coarse mask. Defaults to True.
        coarse_kinds (Sequence[str]): kinds drawn from (see ``COARSE_KINDS``).
        coarse_probs (Sequence[float], optional): their probabilities (default: the
            generator's for the default kinds, else uniform).
        coarse_iou_range (tuple[float, float]): accepted coarse IoU to the GT.
        extra_error_prob (float): probability of an extra false positive / missing part.
        similar_prob (float): probability of a look-alike object (cut from the background's
            photo). Defaults to 0.5.
        contrast (tuple[float, float]): range of the smallest colour step across the
            object's outline. Defaults to (12, 40).
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``,
            ``test_mode``, ``indices``, ...).
    """
    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 num_samples: int = 100000,
                 img_size: Tuple[int, int] = (320, 320),
                 seed: int = 0,
                 coarse: bool = True,
                 coarse_kinds: Sequence[str] = COARSE_KINDS,
                 coarse_probs: Optional[Sequence[float]] = None,
                 coarse_iou_range: Tuple[float, float] = COARSE_IOU_RANGE,
                 extra_error_prob: float = 0.3,
                 similar_prob: float = 0.5,
                 contrast: Tuple[float, float] = (12.0, 40.0),
                 **kwargs) -> None:
        if not 0 <= similar_prob <= 1 or not 0 <= contrast[0] <= contrast[1]:
            raise ValueError(f'need 0 <= similar_prob <= 1 and 0 <= contrast[0] <= contrast[1], '
                             f'got {similar_prob}, {contrast}')
        if num_samples < 1 or seed < 0 or min(img_size) < 32:
            raise ValueError('need num_samples >= 1, seed >= 0 and img_size >= 32 px, got '
                             f'{num_samples}, {seed}, {img_size}')
        unknown = set(coarse_kinds) - set(COARSE_KINDS)
        if unknown:
            raise ValueError(f'unknown coarse kinds {sorted(unknown)}; use {COARSE_KINDS}')
        self.num_samples = int(num_samples)
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seed = int(seed)
        self.coarse = coarse
        self.coarse_kinds = tuple(coarse_kinds)
        self.coarse_probs = coarse_probs
        self.coarse_iou_range = tuple(coarse_iou_range)
        self.extra_error_prob = extra_error_prob
        self.similar_prob = float(similar_prob)
        self.contrast = (float(contrast[0]), float(contrast[1]))
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    def load_data_list(self) -> list:
        """One small dict per sample; the sample itself is rendered in :meth:`get_data_info`."""
        return [dict(index=i) for i in range(self.num_samples)]

    def get_data_info(self, idx: int) -> dict:
        """Render sample ``idx`` (of the dataset after ``indices``) from ``(seed, index)``."""
        index = super().get_data_info(idx)['index']  # the index before ``indices``
        rng = np.random.default_rng([self.seed, index])
        img, mask, info = render_composite(rng, self.img_size, return_info=True,
                                           similar_prob=self.similar_prob,
                                           contrast=self.contrast)
        results = dict(img=img, gt_seg_map=mask.astype(np.uint8), seg_fields=['gt_seg_map'],
                       img_shape=img.shape[:2], ori_shape=img.shape[:2],
                       img_path=f'composite_s{self.seed}_{index:07d}.jpg', sample_idx=idx,
                       index=index,
                       shape_kind=info['shape'], reduce_zero_label=False)
        if self.coarse:
            coarse, kind = sample_coarse_mask(
                rng, mask, distractors=info['distractors'], extra_prob=self.extra_error_prob,
                iou_range=self.coarse_iou_range, kinds=self.coarse_kinds,
                probs=self.coarse_probs)
            results.update(coarse_seg_map=coarse.astype(np.uint8), coarse_kind=kind)
            results['seg_fields'].append('coarse_seg_map')
        return results
