"""Boundary IoU (Cheng et al. 2021; boundary-iou-api / lvis-api ``lvis_challenge_2021``).

Definition (``docs/metrics.md``, 'Boundary IoU'):

1. ``d = int(round(dilation_ratio * sqrt(H² + W²)))``, at least 1: with 0.02, 480×640 → 16,
   427×640 → 15, 1024×1024 → 29, 50×50 → 1.
2. The mask is padded with one ring of zeros and eroded d times with a 3×3 square; that equals one
   erosion by a (2d+1)×(2d+1) square with everything outside the image taken as background. So,
   unlike mBA, the **image edge counts as background**: foreground within d pixels of the border
   belongs to the boundary.
3. ``boundary = mask − eroded``: the foreground pixels within Chebyshev distance d of background
   or of the image edge (an inner band).
4. Boundary IoU of a pair = ``|B(G) ∩ B(P)| / |B(G) ∪ B(P)|``, computed like pycocotools'
   ``maskApi.c``: **0 whenever the intersection is empty**, including when both boundaries are
   empty (both masks empty) — the rule of the reference, which uses ``pycocotools.mask.iou``.

Implementation: a separable square erosion on bit-packed masks (:mod:`.bitmorph`, zero border),
cropped to the rows and words that hold foreground (exact: the masks are zero outside).
"""
from typing import Tuple

import numpy as np

from . import bitmorph as bm
from .utils import binarize, check_same_shape


def boundary_dilation(height: int, width: int, dilation_ratio: float = 0.02) -> int:
    """Band width d in pixels: ``max(1, int(round(dilation_ratio * diagonal)))``."""
    d = int(round(dilation_ratio * np.sqrt(height**2 + width**2)))
    return max(d, 1)


def _boundary_words(words: np.ndarray, d: int, width: int) -> np.ndarray:
    return words & ~bm.erode_square(words, d, width)


def mask_to_boundary(mask, dilation_ratio: float = 0.02) -> np.ndarray:
    """Inner boundary band of a binary mask (bool (H, W)); see the module docstring.

    Args:
        mask: (H, W) or (1, H, W): bool, 0/1 or 0–255 (numpy or torch).
        dilation_ratio (float): band width as a fraction of the image diagonal.
    """
    m = binarize(mask)
    h, w = m.shape
    d = boundary_dilation(h, w, dilation_ratio)
    return bm.unpack(_boundary_words(bm.pack(m), d, w), w)


def boundary_intersection_union(pred, gt, dilation_ratio: float = 0.02,
                                void=None) -> Tuple[int, int]:
    """``(|B(P) ∩ B(G)|, |B(P) ∪ B(G)|)`` of one image; void pixels (if given) are not counted."""
    p = binarize(pred)
    g = binarize(gt)
    check_same_shape(p, g)
    h, w = g.shape
    d = boundary_dilation(h, w, dilation_ratio)
    pw, gw = bm.pack(p), bm.pack(g)
    box = bm.row_word_box(pw | gw)
    if box is None:
        return 0, 0
    # Outside the rows/words holding foreground both masks are 0, exactly like the zero border
    # of the erosion, so the crop changes nothing. Its width in pixels ends at the last word.
    y0, y1, c0, c1 = box
    cw = min(w - c0 * bm.WORD, (c1 - c0) * bm.WORD)
    bp = _boundary_words(pw[y0:y1, c0:c1], d, cw)
    bg = _boundary_words(gw[y0:y1, c0:c1], d, cw)
    inter = bp & bg
    union = bp | bg
    if void is not None:
        v = binarize(void)
        check_same_shape(v, g, ('void', 'gt'))
        keep = ~bm.pack(v)[y0:y1, c0:c1]
        inter &= keep
        union &= keep
    return bm.popcount(inter), bm.popcount(union)


def boundary_iou(pred, gt, dilation_ratio: float = 0.02) -> float:
    """Boundary IoU of a prediction and a GT mask (symmetric in its arguments).

    Args:
        pred, gt: masks (H, W) or (1, H, W): bool, 0/1 or 0–255 (numpy or torch).
        dilation_ratio (float): band width as a fraction of the image diagonal (0.02).

    Returns:
        float: in [0, 1]; 0 when the boundaries do not intersect, also when both are empty.

    Examples:
        >>> import numpy as np
        >>> m = np.zeros((50, 50), bool); m[10:20, 10:20] = True
        >>> boundary_iou(m, m)
        1.0
    """
    inter, union = boundary_intersection_union(pred, gt, dilation_ratio)
    return inter / union if inter > 0 else 0.0
