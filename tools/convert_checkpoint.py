"""Convert a released SegRefiner checkpoint into one that segrefiner loads.

The original checkpoints (``segrefiner_lr_latest.pth``, ``segrefiner_hr_latest.pth``) hold
``denoise_model.*`` (the UNet) and ``loss_texture.sobel.conv_{x,y}.weight`` (fixed Sobel
kernels). The UNet keys map one to one onto ``decode_head.denoiser.*`` of
``configs/_base_/models/segrefiner.py``; the Sobel kernels are checked against the fixed ones
that :class:`TextureL1Loss` builds, then dropped.

Example:
    python tools/convert_checkpoint.py segrefiner_lr_latest.pth checkpoints/segrefiner_lr.pth
"""
import argparse
import io
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict

import torch

from segrefiner.models import DenoiseUNet, TextureL1Loss
from segrefiner.utils.io import write_bytes_atomic

SRC_PREFIX = 'denoise_model.'
DST_PREFIX = 'decode_head.denoiser.'
SOBEL_KEYS = {'loss_texture.sobel.conv_x.weight': 0, 'loss_texture.sobel.conv_y.weight': 1}


def load_source(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of an original checkpoint (bare or under ``state_dict``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        # mmcv 1.x checkpoints pickle their meta (config text, mmcv version objects).
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path} does not hold a state dict (got {type(ckpt).__name__})')
    state = ckpt.get('state_dict', ckpt)
    if not any(k.startswith(SRC_PREFIX) for k in state):
        raise ValueError(f'{path} has no "{SRC_PREFIX}*" keys: not a SegRefiner checkpoint')
    return state


def convert_state_dict(state: Dict[str, torch.Tensor], source: str = 'checkpoint'
                       ) -> 'OrderedDict[str, torch.Tensor]':
    """Rename the UNet keys and validate everything against the released architecture.

    Args:
        state (dict): the original state dict.
        source (str): name of the source, used in error messages.

    Returns:
        OrderedDict: ``decode_head.denoiser.*`` tensors.

    Raises:
        ValueError: unknown keys, missing or mis-shaped UNet tensors, or Sobel kernels that
            differ from SegRefiner's.
    """
    reference = DenoiseUNet().state_dict()
    sobel = TextureL1Loss().sobel
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in state.items():
        if key.startswith(SRC_PREFIX):
            converted[DST_PREFIX + key[len(SRC_PREFIX):]] = value
        elif key in SOBEL_KEYS:
            expected = sobel[SOBEL_KEYS[key]][None]
            if value.shape != expected.shape or not torch.allclose(value.float(), expected):
                raise ValueError(f'{source}: {key} is not the fixed Sobel kernel of '
                                 f'SegRefiner:\n{value}')
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'{source}: unexpected keys {unknown[:10]}{"..." if len(unknown) > 10 else ""}')
    missing = [k for k in reference if DST_PREFIX + k not in converted]
    extra = [k for k in converted if k[len(DST_PREFIX):] not in reference]
    shapes = [f'{k}: {tuple(converted[DST_PREFIX + k].shape)} != {tuple(v.shape)}'
              for k, v in reference.items()
              if DST_PREFIX + k in converted and converted[DST_PREFIX + k].shape != v.shape]
    if missing or extra or shapes:
        raise ValueError(f'{source} does not match the released denoiser: missing {missing[:5]}, '
                         f'unexpected {extra[:5]}, shape mismatches {shapes[:5]}')
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='original SegRefiner checkpoint')
    parser.add_argument('dst', help='output checkpoint for segrefiner')
    args = parser.parse_args()
    converted = convert_state_dict(load_source(args.src), args.src)
    ckpt = dict(state_dict=converted,
                meta=dict(converted_from=osp.basename(args.src), converter='segrefiner'))
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    write_bytes_atomic(args.dst, buffer.getvalue())
    print(f'converted {len(converted)} tensors: {args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
