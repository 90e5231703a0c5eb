"""Single-image inference: ``init_refiner`` and ``refine(model, image, coarse_mask)``."""
import os.path as osp
from pathlib import Path
from typing import Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..datasets.transforms.loading import read_binary_mask
from ..evaluation.functional import binarize
from ..utils.checkpoint import load_weights

ImageType = Union[str, Path, np.ndarray]


def init_refiner(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu', cfg_options: Optional[dict] = None,
                 trust_checkpoint: bool = False) -> torch.nn.Module:
    """Build a refiner from a config and load its checkpoint.

    The checkpoint is loaded with ``torch.load(weights_only=True)`` and the allow-list of
    :mod:`segrefiner.utils.checkpoint` (tensors, builtins and what a Runner checkpoint holds),
    and must fit the model key for key and shape for shape.

    Args:
        config (str | Path | Config): config file or loaded config.
        checkpoint (str, optional): checkpoint path (a Runner checkpoint or the output of
            ``tools/convert_checkpoint.py``); random weights when None.
        device (str): ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        cfg_options (dict, optional): overrides merged into the config.
        trust_checkpoint (bool): load the checkpoint with ``weights_only=False``, also when it
            needs other types. A checkpoint is a pickle that can run code: only for a file you
            trust.

    Returns:
        nn.Module: the model in eval mode, with its config as ``model.cfg``.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        segrefiner.utils.checkpoint.CheckpointError: the checkpoint is corrupt, needs types
            outside the allow-list, or does not fit the model (an original ``denoise_model.*``
            checkpoint: the message gives the ``tools/convert_checkpoint.py`` command).
    """
    if isinstance(config, (str, Path)):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a path or a Config, got {type(config).__name__}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if config.get('custom_imports'):
        import_modules_from_strings(**config.custom_imports)
    init_default_scope(config.get('default_scope', 'mmseg'))
    model = MODELS.build(config.model)
    if checkpoint is not None:
        load_weights(model, str(checkpoint), trust=trust_checkpoint)
    model.cfg = config
    return model.to(device).eval()


def _load_image(image: ImageType) -> np.ndarray:
    """(H, W, 3) uint8 BGR from a path or an array (grey arrays are expanded)."""
    if isinstance(image, (str, Path)):
        path = str(image)
        if not osp.isfile(path):
            raise FileNotFoundError(f'image file not found: {path}')
        array = mmcv.imread(path)
        if array is None:
            raise ValueError(f'image file {path} is not a readable image')
        return array
    if not isinstance(image, np.ndarray):
        raise TypeError(f'image must be a path or a numpy array, got {type(image).__name__}')
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image array must be (H, W) or (H, W, 3), got {image.shape}')
    if image.dtype != np.uint8:
        raise ValueError(f'image array must be uint8, got {image.dtype}')
    return image


def _load_mask(mask: ImageType) -> np.ndarray:
    """(H, W) bool from a mask file (:func:`read_binary_mask`) or an array (:func:`binarize`:
    bool as is, 0/1 or probabilities at >= 0.5, 0-255 data at >= 128)."""
    if isinstance(mask, (str, Path)):
        return read_binary_mask(str(mask), what='coarse mask').astype(bool)
    if not isinstance(mask, np.ndarray):
        raise TypeError(f'coarse_mask must be a path or a numpy array, got {type(mask).__name__}')
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'coarse_mask must be a 2-D (H, W) array, got shape {mask.shape}')
    return binarize(mask)


@torch.no_grad()
def refine(model: torch.nn.Module, image: ImageType, coarse_mask: ImageType, steps: int = 6,
           seed: Optional[int] = None, return_prob: bool = False) -> np.ndarray:
    """Refine one binary mask of an image.

    The tight box of the mask plus a margin (``test_cfg.pad_width``) is cut from the image,
    resized to the model size, refined with ``steps`` reverse diffusion steps and pasted back
    (``docs/segrefiner.md``, 'Crop mode'), so the image may have any size.

    Args:
        model (nn.Module): a :class:`Refiner` from :func:`init_refiner`.
        image (str | Path | np.ndarray): image file, or (H, W, 3) uint8 BGR array (mmcv order),
            or (H, W) grey array.
        coarse_mask (str | Path | np.ndarray): mask file or (H, W) array, same H×W as the image
            (bool; 0/1 or probabilities, foreground >= 0.5; or 0/255, foreground >= 128).
        steps (int): reverse steps, 1..6.
        seed (int, optional): seed of the reverse process's random draws (reproducible output).
        return_prob (bool): return the foreground probability instead of the binary mask.

    Returns:
        np.ndarray: (H, W) bool refined mask, or float32 probability if ``return_prob``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: unreadable image, mask/image size mismatch, or an empty mask.
    """
    img = _load_image(image)
    mask = _load_mask(coarse_mask)
    if mask.shape != img.shape[:2]:
        raise ValueError(f'coarse mask size {mask.shape} differs from image size {img.shape[:2]}'
                         f' (image: {image if isinstance(image, (str, Path)) else "array"}, '
                         f'mask: {coarse_mask if isinstance(coarse_mask, (str, Path)) else "array"})')
    if not mask.any():
        where = f' {coarse_mask}' if isinstance(coarse_mask, (str, Path)) else ''
        raise ValueError(f'coarse mask{where} is empty: there is nothing to refine')
    device = next(model.parameters()).device
    height, width = mask.shape
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    sample.coarse_sem_seg = PixelData(data=torch.from_numpy(mask[None].astype(np.int64)))
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    data = model.data_preprocessor(dict(inputs=[inputs], data_samples=[sample]), False)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    result = model.predict(data['inputs'], data['data_samples'],
                           test_cfg=dict(mode='crop', steps=steps, area_thr=0),
                           generator=generator)[0]
    if return_prob:
        return result.seg_logits.data[0].cpu().numpy().astype(np.float32)
    return result.pred_sem_seg.data[0].cpu().numpy().astype(bool)
