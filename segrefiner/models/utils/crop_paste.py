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


def change_weight(prob: Tensor, model_mask: Tensor, threshold: float = 0.5) -> Tensor:
    """Where a refinement changed its mask input: 1 on the pixels whose decision
    (``prob >= threshold``) differs from ``model_mask`` and on their 8 neighbours, else 0.

    Args:
        prob (Tensor): (C, h, w) refined probability.
        model_mask (Tensor): (C, h, w) 0/1 mask that the refinement started from.
        threshold (float): foreground threshold.

    Returns:
        Tensor: (C, h, w) float32 weight.
    """
    changed = ((prob >= threshold) != (model_mask >= 0.5)).float()
    return F.max_pool2d(changed, 3, stride=1, padding=1)


def paste_residual(coarse: Tensor, prob: Tensor, model_mask: Tensor, box: Box,
                   threshold: float = 0.5) -> Tensor:
    """Apply a refined crop to the native-resolution coarse mask as a change.

    The result is ``coarse + w · (paste(prob) − coarse)`` with ``w`` the pasted
    :func:`change_weight`: where the refinement kept the model-size mask that it was given
    (``model_mask``, the :func:`crop_resize` of ``coarse``), the coarse mask comes back pixel
    for pixel, with the detail that the resampling to the model size lost; where it changed
    the decision (and one model pixel around), the refined crop is pasted as
    :func:`paste_prob` does everywhere.

    Args:
        coarse (Tensor): (H, W) bool/0-1 coarse mask, zero outside ``box``.
        prob (Tensor): (1, h, w) refined probability crop.
        model_mask (Tensor): (1, h, w) 0/1 mask crop the refinement started from.
        box (tuple): (x1, y1, x2, y2), end-exclusive.
        threshold (float): foreground threshold of the change.

    Returns:
        Tensor: (H, W) float32 probability.
    """
    result = coarse.to(torch.float32, copy=True)
    values, region = _residual_region(coarse, prob, model_mask, box, threshold)
    result[region] = values
    return result


def _residual_region(coarse: Tensor, prob: Tensor, model_mask: Tensor, box: Box,
                     threshold: float) -> Tuple[Tensor, tuple]:
    """:func:`paste_residual` over the region around ``box`` (:func:`paste_region`): the
    float32 values there and the region's (rows, cols) slices."""
    weight, region = paste_region(change_weight(prob, model_mask, threshold), box,
                                  *coarse.shape)
    pasted, _ = paste_region(prob, box, *coarse.shape)
    base = coarse[region].float()
    return base + weight * (pasted - base), region


def paste_mask(target: Tensor, prob: Tensor, box: Box, threshold: float,
               model_mask: Optional[Tensor] = None) -> None:
    """Paste a probability crop into a boolean mask, in place.

    The mask becomes ``prob >= threshold`` resampled into ``box``
    (:func:`paste_region`, the inverse geometry of :func:`crop_resize`) and False elsewhere;
    no full-size float canvas is made. With ``model_mask`` (the model-size mask crop that the
    refinement started from) the crop is applied as a change to the coarse mask that
    ``target`` holds (:func:`paste_residual`, restricted to the box's region).

    Args:
        target (Tensor): (H, W) bool mask, overwritten (with ``model_mask``: the coarse
            mask, zero outside ``box``).
        prob (Tensor): (1, h, w) probability crop.
        box (tuple): (x1, y1, x2, y2), end-exclusive, in ``target``'s pixels.
        threshold (float): foreground threshold.
        model_mask (Tensor, optional): (1, h, w) 0/1 mask crop.
    """
    if model_mask is None:
        pasted, region = paste_region(prob, box, *target.shape)
        target.zero_()
        target[region] = pasted >= threshold
        return
    values, region = _residual_region(target, prob, model_mask, box, threshold)
    target[region] = values >= threshold
