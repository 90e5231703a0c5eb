"""Object crop of HR training: the whole object plus random margins.

See ``docs/segrefiner.md``, 'HR training (object and patch views)'.
"""
import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from .coarse_mask import BBox, mask_bbox
from .crop import _BoxCrop


@TRANSFORMS.register_module()
class RandomObjectCrop(_BoxCrop):
    """Crop that holds the whole object, each side moved out by an independent random margin.

    With the object's tight box ``[bx1, bx2) × [by1, by2)`` in an image of size (H, W), the crop
    is ``[x1, x2) × [y1, y2)`` with ``x1 ~ U{0..bx1}``, ``x2 ~ U{bx2..W}``, ``y1 ~ U{0..by1}``,
    ``y2 ~ U{by2..H}``, so it always contains the object and may reach the image border on any
    side (SegRefiner draws ``[0, bx1)``, which fails for an object touching the border; the
    inclusive range here does not). A following ``Resize`` squashes it to the model size. An
    empty mask leaves the sample uncropped. Random draws use numpy's global state.

    Compare :class:`ObjectCrop` (LR training), whose margin is a fixed number of pixels.

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
        mask_key (str): results key of the object mask. Defaults to ``'gt_seg_map'``.
    """

    def __init__(self, mask_key: str = 'gt_seg_map') -> None:
        self.mask_key = mask_key

    @cache_randomness
    def crop_bbox(self, results: dict) -> BBox:
        """The crop box for ``results``.

        Args:
            results (dict): result dict with ``self.mask_key``.

        Returns:
            tuple[int, int, int, int]: ``(x1, y1, x2, y2)``, exclusive ``x2, y2``.
        """
        mask = results[self.mask_key]
        h, w = mask.shape[:2]
        box = mask_bbox(mask)
        if box is None:
            return 0, 0, w, h
        bx1, by1, bx2, by2 = box
        x1, y1 = np.random.randint(bx1 + 1), np.random.randint(by1 + 1)
        x2, y2 = np.random.randint(bx2, w + 1), np.random.randint(by2, h + 1)
        return int(x1), int(y1), int(x2), int(y2)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mask_key={self.mask_key!r})'
