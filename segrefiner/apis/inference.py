"""Single-image inference: ``init_refiner``, ``refine(model, image, coarse_mask)`` and the
image and mask loaders they share with ``tools/refine.py``."""
import os.path as osp
from pathlib import Path
from typing import Optional, Tuple, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.utils import import_modules_from_strings
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..model_zoo import bundled_refiner_files
from ..utils.checkpoint import load_weights

ImageType = Union[str, Path, np.ndarray]

#: The ``mode`` values of :func:`refine`.
REFINE_MODES = ('auto', 'crop', 'hr')


def init_refiner(config: Union[str, Path, Config, None] = None,
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 trust_checkpoint: bool = False) -> torch.nn.Module:
    """Build a refiner from a config and load its checkpoint; without a config, the refiner
    bundled with the package (:mod:`segrefiner.model_zoo`, its weights checked by sha256).

    The checkpoint is loaded with ``torch.load(weights_only=True)`` and the allow-list of
    :mod:`segrefiner.utils.checkpoint` (tensors, builtins and what a Runner checkpoint holds),
    and must fit the model key for key and shape for shape.

    Args:
        config (str | Path | Config, optional): config file or loaded config; None for the
            bundled refiner (``checkpoint`` must then be None too).
        checkpoint (str, optional): checkpoint path (a Runner checkpoint or the output of
            ``tools/convert_checkpoint.py``); random weights when None and a config is
            given.
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
    if config is None:
        if checkpoint is not None:
            raise ValueError('a checkpoint needs its config: init_refiner(config, checkpoint)')
        config, checkpoint = bundled_refiner_files()
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


def load_image(image: ImageType) -> np.ndarray:
    """(H, W, 3) uint8 BGR image from a path or an array (grey arrays are expanded).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or the array has the wrong shape/dtype.
    """
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


_load_image = load_image  # the name apis/semantic.py imports


def mask_foreground(mask: np.ndarray) -> np.ndarray:
    """Foreground of a mask of any source, by its value range.

    Rule: bool is taken as it is; otherwise, by the largest value, ``<= 1``: 0/1 labels or
    probabilities, foreground ``>= 0.5``; ``<= 255``: 8-bit data (0/255 PNGs, 8-bit
    probabilities), ``>= 128``; larger: 16-bit data, ``>= 32768``. This extends
    :func:`segrefiner.evaluation.functional.binarize` (same result on bool, 0/1, probability
    and 8-bit data) to 16-bit probability maps.

    Args:
        mask (np.ndarray): (H, W) array of any real dtype.

    Returns:
        np.ndarray: (H, W) bool.
    """
    if mask.dtype == bool:
        return mask
    if mask.size == 0:
        return np.zeros(mask.shape, bool)
    peak = mask.max()
    threshold = 0.5 if peak <= 1 else 128 if peak <= 255 else 32768
    return mask >= threshold


def load_mask(mask: ImageType) -> np.ndarray:
    """(H, W) bool coarse mask from a file or an array (:func:`mask_foreground`).

    Files: images decoded as stored (pillow, ``'unchanged'``: 8- or 16-bit grey, float TIFF,
    palette PNGs as their indices, e.g. SAM's 0/1 palette masks), with colour masks reduced to
    the maximum over their colour channels (alpha ignored); or ``.npy`` arrays. Arrays:
    (H, W) or (H, W, 1).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable mask, or the array has the wrong shape.
    """
    if isinstance(mask, (str, Path)):
        path = str(mask)
        if not osp.isfile(path):
            raise FileNotFoundError(f'coarse mask file not found: {path}')
        try:
            if path.lower().endswith('.npy'):
                array = np.load(path, allow_pickle=False)
            else:
                with open(path, 'rb') as f:
                    array = mmcv.imfrombytes(f.read(), flag='unchanged', backend='pillow')
        except Exception as error:
            raise ValueError(f'coarse mask file {path} is not a readable image ({error})'
                             ) from error
        if array is None or array.size == 0 or array.ndim not in (2, 3):
            raise ValueError(f'coarse mask file {path} is not a readable image')
        if array.ndim == 3:
            array = array[..., :3].max(axis=2)
        return mask_foreground(array)
    if not isinstance(mask, np.ndarray):
        raise TypeError(f'coarse_mask must be a path or a numpy array, got {type(mask).__name__}')
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'coarse_mask must be a 2-D (H, W) array, got shape {mask.shape}')
    return mask_foreground(mask)


def _name(item: ImageType) -> str:
    return str(item) if isinstance(item, (str, Path)) else 'array'


def load_pair(image: ImageType, coarse_mask: ImageType) -> Tuple[np.ndarray, np.ndarray]:
    """Load an image and its coarse mask (:func:`load_image`, :func:`load_mask`) and check
    that they fit.

    Returns:
        tuple[np.ndarray, np.ndarray]: (H, W, 3) uint8 BGR image and (H, W) bool mask.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: an unreadable file, a mask/image size mismatch or an empty mask; the
            message names the files.
    """
    img = load_image(image)
    mask = load_mask(coarse_mask)
    if mask.shape != img.shape[:2]:
        raise ValueError(f'coarse mask size {mask.shape} differs from image size {img.shape[:2]}'
                         f' (image: {_name(image)}, mask: {_name(coarse_mask)})')
    if not mask.any():
        where = f' {coarse_mask}' if isinstance(coarse_mask, (str, Path)) else ''
        raise ValueError(f'coarse mask{where} is empty: there is nothing to refine')
    return img, mask


@torch.no_grad()
def refine(model: torch.nn.Module, image: ImageType, coarse_mask: ImageType, steps: int = 6,
           seed: Optional[int] = None, return_prob: bool = False,
           mode: str = 'auto') -> np.ndarray:
    """Refine one binary mask of an image of any size.

    Modes (the :class:`Refiner`'s inference methods, ``docs/segrefiner.md``, 'Inference'):

    - ``'crop'``: the tight box of the mask plus a margin (``test_cfg.pad_width``) is cut from
      the image, resized to the model size, refined with ``steps`` reverse steps and pasted
      back (:meth:`Refiner.crop_inference`). A large object loses detail in the down-scaling.
    - ``'hr'``: native-resolution refinement of the same box (:meth:`Refiner.hr_inference`
      with ``global_view='box'``): a global pass over the box at the model size (the first
      ``test_cfg.global_steps`` of the ``steps``, 5 of 6), then native-resolution patches
      where the global pass was unsure, with the remaining step(s).
    - ``'auto'``: ``'hr'`` when the box plus margin is larger than ``test_cfg.model_size`` in
      width or height, else ``'crop'`` (:meth:`Refiner.auto_inference`).

    Pixels outside the box plus margin are background in every mode.

    Args:
        model (nn.Module): a :class:`Refiner` from :func:`init_refiner`.
        image (str | Path | np.ndarray): image file, or (H, W, 3) uint8 BGR array (mmcv order),
            or (H, W) grey array.
        coarse_mask (str | Path | np.ndarray): mask file or (H, W) array, same H×W as the image
            (:func:`load_mask`: bool; 0/1 or probabilities, foreground >= 0.5; 8-bit data,
            >= 128; 16-bit data, >= 32768).
        steps (int): reverse steps, 1..6; fewer stop the chain early (in ``'hr'``: with at
            most ``global_steps`` steps, in the global pass).
        seed (int, optional): seed of the reverse process's random draws (reproducible output).
        return_prob (bool): return the foreground probability instead of the binary mask.
        mode (str): ``'auto'``, ``'crop'`` or ``'hr'``.

    Returns:
        np.ndarray: (H, W) bool refined mask, or float32 probability if ``return_prob``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: unknown mode, steps out of range, unreadable image or mask, mask/image
            size mismatch, or an empty mask.
    """
    if mode not in REFINE_MODES:
        raise ValueError(f'mode must be one of {list(REFINE_MODES)}, got {mode!r}')
    num_timesteps = model.decode_head.num_timesteps
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f'steps must lie in [1, {num_timesteps}], got {steps}')
    img, mask = load_pair(image, coarse_mask)
    device = next(model.parameters()).device
    height, width = mask.shape
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    sample.coarse_sem_seg = PixelData(data=torch.from_numpy(mask[None].astype(np.int64)))
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    data = model.data_preprocessor(dict(inputs=[inputs], data_samples=[sample]), False)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    test_cfg = dict(mode=mode, steps=steps, area_thr=0, global_view='box')
    result = model.predict(data['inputs'], data['data_samples'], test_cfg=test_cfg,
                           generator=generator)[0]
    if return_prob:
        return result.seg_logits.data[0].cpu().numpy().astype(np.float32)
    return result.pred_sem_seg.data[0].cpu().numpy().astype(bool)
