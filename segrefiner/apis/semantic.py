"""SegRefiner on semantic label maps.

:func:`refine_label_map` runs SegRefiner (:class:`~segrefiner.models.Refiner`) on the output of
an ordinary semantic segmentor: every class's binary mask is refined and the refined masks are
merged back into one label map (:func:`merge_class_probs`). The semantic studies built on it
live in ``tools/analysis_tools/``.
"""
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from .inference import _load_image

ImageType = Union[str, Path, np.ndarray]


def merge_class_probs(probs: np.ndarray, class_ids: Sequence[int], baseline: np.ndarray,
                      threshold: float = 0.5) -> np.ndarray:
    """Merge per-class refined probabilities into a label map.

    Rule: a pixel is *claimed* by the classes whose refined probability is >= ``threshold``;
    among them the highest probability wins (ties: the earlier entry of ``class_ids``). Pixels
    claimed by no class keep the baseline label.

    Args:
        probs (np.ndarray): (K, H, W) refined foreground probability of each class.
        class_ids (Sequence[int]): the K class ids, in the order of ``probs``.
        baseline (np.ndarray): (H, W) baseline label map.
        threshold (float): claim threshold. Defaults to 0.5.

    Returns:
        np.ndarray: (H, W) merged label map, dtype of ``baseline``.

    Example:
        >>> probs = np.array([[[0.9, 0.6, 0.2]], [[0.7, 0.8, 0.1]]])
        >>> merge_class_probs(probs, [1, 2], np.array([[0, 0, 0]]))
        array([[1, 2, 0]])
    """
    if probs.ndim != 3 or probs.shape[0] != len(class_ids):
        raise ValueError(f'probs must be (K={len(class_ids)}, H, W), got {probs.shape}')
    if probs.shape[1:] != baseline.shape:
        raise ValueError(f'probs of size {probs.shape[1:]} do not match the baseline label map '
                         f'of size {baseline.shape}')
    out = baseline.copy()
    if not len(class_ids):
        return out
    best = probs.argmax(axis=0)
    claimed = probs.max(axis=0) >= threshold
    out[claimed] = np.asarray(class_ids, dtype=out.dtype)[best[claimed]]
    return out


@torch.no_grad()
def refine_label_map(refiner: nn.Module, image: ImageType, label_map: np.ndarray,
                     steps: int = 6, class_ids: Optional[Sequence[int]] = None,
                     seed: Optional[int] = None, threshold: float = 0.5,
                     ignore_index: int = 255) -> np.ndarray:
    """SegRefiner on a semantic label map: refine each class's binary mask, then merge.

    Each class's mask ``label_map == c`` is refined by ``refiner`` in its ``'crop'`` mode (the
    mask's box plus a margin, at the model size, ``steps`` reverse steps; all classes of the
    image in one batch) and the refined probabilities are merged by
    :func:`merge_class_probs` (highest refined probability >= ``threshold`` wins; unclaimed
    pixels keep the baseline label).

    Args:
        refiner (nn.Module): a :class:`~segrefiner.models.Refiner` (e.g. from
            :func:`~segrefiner.apis.init_refiner`).
        image (str | Path | np.ndarray): image file or (H, W, 3) uint8 BGR array.
        label_map (np.ndarray): (H, W) integer label map of the image (the baseline output).
        steps (int): reverse diffusion steps, 1..T of the refiner. Defaults to 6.
        class_ids (Sequence[int], optional): the classes to refine. Defaults to every class
            present in ``label_map`` except ``ignore_index``.
        seed (int, optional): seed of the reverse process's draws. Defaults to None.
        threshold (float): claim threshold of the merge. Defaults to 0.5.
        ignore_index (int): label that is never refined. Defaults to 255.

    Returns:
        np.ndarray: (H, W) int64 refined label map.

    Raises:
        ValueError: the label map is not 2-D or differs in size from the image.
    """
    img = _load_image(image)
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f'label_map must be a 2-D (H, W) array, got shape {label_map.shape}')
    if label_map.shape != img.shape[:2]:
        where = f' ({image})' if isinstance(image, (str, Path)) else ''
        raise ValueError(f'label map size {label_map.shape} differs from the image size '
                         f'{img.shape[:2]}{where}')
    label_map = label_map.astype(np.int64)
    if class_ids is None:
        class_ids = [int(c) for c in np.unique(label_map) if c != ignore_index]
    class_ids = [c for c in class_ids if (label_map == c).any()]
    if not class_ids:
        return label_map
    height, width = label_map.shape
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    samples = []
    for c in class_ids:
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
        sample.coarse_sem_seg = PixelData(data=torch.from_numpy(label_map == c)[None].long())
        samples.append(sample)
    data = refiner.data_preprocessor(
        dict(inputs=[inputs] * len(class_ids), data_samples=samples), False)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=data['inputs'].device).manual_seed(seed)
    results = refiner.predict(data['inputs'], data['data_samples'],
                              test_cfg=dict(mode='crop', steps=steps, area_thr=0),
                              generator=generator)
    probs = torch.stack([r.seg_logits.data[0] for r in results]).float().cpu().numpy()
    return merge_class_probs(probs, class_ids, label_map, threshold)
