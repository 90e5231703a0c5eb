"""Crop-resize-paste helpers of the refiner's inference modes.

See ``docs/segrefiner.md``, 'Crop mode'.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.structures.mask import mask2bbox
from torch import Tensor

Box = Tuple[int, int, int, int]


def mask_box(mask: Tensor, pad_width: int = 0) -> Optional[Box]:
    """Tight box (x1, y1, x2, y2), end-exclusive, of a (H, W) mask plus ``pad_width``.

    The tight box is mmdet's ``mask2bbox`` (end-exclusive too); the padded box is clipped to
    the mask's extent; ``None`` for an empty mask.
    """
    x1, y1, x2, y2 = (int(v) for v in mask2bbox(mask[None])[0])
    if x2 == 0:  # mask2bbox gives zeros for an empty mask
        return None
    height, width = mask.shape
    return (max(x1 - pad_width, 0), max(y1 - pad_width, 0), min(x2 + pad_width, width),
            min(y2 + pad_width, height))


def crop_resize(img: Tensor, mask: Tensor, box: Box, size: Tuple[int, int]
                ) -> Tuple[Tensor, Tensor]:
    """Cut ``box`` out of an image and its mask and resize both to ``size`` (bilinear).

    Args:
        img (Tensor): (C, H, W) image.
        mask (Tensor): (H, W) bool/0-1 mask.
        box (tuple): (x1, y1, x2, y2), end-exclusive.
        size (tuple): output (h, w).

    Returns:
        tuple[Tensor, Tensor]: (1, C, h, w) image crop and (1, 1, h, w) float mask crop,
        re-binarised at 0.5.
    """
    x1, y1, x2, y2 = box
    img_crop = F.interpolate(img[None, :, y1:y2, x1:x2], size=size, mode='bilinear',
                             align_corners=False)
    mask_crop = F.interpolate(mask[None, None, y1:y2, x1:x2].to(img_crop.dtype), size=size,
                              mode='bilinear', align_corners=False)
    return img_crop, (mask_crop >= 0.5).to(img_crop.dtype)


def paste_region(prob: Tensor, box: Box, height: int, width: int) -> Tuple[Tensor, tuple]:
    """Resample a (1, h, w) probability crop into its box of a (height, width) image.

    Bilinear, with mmdet's mask paste (``grid_sample``, ``align_corners=False``), so it is the
    exact inverse geometry of :func:`crop_resize`.

    Returns:
        tuple[Tensor, tuple]: the float32 probabilities of the region around the box and the
        (rows, cols) slices of that region in the image.
    """
    pasted, region = _do_paste_mask(prob[None].float(), prob.new_tensor([box], dtype=torch.float),
                                    height, width, skip_empty=True)
    return pasted[0], region


def paste_prob(prob: Tensor, box: Box, height: int, width: int) -> Tensor:
    """Paste a (1, h, w) probability crop back into a (height, width) zero canvas
    (:func:`paste_region`)."""
    pasted, region = paste_region(prob, box, height, width)
    canvas = prob.new_zeros((height, width), dtype=torch.float)
    canvas[region] = pasted
    return canvas


def paste_mask(target: Tensor, prob: Tensor, box: Box, threshold: float) -> None:
    """Paste a probability crop into a boolean mask, in place.

    The mask becomes ``prob >= threshold`` resampled into ``box``
    (:func:`paste_region`, the inverse geometry of :func:`crop_resize`) and False elsewhere;
    no full-size float canvas is made.

    Args:
        target (Tensor): (H, W) bool mask, overwritten.
        prob (Tensor): (1, h, w) probability crop.
        box (tuple): (x1, y1, x2, y2), end-exclusive, in ``target``'s pixels.
        threshold (float): foreground threshold.
    """
    pasted, region = paste_region(prob, box, *target.shape)
    target.zero_()
    target[region] = pasted >= threshold
