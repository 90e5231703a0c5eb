"""Object-centred crop (SegRefiner's ``LoadObjectData``; ``docs/segrefiner.md``, 'LR training
(LVIS objects)'), and
:func:`apply_crop`, which every crop transform uses to apply its box."""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from .coarse_mask import BBox, mask_bbox


def apply_crop(results: dict, box: BBox) -> dict:
    """Crop ``img`` and every key of ``seg_fields`` to ``box`` (in place).

    Args:
        results (dict): pipeline result dict.
        box (tuple[int, int, int, int]): ``(x1, y1, x2, y2)``, exclusive ``x2, y2``.

    Returns:
        dict: ``results`` with ``img_shape`` and ``crop_bbox`` set.
    """
    x1, y1, x2, y2 = box
    results['img'] = results['img'][y1:y2, x1:x2, ...]
    for key in results.get('seg_fields', []):
        results[key] = results[key][y1:y2, x1:x2, ...]
    results['img_shape'] = results['img'].shape[:2]
    results['crop_bbox'] = (x1, y1, x2, y2)
    return results


class _BoxCrop(BaseTransform):
    """Base of the crop transforms: :meth:`crop_bbox` picks the box, :func:`apply_crop` crops
    ``img`` and every seg field to it."""

    def crop_bbox(self, results: dict) -> BBox:
        """The crop box ``(x1, y1, x2, y2)`` for ``results``, exclusive ``x2, y2``."""
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Crop ``img`` and every seg field to :meth:`crop_bbox`.

        Args:
            results (dict): result dict.

        Returns:
            dict: the cropped results with ``img_shape`` and ``crop_bbox`` set.
        """
        return apply_crop(results, self.crop_bbox(results))


def _crop_span(low: int, high: int, size: int, pad: int, random_shift: bool) -> Tuple[int, int]:
    """Crop interval along one axis that contains ``[low, high)``.

    Args:
        low (int): first object pixel along the axis.
        high (int): one past the last object pixel.
        size (int): image extent along the axis.
        pad (int): total margin added to the object extent (clipped to the image).
        random_shift (bool): draw the start uniformly among all starts whose crop contains the
            object (numpy's global RNG); otherwise centre the object.

    Returns:
        tuple[int, int]: ``(start, end)``, end exclusive.
    """
    length = min(high - low + pad, size)
    first, last = max(0, high - length), min(low, size - length)
    if random_shift:
        start = np.random.randint(first, last + 1)
    else:
        start = min(max(low - (length - (high - low)) // 2, first), last)
    return int(start), int(start) + length


@TRANSFORMS.register_module()
class ObjectCrop(_BoxCrop):
    """Crop the image and all seg maps around the object, with a margin.

    The crop has size ``(box_h + pad, box_w + pad)`` (clipped to the image), where the box is
    the tight box of the foreground of ``results[mask_key]``. With ``random_shift`` (training)
    the crop position is drawn uniformly, per axis, among the positions where the crop still
    contains the whole box, so the margin is split randomly between the two sides; without it
    (testing) the box is centred. An empty mask leaves the sample uncropped. The random draw uses
    numpy's global state, as mmseg's transforms do.

    Required Keys:

    - img
    - ``mask_key`` (default ``gt_seg_map``)
    - seg_fields

    Modified Keys:

    - img
    - img_shape
    - every key in ``seg_fields``

    Added Keys:

    - crop_bbox (tuple[int, int, int, int]): ``(x1, y1, x2, y2)`` of the crop in the input,
      exclusive ``x2, y2``

    Args:
        pad (int): total margin in pixels added to the box height and width. Defaults to 40.
        random_shift (bool): random (True) or centred (False) placement. Defaults to True.
        mask_key (str): results key of the mask whose box is used, e.g. ``'coarse_seg_map'`` at
            test time, when there is no GT. Defaults to ``'gt_seg_map'``.
    """

    def __init__(self,
                 pad: int = 40,
                 random_shift: bool = True,
                 mask_key: str = 'gt_seg_map') -> None:
        assert pad >= 0, f'pad must be >= 0, got {pad}'
        self.pad = pad
        self.random_shift = random_shift
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
        y1, y2 = _crop_span(box[1], box[3], h, self.pad, self.random_shift)
        x1, x2 = _crop_span(box[0], box[2], w, self.pad, self.random_shift)
        return x1, y1, x2, y2

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(pad={self.pad}, '
                f'random_shift={self.random_shift}, mask_key={self.mask_key!r})')
