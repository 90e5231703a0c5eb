"""Inference with a ``QuerySegmentor``: the queries' outputs of an image, and the seed's
class cut-out (``segment_class_on_image``)."""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .diffseg import SizeType, inference_pipeline
from .inference import ImageType, load_image


@torch.no_grad()
def query_outputs(model: torch.nn.Module, image: ImageType,
                  image_size: Optional[SizeType] = None) -> Tuple[Tensor, Tensor]:
    """The last decoder layer's class logits and mask logits of one image, at its size.

    Args:
        model (nn.Module): a ``QuerySegmentor`` from :func:`segrefiner.apis.init_refiner`
            (in eval mode, with ``model.cfg``).
        image (str | Path | np.ndarray): image file or (H, W, 3) uint8 BGR array.
        image_size (int | tuple[int, int], optional): model input (H, W); the config's
            ``test_pipeline`` resize when None.

    Returns:
        tuple[Tensor, Tensor]: ``pred_logits`` (Q, C + 1) and ``pred_masks`` (Q, H, W) mask
        logits resized bilinearly to the image's (H, W), float32 on the CPU.

    Raises:
        FileNotFoundError: the image file does not exist.
        ValueError: the file is not a readable image.
    """
    array = load_image(image)
    data = inference_pipeline(model.cfg, image_size, from_array=True)(dict(img=array))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    outputs = model(batch['inputs'], mode='tensor')
    masks = F.interpolate(outputs['pred_masks'].float(), size=array.shape[:2], mode='bilinear',
                          align_corners=False)
    return outputs['pred_logits'][0].float().cpu(), masks[0].cpu()


def segment_class_on_image(pred_logits: Tensor, pred_masks: Tensor, image: np.ndarray,
                           class_id: int, score_thr: float = 0.5,
                           mask_thr: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """Cut one class out of an image (the seed's post-processing).

    The queries whose most probable class (softmax over the C + 1 classes) is ``class_id``
    with a probability >= ``score_thr`` are kept; their mask probabilities (sigmoid) are
    combined by a per-pixel max and thresholded (``> mask_thr``). Pixels outside the mask are
    black. No query kept gives an empty mask and a black image.

    Args:
        pred_logits (Tensor): (Q, C + 1) class logits (the last class "no object"), or
            (1, Q, C + 1).
        pred_masks (Tensor): (Q, H, W) mask logits at the image's size, or (1, Q, H, W).
        image (np.ndarray): (H, W, 3) image (any channel order and dtype; returned alike).
        class_id (int): the class to cut out, in [0, C).
        score_thr (float): least class probability of a kept query, in [0, 1].
        mask_thr (float): mask probability above which a pixel is in the mask.

    Returns:
        tuple[np.ndarray, np.ndarray]: the cut-out (H, W, 3), ``image``'s dtype, and the
        (H, W) bool mask.

    Raises:
        ValueError: shapes that do not fit (the masks' size is not the image's, or the queries
            differ), or ``class_id`` / ``score_thr`` out of range.
    """
    if pred_logits.dim() == 3:
        pred_logits = pred_logits[0]
    if pred_masks.dim() == 4:
        pred_masks = pred_masks[0]
    if pred_logits.dim() != 2 or pred_masks.dim() != 3 or \
            pred_logits.shape[0] != pred_masks.shape[0]:
        raise ValueError(f'pred_logits (Q, C + 1) and pred_masks (Q, H, W) must have the same '
                         f'queries, got {tuple(pred_logits.shape)} and {tuple(pred_masks.shape)}')
    if image.ndim != 3 or tuple(image.shape[:2]) != tuple(pred_masks.shape[-2:]):
        raise ValueError(f'the masks are {tuple(pred_masks.shape[-2:])}, the image is '
                         f'{tuple(image.shape)}: resize the masks to the image (H, W)')
    num_classes = pred_logits.shape[1] - 1
    if not 0 <= class_id < num_classes:
        raise ValueError(f'class_id must be in [0, {num_classes}), got {class_id}')
    if not 0 <= score_thr <= 1:
        raise ValueError(f'score_thr must be in [0, 1], got {score_thr}')
    scores, labels = pred_logits.float().softmax(dim=-1).max(dim=-1)
    keep = (labels == class_id) & (scores >= score_thr)
    if keep.any():
        combined = pred_masks[keep].float().sigmoid().amax(dim=0)
        mask = (combined > mask_thr).cpu().numpy()
    else:
        mask = np.zeros(image.shape[:2], dtype=bool)
    return np.where(mask[..., None], image, np.zeros_like(image)), mask
