"""Foreground IoU of binary masks: per image, pooled over a dataset, and the per-image mean.

SegRefiner's BIG/DIS tables (``scripts/eval_miou.py``, as CascadePSP's ``eval_post.py``) report the
**pooled** foreground IoU ``Σ_images |P ∩ G| / Σ_images |P ∪ G|`` — not the mean of per-image IoUs
(:func:`mean_iou`), and not mmseg's 2-class mIoU.

Empty cases: a single image whose union is empty (both masks empty) has IoU 1 (DAVIS' J rule:
nothing to find, nothing found); :func:`pooled_iou` is NaN when the union is empty over the whole
dataset (like mmseg's class that never occurs).
"""
from typing import Iterable, Optional, Tuple

import numpy as np

from .utils import binarize, check_same_shape


def _triples(preds, gts, voids):
    if voids is None:
        return ((p, g, None) for p, g in zip(preds, gts, strict=True))
    return zip(preds, gts, voids, strict=True)


def intersection_union(pred, gt, void=None) -> Tuple[int, int]:
    """``(|P ∩ G|, |P ∪ G|)`` of one image, void pixels (if given) not counted.

    Args:
        pred, gt: masks (H, W) or (1, H, W): bool, 0/1 or 0–255 (numpy or torch).
        void: optional mask of pixels to leave out.
    """
    p = binarize(pred)
    g = binarize(gt)
    check_same_shape(p, g)
    inter = p & g
    n_p = np.count_nonzero(p)
    n_g = np.count_nonzero(g)
    if void is not None:
        v = binarize(void)
        check_same_shape(v, g, ('void', 'gt'))
        keep = ~v
        inter &= keep
        n_p = np.count_nonzero(p & keep)
        n_g = np.count_nonzero(g & keep)
    i = int(np.count_nonzero(inter))
    return i, int(n_p + n_g - i)


def iou(pred, gt, void=None) -> float:
    """Foreground IoU of one image; 1.0 when both masks are empty."""
    i, u = intersection_union(pred, gt, void)
    return i / u if u else 1.0


def pooled_iou(preds: Iterable, gts: Iterable, voids: Optional[Iterable] = None) -> float:
    """Dataset-level IoU ``Σ|P ∩ G| / Σ|P ∪ G|`` (SegRefiner's BIG/DIS IoU); NaN if Σ union = 0.

    Examples:
        >>> import numpy as np
        >>> a = np.array([[1, 1, 0, 0]]); b = np.array([[1, 0, 0, 0]])
        >>> pooled_iou([a, b], [b, b])  # (1 + 1) / (2 + 1)
        0.6666666666666666
    """
    total_i = total_u = 0
    for p, g, v in _triples(preds, gts, voids):
        i, u = intersection_union(p, g, v)
        total_i += i
        total_u += u
    return total_i / total_u if total_u else float('nan')


def mean_iou(preds: Iterable, gts: Iterable, voids: Optional[Iterable] = None) -> float:
    """Mean over images of the per-image IoU (:func:`iou`); NaN for no images."""
    vals = [iou(p, g, v) for p, g, v in _triples(preds, gts, voids)]
    return float(np.mean(vals)) if vals else float('nan')
