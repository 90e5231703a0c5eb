"""Geometry of the refiner's ``'hr'`` mode: the global view, patch proposals and the merge.

See ``docs/segrefiner.md``, 'HR mode', and :meth:`Refiner.hr_inference
<segrefiner.models.segmentors.Refiner.hr_inference>`.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import nms
from torch import Tensor

from .crop_paste import crop_resize


def resize_global(img: Tensor, mask: Tensor, size: int,
                  antialias: bool = True) -> Tuple[Tensor, Tensor]:
    """The global view: the whole image and mask resized to ``size``².

    Args:
        img (Tensor): (C, H, W) normalised image.
        mask (Tensor): (H, W) bool coarse mask.
        size (int): output side.
        antialias (bool): bilinear resampling with an anti-aliasing filter for both (the mask
            re-binarised at 0.5); False: nearest for both, as SegRefiner.

    Returns:
        tuple[Tensor, Tensor]: (1, C, size, size) image and (1, 1, size, size) 0/1 mask of
        the image's dtype.
    """
    mask = mask[None, None].to(img.dtype)
    if antialias:
        kwargs = dict(mode='bilinear', align_corners=False, antialias=True)
        img_small = F.interpolate(img[None], size=(size, size), **kwargs)
        mask_small = (F.interpolate(mask, size=(size, size), **kwargs) >= 0.5).to(img.dtype)
    else:
        img_small = F.interpolate(img[None], size=(size, size), mode='nearest')
        mask_small = F.interpolate(mask, size=(size, size), mode='nearest')
    return img_small, mask_small


def upsample_prob(prob: Tensor, shape: Tuple[int, int], antialias: bool = True) -> Tensor:
    """Resize the global (S, S) probability to the image's (H, W): bilinear, or nearest
    (``antialias=False``, SegRefiner's blocky result)."""
    mode = dict(mode='bilinear', align_corners=False) if antialias else dict(mode='nearest')
    return F.interpolate(prob[None, None].float(), size=shape, **mode)[0, 0]


def propose_patches(fine_probs: Tensor, shape: Tuple[int, int], patch_size: int,
                    fine_prob_thr: float = 0.9, iou_thr: float = 0.3) -> Tensor:
    """Patch boxes around the uncertain pixels of the global pass.

    Every grid pixel (y, x) of F with ``F < fine_prob_thr · max(F)`` is mapped to the image
    pixel ``(int(y · H / S), int(x · W / S))`` and proposes the ``patch_size``² box centred
    there, shifted to lie inside the image, scored ``1 − F``. Greedy NMS with ``iou_thr``
    keeps a subset.

    Args:
        fine_probs (Tensor): (S, S) cumulative fine probability of the global pass.
        shape (tuple[int, int]): image (H, W); ``patch_size <= min(H, W)``.
        patch_size (int): box side in image pixels.
        fine_prob_thr (float): candidate threshold relative to ``max(F)``.
        iou_thr (float): NMS IoU threshold.

    Returns:
        Tensor: (K, 4) int64 boxes (x1, y1, x2, y2), end-exclusive, by decreasing score.
    """
    height, width = shape
    grid_h, grid_w = fine_probs.shape
    fine_probs = fine_probs.float()
    ys, xs = torch.nonzero(fine_probs < fine_prob_thr * fine_probs.max(), as_tuple=True)
    if ys.numel() == 0:
        return torch.zeros((0, 4), dtype=torch.long, device=fine_probs.device)
    scores = 1 - fine_probs[ys, xs]
    centre_y = torch.div(ys * height, grid_h, rounding_mode='floor')
    centre_x = torch.div(xs * width, grid_w, rounding_mode='floor')
    y1 = (centre_y - patch_size // 2).clamp(0, height - patch_size)
    x1 = (centre_x - patch_size // 2).clamp(0, width - patch_size)
    boxes = torch.stack([x1, y1, x1 + patch_size, y1 + patch_size], dim=1)
    _, keep = nms(boxes.float(), scores, iou_thr)
    return boxes[keep]


def mixed_patches(mask: Tensor, boxes: Tensor) -> Tensor:
    """Which boxes of a (H, W) bool mask hold both foreground and background: (K,) bool."""
    keep = [bool(crop.any()) and not bool(crop.all())
            for crop in (mask[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes.tolist())]
    return torch.tensor(keep, dtype=torch.bool, device=mask.device)


def crop_patch(img: Tensor, mask: Tensor, box: Sequence[int],
               size: int) -> Tuple[Tensor, Tensor]:
    """Cut a square patch out of the image and the mask, at the model size.

    A patch of side ``size`` is cut as it is (native resolution); a smaller one (images
    smaller than the model size) is resized bilinearly, the mask re-binarised at 0.5.

    Args:
        img (Tensor): (C, H, W) normalised image.
        mask (Tensor): (H, W) bool mask.
        box (Sequence[int]): (x1, y1, x2, y2) of a square patch.
        size (int): the model size.

    Returns:
        tuple[Tensor, Tensor]: (1, C, size, size) image and (1, 1, size, size) 0/1 mask.
    """
    x1, y1, x2, y2 = box
    if x2 - x1 == size:
        return img[None, :, y1:y2, x1:x2], mask[None, None, y1:y2, x1:x2].to(img.dtype)
    return crop_resize(img, mask, tuple(box), (size, size))


def merge_patches(global_prob: Tensor, patch_probs: Sequence[Tensor],
                  boxes: Sequence[Sequence[int]]) -> Tensor:
    """Average the patch probabilities where patches overlap; keep the global one elsewhere.

    Args:
        global_prob (Tensor): (H, W) probability of the global pass.
        patch_probs (Sequence[Tensor]): (p, p) patch probabilities at native resolution.
        boxes (Sequence[Sequence[int]]): their boxes (x1, y1, x2, y2).

    Returns:
        Tensor: (H, W) float32 probability.
    """
    total = torch.zeros_like(global_prob, dtype=torch.float)
    count = torch.zeros_like(total)
    for prob, (x1, y1, x2, y2) in zip(patch_probs, boxes):
        total[y1:y2, x1:x2] += prob
        count[y1:y2, x1:x2] += 1
    return torch.where(count > 0, total / count.clamp(min=1), global_prob.float())


def confident_patches(global_prob: Tensor, shape: Tuple[int, int], boxes: Tensor,
                      conf_thr: float) -> Tensor:
    """Which boxes the global pass was already sure about: (K,) bool.

    A box is confident when every pixel of the global (S, S) probability grid that it
    overlaps has the confidence ``2 |p − 0.5| >= conf_thr``.

    Args:
        global_prob (Tensor): (S, S) probability of the global pass, at its grid.
        shape (tuple[int, int]): image (H, W) the boxes refer to.
        boxes (Tensor): (K, 4) int64 boxes (x1, y1, x2, y2), end-exclusive, image pixels.
        conf_thr (float): confidence in [0, 1].
    """
    height, width = shape
    grid_h, grid_w = global_prob.shape
    confidence = 2 * (global_prob.float() - 0.5).abs()
    keep = []
    for x1, y1, x2, y2 in boxes.tolist():
        rows = slice(y1 * grid_h // height, -(-y2 * grid_h // height))
        cols = slice(x1 * grid_w // width, -(-x2 * grid_w // width))
        keep.append(bool(confidence[rows, cols].min() >= conf_thr))
    return torch.tensor(keep, dtype=torch.bool, device=global_prob.device)
