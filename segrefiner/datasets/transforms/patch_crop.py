"""Native-resolution patch crop of HR training (SegRefiner's ``LoadPatchData``).

See ``docs/segrefiner.md``, 'HR training (object and patch views)'.
"""
from typing import Tuple

import cv2
import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from .coarse_mask import BBox
from .crop import _BoxCrop, apply_crop  # noqa: F401  (apply_crop: its former home)


def mixed_windows(mask: np.ndarray, side: int) -> np.ndarray:
    """Which ``side``×``side`` windows of a mask hold both foreground and background.

    Window sums come from one summed-area table (``cv2.integral``), so every position is
    tested in O(1).

    Args:
        mask (np.ndarray): (H, W) mask, non-zero is foreground; ``side <= min(H, W)``.
        side (int): window side.

    Returns:
        np.ndarray: (H - side + 1, W - side + 1) bool; entry (y, x) is the window whose
        top-left pixel is (y, x).
    """
    table = cv2.integral((mask != 0).astype(np.uint8), sdepth=cv2.CV_32S)
    sums = (table[side:, side:] - table[:-side, side:] - table[side:, :-side] +
            table[:-side, :-side])
    return (sums > 0) & (sums < side * side)


@TRANSFORMS.register_module()
class PatchCrop(_BoxCrop):
    """Crop a random square patch at native resolution that holds the object's boundary.

    The patch is ``size``×``size`` pixels, no resizing. Its position is uniform over all
    positions whose GT window contains both foreground and background. SegRefiner draws windows
    until one qualifies, which never ends for an all-foreground or empty GT; here
    ``max_tries`` windows are drawn first (cheap on large objects) and, if none qualifies, the
    position is drawn uniformly among all qualifying windows found with a summed-area table;
    the result has the same distribution. A GT without any qualifying window (empty, full, or
    boundary-free at this size) gets a uniformly random window.

    On an image smaller than ``size`` in either dimension the patch is a square of side
    ``max(1, int(min(H, W) * small_ratio))`` (SegRefiner: half the short side), which a
    following ``Resize`` brings to the model size. Random draws use numpy's global state, as
    mmseg's transforms do.

    Required Keys:

    - img
    - ``mask_key`` (default ``gt_seg_map``)
    - seg_fields

    Modified Keys:

    - img
    - img_shape
    - every key in ``seg_fields``

    Added Keys:

    - crop_bbox (tuple[int, int, int, int]): ``(x1, y1, x2, y2)``, exclusive ``x2, y2``

    Args:
        size (int): patch side in pixels. Defaults to 256.
        small_ratio (float): patch side as a fraction of the short image side when the image
            is smaller than ``size``. Defaults to 0.5.
        max_tries (int): random windows tried before the exact draw. Defaults to 20.
        mask_key (str): results key of the mask whose boundary the patch must hold.
            Defaults to ``'gt_seg_map'``.
    """

    def __init__(self,
                 size: int = 256,
                 small_ratio: float = 0.5,
                 max_tries: int = 20,
                 mask_key: str = 'gt_seg_map') -> None:
        if size < 1:
            raise ValueError(f'size must be >= 1, got {size}')
        if not 0 < small_ratio <= 1:
            raise ValueError(f'small_ratio must be in (0, 1], got {small_ratio}')
        if max_tries < 0:
            raise ValueError(f'max_tries must be >= 0, got {max_tries}')
        self.size = size
        self.small_ratio = small_ratio
        self.max_tries = max_tries
        self.mask_key = mask_key

    def patch_side(self, shape: Tuple[int, int]) -> int:
        """Patch side for an image of ``shape`` (H, W)."""
        short = min(shape)
        if short >= self.size:
            return self.size
        return max(1, int(short * self.small_ratio))

    @cache_randomness
    def crop_bbox(self, results: dict) -> BBox:
        """The patch box for ``results``.

        Args:
            results (dict): result dict with ``self.mask_key``.

        Returns:
            tuple[int, int, int, int]: ``(x1, y1, x2, y2)``, exclusive ``x2, y2``.
        """
        mask = results[self.mask_key]
        h, w = mask.shape[:2]
        side = self.patch_side((h, w))
        num_y, num_x = h - side + 1, w - side + 1
        for _ in range(self.max_tries):
            y, x = np.random.randint(num_y), np.random.randint(num_x)
            window = mask[y:y + side, x:x + side]
            if window.any() and not window.all():
                return x, y, x + side, y + side
        candidates = np.flatnonzero(mixed_windows(mask, side))
        if candidates.size:
            y, x = divmod(int(candidates[np.random.randint(candidates.size)]), num_x)
        else:
            y, x = np.random.randint(num_y), np.random.randint(num_x)
        return x, y, x + side, y + side

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, small_ratio={self.small_ratio}, '
                f'max_tries={self.max_tries}, mask_key={self.mask_key!r})')
