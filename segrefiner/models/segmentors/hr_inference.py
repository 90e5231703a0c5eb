"""``'hr'`` inference mode of the :class:`Refiner`: a global pass, then native-resolution patches.

SegRefiner's HR wrapper (``docs/segrefiner.md``, 'HR mode') refines masks of 2K-5K px images:

1. the image and its coarse mask are resized to ``model_size``² and refined with the first
   ``global_steps`` reverse steps (indices 5..1), which also yields the cumulative
   fine-probability map F: low F marks pixels the network was unsure about;
2. the global result, resized back, is binarised into ``M_g``;
3. every grid pixel with ``F < fine_prob_thr · max(F)`` proposes a ``model_size``² box at
   native resolution centred on it (score ``1 − F``), shifted inside the image; greedy NMS
   (``mmcv.ops.nms``, IoU ``iou_thr``) keeps a spread-out subset, and only boxes where ``M_g``
   has both foreground and background remain;
4. each patch (native image + ``M_g`` crop) is refined with the remaining step (index 0), in
   batches of ``batch_max``; overlapping patch probabilities are averaged, and outside all
   patches the global result is kept.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import nms
from mmengine.config import ConfigDict
from mmseg.utils import SampleList
from torch import Tensor

from ..utils import crop_resize
from .refiner import Refiner, register_inference_mode

#: Defaults of the HR-only ``test_cfg`` keys (``model_size``, ``batch_max``, ``area_thr``,
#: ``autocast_dtype`` and ``channels_last`` are the Refiner's; see
#: :func:`global_local_inference`).
HR_DEFAULTS = dict(
    global_steps=5, fine_prob_thr=0.9, iou_thr=0.3, max_patches=None, antialias=True,
    pass_through=True)


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


def _hr_cfg(cfg: ConfigDict, num_timesteps: int) -> ConfigDict:
    hr_cfg = ConfigDict(HR_DEFAULTS)
    hr_cfg.update(cfg)
    if not 1 <= hr_cfg.global_steps < num_timesteps:
        raise ValueError(f'test_cfg.global_steps must lie in [1, {num_timesteps - 1}], got '
                         f'{hr_cfg.global_steps}')
    if not 0 <= hr_cfg.iou_thr <= 1:
        raise ValueError(f'test_cfg.iou_thr must lie in [0, 1], got {hr_cfg.iou_thr}')
    if hr_cfg.max_patches is not None and hr_cfg.max_patches < 0:
        raise ValueError(f'test_cfg.max_patches must be None or >= 0, got '
                         f'{hr_cfg.max_patches}')
    return hr_cfg


@register_inference_mode('hr')
def global_local_inference(model: Refiner,
                           inputs: Tensor,
                           data_samples: SampleList,
                           cfg: ConfigDict,
                           generator: Optional[torch.Generator] = None) -> SampleList:
    """SegRefiner's HR refinement: global pass at ``model_size``², then native-res patches.

    The steps are listed in the module docstring. Improvements over SegRefiner (its exact
    behaviour is one setting away): tiny masks pass through instead of becoming empty
    (``pass_through``), the global resampling is anti-aliased (``antialias``), the number of
    patches can be capped (``max_patches``), and images smaller than ``model_size`` work:
    the patch side becomes ``p = min(model_size, H, W)`` and a p² patch is resized to the model
    size and back (bilinear); patches of images at least ``model_size`` in both dimensions are
    never resampled. The global passes of a batch's samples run batched, and so do all their
    patches.

    ``test_cfg`` keys (``cfg``):

    - ``model_size`` (int, Refiner default 256): global view side and patch side.
    - ``global_steps`` (int, 5): reverse steps of the global pass (indices T−1 … T−5); the
      patches take the remaining ones (index 0).
    - ``fine_prob_thr`` (float, 0.9): a grid pixel proposes a patch if its F is below this
      fraction of max(F).
    - ``iou_thr`` (float, 0.3): NMS IoU threshold between patch boxes (SegRefiner's configs;
      its code default is 0.2). Two patches along a boundary end up ~``S (1−iou)/(1+iou)`` px
      apart (~138 px at 256², 0.3).
    - ``max_patches`` (int | None, None): keep at most this many patches per image, the most
      uncertain first; None keeps all (SegRefiner).
    - ``antialias`` (bool, True): anti-aliased bilinear down-sampling of the image and mask and
      bilinear up-sampling of the global result; False: nearest everywhere (SegRefiner).
    - ``area_thr`` (int, Refiner default 0; the HR configs set SegRefiner's 128): a coarse
      mask with at most this many foreground pixels is not refined.
    - ``pass_through`` (bool, True): such masks are returned unchanged; False returns an empty
      mask, as SegRefiner does.
    - ``batch_max`` (int, Refiner default 32): samples per denoiser call.
    - ``autocast_dtype``, ``channels_last``: see :class:`Refiner`. ``steps`` is not used.

    Args:
        model (Refiner): the refiner.
        inputs (Tensor): (B, C, H, W) normalised, padded images.
        data_samples (list[SegDataSample]): samples with ``coarse_sem_seg`` and ``img_shape``.
        cfg (ConfigDict): the merged test config.
        generator (torch.Generator, optional): source of the reverse-process draws.

    Returns:
        list[SegDataSample]: the samples with ``seg_logits`` and ``pred_sem_seg``.
    """
    diffusion = model.decode_head.diffusion
    cfg = _hr_cfg(cfg, diffusion.num_timesteps)
    chain = diffusion.step_indices(diffusion.num_timesteps)
    global_indices, local_indices = chain[:cfg.global_steps], chain[cfg.global_steps:]
    size = cfg.model_size
    coarse_all = model.stack_field(data_samples, 'coarse_sem_seg')

    images: List[Tensor] = []
    masks: List[Tensor] = []
    probs_full: List[Tensor] = []
    refined: List[int] = []
    for i, sample in enumerate(data_samples):
        height, width = sample.metainfo.get('img_shape', inputs.shape[-2:])
        mask = coarse_all[i, 0, :height, :width] > 0
        images.append(inputs[i, :, :height, :width])
        masks.append(mask)
        prob = mask.float()  # the result of masks that are not refined
        if int(mask.sum()) > cfg.area_thr:
            refined.append(i)
        elif not cfg.pass_through:
            prob.zero_()
        probs_full.append(prob)

    if refined:
        # global pass: every sample's whole image at size², batched
        views = [resize_global(images[i], masks[i], size, cfg.antialias) for i in refined]
        global_probs, fine_probs = model.reverse_process(
            torch.cat([v[0] for v in views]), torch.cat([v[1] for v in views]),
            global_indices, cfg, generator)
        # patch proposals on each sample's uncertain pixels
        global_masks, patches = {}, []
        for n, i in enumerate(refined):
            shape = tuple(masks[i].shape)
            probs_full[i] = upsample_prob(global_probs[n, 0], shape, cfg.antialias)
            global_masks[i] = probs_full[i] >= model.decode_head.threshold
            boxes = propose_patches(fine_probs[n, 0], shape, min(size, *shape),
                                    cfg.fine_prob_thr, cfg.iou_thr)
            boxes = boxes[mixed_patches(global_masks[i], boxes)][:cfg.max_patches]
            patches += [(i, box) for box in boxes.tolist()]
        # local pass over all patches, batch_max at a time (bounded memory), then the merge
        patch_probs = {i: [] for i in refined}
        for start in range(0, len(patches), cfg.batch_max):
            chunk = patches[start:start + cfg.batch_max]
            crops = [crop_patch(images[i], global_masks[i], box, size) for i, box in chunk]
            probs, _ = model.reverse_process(torch.cat([c[0] for c in crops]),
                                             torch.cat([c[1] for c in crops]), local_indices,
                                             cfg, generator)
            for (i, box), prob in zip(chunk, probs):
                side = box[2] - box[0]
                if side != size:
                    prob = F.interpolate(prob[None], size=(side, side), mode='bilinear',
                                         align_corners=False)[0]
                patch_probs[i].append((prob[0], box))
        for i, done in patch_probs.items():
            if done:
                probs_full[i] = merge_patches(probs_full[i], *zip(*done))

    for sample, prob in zip(data_samples, probs_full):
        model.set_prediction(sample, prob, model.decode_head.threshold)
    return data_samples
