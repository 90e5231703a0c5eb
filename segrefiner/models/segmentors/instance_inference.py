"""``'instance'`` inference mode of the :class:`Refiner`: refine every instance of an image.

SegRefiner's instance wrapper (``docs/segrefiner.md``, 'Instance mode') refines a detector's
masks one object at a time:

1. masks with fewer than ``area_thr`` pixels (512 in SegRefiner) pass through unchanged;
2. each other mask's tight box, padded by ``pad_width`` (20) px per side and clipped to the
   image, is cut out of the image and the mask and resized to ``model_size``² (bilinear; the
   mask is re-binarised at 0.5);
3. the crops of all instances of all images of the batch are refined with ``steps`` reverse
   steps, ``batch_max`` crops per denoiser call;
4. each probability crop is pasted back into its box with mmdet's mask paste (bilinear
   ``grid_sample``, ``align_corners=False``) and thresholded; the mask is empty outside its box.

The detector's boxes, scores and labels are kept. Memory stays bounded for images with
hundreds of detections: crops are made ``batch_max`` at a time, and each result is pasted into
its box region of a boolean mask (no full-size float canvas per instance).
"""
from typing import List, Optional, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmseg.utils import SampleList
from torch import Tensor

from ..utils import crop_resize, mask_box, paste_region
from ..utils.crop_paste import Box
from .refiner import Refiner, register_inference_mode


def paste_mask(target: Tensor, prob: Tensor, box: Box, threshold: float) -> None:
    """Paste a probability crop into a boolean mask, in place.

    The mask becomes ``prob >= threshold`` resampled into ``box`` (mmdet's bilinear paste, the
    inverse geometry of :func:`~segrefiner.models.utils.crop_resize`) and False elsewhere.

    Args:
        target (Tensor): (H, W) bool mask, overwritten.
        prob (Tensor): (1, h, w) probability crop.
        box (tuple): (x1, y1, x2, y2), end-exclusive, in ``target``'s pixels.
        threshold (float): foreground threshold.
    """
    pasted, region = paste_region(prob, box, *target.shape)
    target.zero_()
    target[region] = pasted >= threshold


def _instances(sample) -> InstanceData:
    if 'coarse_instances' not in sample:
        raise KeyError('the instance mode needs samples with coarse_instances (masks, bboxes, '
                       'scores, labels); use LoadCoarseInstances and PackInstanceRefineInputs: '
                       f'{sample.metainfo.get("img_path")}')
    instances = sample.coarse_instances
    if 'masks' not in instances:
        raise KeyError(f'coarse_instances without masks: {sample.metainfo.get("img_path")}')
    return instances


@register_inference_mode('instance')
def instance_inference(model: Refiner, inputs: Tensor, data_samples: SampleList,
                       cfg: ConfigDict,
                       generator: Optional[torch.Generator] = None) -> SampleList:
    """Refine each sample's ``coarse_instances`` (module docstring for the steps).

    ``test_cfg`` keys (``cfg``): ``model_size`` (crop side), ``steps``, ``pad_width``,
    ``batch_max``, ``area_thr`` (minimal mask area to refine; SegRefiner: 512),
    ``autocast_dtype`` and ``channels_last`` (see :class:`Refiner`).

    Args:
        model (Refiner): the refiner.
        inputs (Tensor): (B, C, H, W) normalised images (padded bottom-right).
        data_samples (list[SegDataSample]): samples with ``coarse_instances``: ``masks``
            (N, h, w) bool at the sample's ``img_shape``, ``bboxes`` (N, 4), ``scores`` (N,),
            ``labels`` (N,).
        cfg (ConfigDict): the merged test config.
        generator (torch.Generator, optional): source of the reverse-process draws.

    Returns:
        list[SegDataSample]: each with ``pred_instances``: the refined ``masks`` (N, h, w)
        bool and the coarse ``bboxes``, ``scores`` and ``labels``.
    """
    size = (cfg.model_size, cfg.model_size)
    threshold = model.decode_head.threshold
    images: List[Tensor] = []
    coarse_masks: List[Tensor] = []
    refined_masks: List[Tensor] = []
    jobs: List[Tuple[int, int, Box]] = []  # (sample, instance, box) to refine
    for i, sample in enumerate(data_samples):
        masks = _instances(sample).masks.bool()
        img_shape = tuple(sample.metainfo.get('img_shape', inputs.shape[-2:]))
        if tuple(masks.shape[-2:]) != img_shape:
            raise ValueError(f'coarse instance masks of size {tuple(masks.shape[-2:])} do not '
                             f'match the image size {img_shape} of '
                             f'{sample.metainfo.get("img_path")}; the instance mode needs a '
                             'test pipeline without resizing')
        areas = masks.flatten(1).sum(1)
        for j in torch.nonzero(areas >= max(cfg.area_thr, 1)).flatten().tolist():
            jobs.append((i, j, mask_box(masks[j], cfg.pad_width)))
        images.append(inputs[i, :, :img_shape[0], :img_shape[1]])
        coarse_masks.append(masks)
        refined_masks.append(masks.clone())
    for start in range(0, len(jobs), cfg.batch_max):
        chunk = jobs[start:start + cfg.batch_max]
        crops = [crop_resize(images[i], coarse_masks[i][j], box, size) for i, j, box in chunk]
        probs = model.refine_crops(torch.cat([img for img, _ in crops]),
                                   torch.cat([mask for _, mask in crops]), cfg=cfg,
                                   generator=generator)
        for (i, j, box), prob in zip(chunk, probs):
            paste_mask(refined_masks[i][j], prob, box, threshold)
    for sample, masks in zip(data_samples, refined_masks):
        coarse = sample.coarse_instances
        sample.pred_instances = InstanceData(masks=masks, bboxes=coarse.bboxes,
                                             scores=coarse.scores, labels=coarse.labels)
    return data_samples
