"""Inference with a diffusion segmentor: ``init_segmentor``, ``inference_segmentor`` and
``reverse_process``.

An image goes through the config's ``test_pipeline`` without its annotation loaders (as
mmseg's ``inference_model`` does), optionally at another model input size, then through the
model's data preprocessor and ``test_step`` (``predict``), which returns the
:class:`~mmseg.structures.SegDataSample` at the image's own size.
"""
import copy
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import LoadAnnotations, LoadImageFromFile, Resize
from mmengine.config import Config
from mmengine.dataset import Compose
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from ..models.segmentors import DiffusionSegmentor
from .inference import init_refiner, load_image

ImageType = Union[str, Path, np.ndarray]
SizeType = Union[int, Tuple[int, int]]


def init_segmentor(config: Union[str, Path, Config], checkpoint: Optional[str] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None,
                   trust_checkpoint: bool = False) -> torch.nn.Module:
    """Build a ``DiffusionSegmentor`` from a config and load its checkpoint.

    The model is built and loaded by :func:`segrefiner.apis.init_refiner`: the checkpoint is
    read with ``torch.load(weights_only=True)`` and the allow-list of
    :mod:`segrefiner.utils.checkpoint`, and must fit the model key for key.

    Args:
        config (str | Path | Config): config file or loaded config.
        checkpoint (str, optional): a Runner checkpoint; random weights when None.
        device (str): ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        cfg_options (dict, optional): overrides merged into the config, e.g.
            ``{'model.test_cfg.num_steps': 20}``.
        trust_checkpoint (bool): load the checkpoint with ``weights_only=False`` (a pickle can
            run code: only for a file you trust).

    Returns:
        nn.Module: the model in eval mode, with its config as ``model.cfg``.

    Raises:
        FileNotFoundError: the config or the checkpoint does not exist.
        TypeError: the config's model is not a ``DiffusionSegmentor``.
        segrefiner.utils.checkpoint.CheckpointError: the checkpoint is corrupt, untrusted or
            does not fit the model.
    """
    model = init_refiner(config, checkpoint, device, cfg_options, trust_checkpoint)
    if not isinstance(model, DiffusionSegmentor):
        name = config if isinstance(config, (str, Path)) else 'the config'
        raise TypeError(f'{name} builds a {type(model).__name__}, not a DiffusionSegmentor')
    return model


def _pair(size: SizeType) -> Tuple[int, int]:
    """``(H, W)`` of an int side or an ``(H, W)`` pair, each >= 1."""
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if height < 1 or width < 1:
        raise ValueError(f'image_size must be positive, got {size}')
    return int(height), int(width)


def inference_pipeline(cfg: Config, image_size: Optional[SizeType] = None,
                       from_array: bool = False) -> Compose:
    """The config's ``test_pipeline`` for images without annotations.

    Annotation loaders (subclasses of mmcv's ``LoadAnnotations``) are left out. With
    ``image_size``, every ``Resize`` resizes to that size (``keep_ratio=False``); with
    ``from_array``, the image loader is mmseg's ``LoadImageFromNDArray``.

    Args:
        cfg (Config): a config with ``test_pipeline``.
        image_size (int | tuple[int, int], optional): the model input ``(H, W)`` (an int for a
            square); the config's when None.
        from_array (bool): the pipeline's input is ``dict(img=array)``, not ``img_path``.

    Returns:
        Compose: the pipeline.

    Raises:
        ValueError: ``image_size`` is given and the pipeline has no ``Resize``.
    """
    steps = []
    resized = False
    for step in copy.deepcopy(cfg.test_pipeline):
        transform = TRANSFORMS.get(step['type'])
        if isinstance(transform, type) and issubclass(transform, LoadAnnotations):
            continue
        if from_array and isinstance(transform, type) and issubclass(transform,
                                                                      LoadImageFromFile):
            step = dict(step, type='LoadImageFromNDArray')
        if image_size is not None and isinstance(transform, type) and issubclass(
                transform, Resize):
            height, width = _pair(image_size)
            step = dict(step, scale=(width, height), keep_ratio=False)
            step.pop('scale_factor', None)
            resized = True
        steps.append(step)
    if image_size is not None and not resized:
        raise ValueError('image_size is given but the config\'s test_pipeline has no Resize')
    return Compose(steps)


def _prepare(model: torch.nn.Module, image: ImageType,
             image_size: Optional[SizeType]) -> dict:
    """``dict(inputs=[...], data_samples=[...])`` of one image, before the data preprocessor."""
    if isinstance(image, (str, Path)):
        pipeline = inference_pipeline(model.cfg, image_size)
        data = pipeline(dict(img_path=str(image)))
    else:
        pipeline = inference_pipeline(model.cfg, image_size, from_array=True)
        data = pipeline(dict(img=load_image(image)))
    return dict(inputs=[data['inputs']], data_samples=[data['data_samples']])


@torch.no_grad()
def inference_segmentor(model: torch.nn.Module, image: ImageType,
                        image_size: Optional[SizeType] = None) -> SegDataSample:
    """Segment one image.

    The sampler, number of steps, η, ensemble size and seed are the model's ``test_cfg``
    (``init_segmentor(..., cfg_options={'model.test_cfg.num_samples': 5})``).

    Args:
        model (nn.Module): a ``DiffusionSegmentor`` from :func:`init_segmentor`.
        image (str | Path | np.ndarray): image file, or (H, W, 3) uint8 BGR array (mmcv
            order), or (H, W) grey array.
        image_size (int | tuple[int, int], optional): model input ``(H, W)`` (the data
            preprocessor pads it to the denoiser's size divisor); the config's when None.

    Returns:
        SegDataSample: at the image's size (``DiffusionSegmentor.predict``): ``seg_logits``
        ((1, H, W) foreground probability, or (C, H, W) log-probabilities of C classes),
        ``pred_sem_seg`` ((1, H, W) labels) and ``uncertainty`` ((1, H, W) float32 in [0, 1],
        the normalised entropy of the ensemble's mean probability).

    Raises:
        FileNotFoundError: the image file does not exist.
        ValueError: the file is not a readable image, or a bad array.
    """
    return model.test_step(_prepare(model, image, image_size))[0]


@torch.no_grad()
def reverse_process(model: torch.nn.Module, image: ImageType, num_frames: int = 10,
                    image_size: Optional[SizeType] = None) -> List[np.ndarray]:
    """The predicted probability maps along the reverse chain of one image.

    Args:
        model (nn.Module): a ``DiffusionSegmentor`` from :func:`init_segmentor`.
        image (str | Path | np.ndarray): as in :func:`inference_segmentor`.
        num_frames (int): states of the chain to keep, at steps spread over the run, the last
            one included (with ``test_cfg.seed``, it is :func:`inference_segmentor`'s
            ``num_samples=1`` probability).
        image_size (int | tuple[int, int], optional): as in :func:`inference_segmentor`.

    Returns:
        list[np.ndarray]: ``min(num_frames, steps)`` (K, H, W) float32 maps at the image's size,
        noisiest first: the foreground probability (K = 1) or the class probabilities (K = C)
        of each kept step's x̂0 (``DiffusionSegmentor.sample_process``).
    """
    data = model.data_preprocessor(_prepare(model, image, image_size), False)
    frames = model.sample_process(data['inputs'], data['data_samples'], num_frames=num_frames)
    return [frame[0].detach().float().cpu().numpy() for frame in frames]
