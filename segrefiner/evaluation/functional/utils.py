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
    """``x`` (numpy array, torch tensor or array-like) as a numpy array (no copy if possible)."""
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
# Structuring elements, given by the half-width of each row dy = -r..r (the bit-packed
# morphology of :mod:`.bitmorph` works from these).


@lru_cache(maxsize=None)
def disk_halfwidths(radius: int) -> Tuple[int, ...]:
    """Row half-widths of skimage's ``disk(r)``: ``floor(sqrt(r² − dy²))`` (dx² + dy² ≤ r²)."""
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


def disk_kernel(radius: int) -> np.ndarray:
    """skimage-style disk (DAVIS' structuring element), uint8 (2r+1, 2r+1). r=2 has 13 pixels."""
    return _kernel_from_halfwidths(disk_halfwidths(_check_radius(radius)))


def ellipse_kernel(radius: int) -> np.ndarray:
    """OpenCV ellipse kernel (CascadePSP's mBA), uint8 (2r+1, 2r+1). r=2 has 17 pixels.

    Equal to ``cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2r+1, 2r+1))``.
    """
    return _kernel_from_halfwidths(ellipse_halfwidths(_check_radius(radius)))


def _check_radius(radius) -> int:
    r = int(radius)
    if r != radius or r < 0:
        raise ValueError(f'radius must be a non-negative integer, got {radius}')
    return r
