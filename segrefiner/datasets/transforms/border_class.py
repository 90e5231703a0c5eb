"""A *border* class derived from a binary object mask (the trimap idea of Oxford-IIIT Pets).

The border band of a mask with radius r holds the pixels whose (2r+1)×(2r+1) square window
contains both object and non-object pixels, i.e. ``dilate(mask) != erode(mask)`` with that
square. Across a straight contour the band is 2r pixels wide: r pixels inside the object and r
pixels outside. Pixels outside the image are ignored (OpenCV's default morphology border), so a
mask touching the image edge gets no band along the edge.
"""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


def border_band(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` (Chebyshev distance) of the other side of ``mask``'s contour.

    Args:
        mask (np.ndarray): (H, W) bool or 0/1 object mask.
        radius (int): half-width r >= 1 of the band (band width 2r across a straight edge).

    Returns:
        np.ndarray: (H, W) bool band.

    Example:
        >>> mask = np.zeros((1, 8), bool); mask[0, 4:] = True
        >>> border_band(mask, 1).astype(int)
        array([[0, 0, 0, 1, 1, 0, 0, 0]])
    """
    if radius < 1:
        raise ValueError(f'border radius must be >= 1, got {radius}')
    if mask.ndim != 2:
        raise ValueError(f'mask must be 2-D (H, W), got shape {mask.shape}')
    fg = mask.astype(np.uint8)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(fg, kernel) != cv2.erode(fg, kernel)


def add_border_class(label: np.ndarray, fg_mask: np.ndarray, radius: int, border_label: int,
                     ignore_index: int = 255) -> np.ndarray:
    """Relabel the border band of ``fg_mask`` as ``border_label`` in a copy of ``label``.

    Pixels of ``label`` equal to ``ignore_index`` stay ignored, also inside the band.

    Args:
        label (np.ndarray): (H, W) uint8 label map.
        fg_mask (np.ndarray): (H, W) bool object mask the band is computed from.
        radius (int): band half-width, see :func:`border_band`.
        border_label (int): label of the border class.
        ignore_index (int): label of ignored pixels. Defaults to 255.

    Returns:
        np.ndarray: (H, W) uint8 label map.
    """
    out = label.copy()
    out[border_band(fg_mask, radius) & (label != ignore_index)] = border_label
    return out


@TRANSFORMS.register_module()
class AddBorderClass(BaseTransform):
    """Turn a binary GT (0 background, 1 object) into background / object / border.

    The border band (see :func:`border_band`) of the object pixels gets ``border_label``; other
    pixels keep their label, and ignored pixels (``ignore_index``) stay ignored. Use it after
    :class:`LoadBinaryAnnotations` to give a binary dataset (e.g. the synthetic benchmark) the
    three classes of Oxford-IIIT Pets and COCO-Humans.

    Required Keys:

    - gt_seg_map (np.uint8, (H, W), values 0, 1 and ``ignore_index``)

    Modified Keys:

    - gt_seg_map (values 0, 1, ``border_label`` and ``ignore_index``)

    Args:
        border_radius (int): band half-width r in pixels (band width 2r). Defaults to 2.
        border_label (int): label of the border class. Defaults to 2.
        ignore_index (int): label of ignored pixels. Defaults to 255.
    """

    def __init__(self, border_radius: int = 2, border_label: int = 2,
                 ignore_index: int = 255) -> None:
        if border_radius < 1:
            raise ValueError(f'border_radius must be >= 1, got {border_radius}')
        if border_label in (0, 1, ignore_index):
            raise ValueError(f'border_label must differ from 0, 1 and ignore_index, '
                             f'got {border_label}')
        self.border_radius = border_radius
        self.border_label = border_label
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        """Add the border class to ``results['gt_seg_map']``.

        Args:
            results (dict): result dict with ``gt_seg_map``.

        Returns:
            dict: the dict with the relabelled ``gt_seg_map``.
        """
        label = results['gt_seg_map']
        unexpected = np.setdiff1d(np.unique(label), [0, 1, self.ignore_index])
        if unexpected.size:
            raise ValueError(f'AddBorderClass needs a binary GT (0, 1, {self.ignore_index}); '
                             f'{results.get("seg_map_path")} has {unexpected.tolist()}')
        results['gt_seg_map'] = add_border_class(label.astype(np.uint8), label == 1,
                                                 self.border_radius, self.border_label,
                                                 self.ignore_index)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(border_radius={self.border_radius}, '
                f'border_label={self.border_label}, ignore_index={self.ignore_index})')
