# Copyright (c) OpenMMLab. All rights reserved.
"""Shared helpers of the evaluation functions: input conversion, binarisation, kernels, ROIs.

Binarisation rule (:func:`binarize`), used by every function of this package:

* ``bool`` arrays are taken as they are.
* With an explicit ``threshold``, a pixel is foreground iff ``value >= threshold``.
* Otherwise the scale is detected per array from its maximum: if ``max > 1`` the data is taken as
  0–255 (8-bit PNG) and a pixel is foreground iff ``value >= 128`` (the rule of SegRefiner's
  ``eval_miou.py``; CascadePSP's ``eval_post.py`` uses ``> 128``, which only differs on pixels
  that are exactly 128); else the data is taken as 0/1 (labels or probabilities) and a pixel is
  foreground iff ``value >= 0.5`` (for integer 0/1 data: iff it is 1).
* Consequence of the detection: a 0–255 image whose values are only 0 and 1 is read as 0/1, so
  the 1s count as foreground. Pass ``threshold=128`` for data known to be 8-bit images (the
  evaluation scripts do).

Masks may be numpy arrays or torch tensors, of shape (H, W) or (1, H, W) (mmseg's ``PixelData``).
"""
import math
from functools import lru_cache
from typing import Optional, Tuple

import numpy as np

try:  # torch is optional for the functions
    import torch
except ImportError:  # pragma: no cover
    torch = None

#: Threshold for 0–255 data (SegRefiner's ``>= 128``).
THRESHOLD_255 = 128
#: Threshold for 0/1 data (labels or probabilities).
THRESHOLD_01 = 0.5


def to_numpy(x) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or array-like) as a numpy array (no copy if possible)."""
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_2d(x, name: str = 'mask') -> np.ndarray:
    """Convert to numpy and drop a leading singleton channel: (1, H, W) → (H, W)."""
    a = to_numpy(x)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f'{name} must have shape (H, W) or (1, H, W), got {a.shape}')
    return a


def binarize(mask, threshold: Optional[float] = None) -> np.ndarray:
    """Binarise a mask to a 2-D bool array by the module's rule (see the module docstring).

    Args:
        mask (np.ndarray | torch.Tensor): (H, W) or (1, H, W); bool, 0/1 or 0–255 data.
        threshold (float, optional): foreground iff ``value >= threshold``. ``None`` detects the
            scale: ``>= 128`` when the maximum exceeds 1, else ``>= 0.5``. Ignored for bool input.

    Returns:
        np.ndarray: bool array of shape (H, W).
    """
    a = as_2d(mask)
    if a.dtype == bool:
        return a
    if threshold is None:
        if a.size == 0:
            return np.zeros(a.shape, bool)
        threshold = THRESHOLD_255 if a.max() > 1 else THRESHOLD_01
    return a >= threshold


def check_same_shape(a: np.ndarray, b: np.ndarray, names=('pred', 'gt')) -> None:
    if a.shape != b.shape:
        raise ValueError(f'{names[0]} and {names[1]} must have the same shape, '
                         f'got {tuple(a.shape)} and {tuple(b.shape)}')


# --------------------------------------------------------------------------------------------
# Structuring elements. Both are given by the half-width of each row dy = -r..r.


@lru_cache(maxsize=None)
def disk_halfwidths(radius: int) -> Tuple[int, ...]:
    """Row half-widths of skimage's ``disk(r)``: ``floor(sqrt(r² − dy²))`` (offsets with dx²+dy² ≤ r²)."""
    r = int(radius)
    return tuple(math.isqrt(r * r - dy * dy) for dy in range(-r, r + 1))


@lru_cache(maxsize=None)
def ellipse_halfwidths(radius: int) -> Tuple[int, ...]:
    """Row half-widths of OpenCV's ``getStructuringElement(MORPH_ELLIPSE, (2r+1, 2r+1))``.

    OpenCV rounds: ``round(sqrt(r² − dy²))``. ``sqrt`` of an integer is never exactly ``k + 0.5``,
    so in integers: with ``k = isqrt(m)``, ``round(sqrt(m)) = k + (m − k² > k)``.
    """
    r = int(radius)
    out = []
    for dy in range(-r, r + 1):
        m = r * r - dy * dy
        k = math.isqrt(m)
        out.append(k + (m - k * k > k))
    return tuple(out)


def _kernel_from_halfwidths(halfwidths) -> np.ndarray:
    r = (len(halfwidths) - 1) // 2
    k = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
    for i, hw in enumerate(halfwidths):
        k[i, r - hw:r + hw + 1] = 1
    return k


@lru_cache(maxsize=None)
def _disk_kernel(radius: int) -> np.ndarray:
    k = _kernel_from_halfwidths(disk_halfwidths(radius))
    k.setflags(write=False)
    return k


@lru_cache(maxsize=None)
def _ellipse_kernel(radius: int) -> np.ndarray:
    k = _kernel_from_halfwidths(ellipse_halfwidths(radius))
    k.setflags(write=False)
    return k


def disk_kernel(radius: int) -> np.ndarray:
    """skimage-style disk (DAVIS' structuring element), uint8 (2r+1, 2r+1). r=2 has 13 pixels."""
    return _disk_kernel(_check_radius(radius)).copy()


def ellipse_kernel(radius: int) -> np.ndarray:
    """OpenCV ellipse kernel (CascadePSP's mBA), uint8 (2r+1, 2r+1). r=2 has 17 pixels."""
    return _ellipse_kernel(_check_radius(radius)).copy()


def _check_radius(radius) -> int:
    r = int(radius)
    if r != radius or r < 0:
        raise ValueError(f'radius must be a non-negative integer, got {radius}')
    return r


# --------------------------------------------------------------------------------------------
# Regions of interest: crop work to where a mask is not constant.


def bbox(mask: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Bounding box ``(y0, y1, x0, x1)`` (half-open) of the True pixels, or None when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def expand_box(box, margin: int, shape) -> Tuple[int, int, int, int]:
    """Grow a half-open box by ``margin`` on each side, clipped to ``shape``."""
    y0, y1, x0, x1 = box
    h, w = shape
    return max(y0 - margin, 0), min(y1 + margin, h), max(x0 - margin, 0), min(x1 + margin, w)


def union_box(a, b):
    """Smallest box containing both (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def edge_box(mask: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Bounding box of both pixels of every 4-adjacent pair with different values (None if constant).

    Anything computed from a window that needs both values inside it (a morphological gradient)
    is zero farther than the window's radius from this box.
    """
    h, w = mask.shape
    box = None
    if w > 1:
        d = mask[:, 1:] != mask[:, :-1]
        b = bbox(d)
        if b is not None:
            box = (b[0], b[1], b[2], b[3] + 1)
    if h > 1:
        d = mask[1:, :] != mask[:-1, :]
        b = bbox(d)
        if b is not None:
            box = union_box(box, (b[0], b[1] + 1, b[2], b[3]))
    return box
