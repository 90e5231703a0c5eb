"""Convert an original SegRefiner checkpoint into one that segrefiner loads.

Original checkpoints (the released ``segrefiner_lr_latest.pth`` and ``segrefiner_hr_latest.pth``,
or any checkpoint trained with the original code at another width or depth) hold
``denoise_model.*`` (the UNet) and ``loss_texture.sobel.conv_{x,y}.weight`` (fixed Sobel
kernels). The UNet keys map one to one onto ``decode_head.denoiser.*`` of a config built on
``configs/_base_/models/segrefiner.py``; the Sobel kernels are checked against the fixed ones
that :class:`TextureL1Loss` builds, then dropped.

The denoiser's settings (``model_channels``, ``channel_mult``, ``num_res_blocks``,
``attention_strides``, ``in_channels``, ``out_channels``, ``num_timesteps``) are read from the
names and shapes of the weights. ``num_heads`` leaves no trace in them (the legacy attention's
``qkv`` projection is 3C×C for any head count): it is taken from ``--config``, else from
``--num-heads``, else the released value 4. With ``--config`` every setting read from the weights
is checked against the config's ``model.decode_head.denoiser``; in any case the converter prints
the ``model = dict(decode_head=dict(denoiser=dict(...)))`` snippet that a config needs.

Example:
    python tools/convert_checkpoint.py segrefiner_lr_latest.pth checkpoints/segrefiner_lr.pth
    python tools/convert_checkpoint.py my_w64.pth checkpoints/my_w64.pth --config my_w64_cfg.py
"""
import argparse
import inspect
import io
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch.overrides import TorchFunctionMode

from segrefiner.models import DenoiseUNet, TextureL1Loss
from segrefiner.utils.checkpoint import load_checkpoint_file
from segrefiner.utils.io import write_bytes_atomic

SRC_PREFIX = 'denoise_model.'
DST_PREFIX = 'decode_head.denoiser.'
SOBEL_KEYS = {'loss_texture.sobel.conv_x.weight': 0, 'loss_texture.sobel.conv_y.weight': 1}
# Fixed in the original code: GroupNorm32(32, C) everywhere.
ORIGINAL_NORM_GROUPS = 32
# Released values of the settings that the weights do not record.
DEFAULT_NUM_HEADS = 4
# DenoiseUNet options with which the original network is built (its code fixes them); a
# config must keep them. The zero-init options only change the initialisation: any value.
ORIGINAL_OPTIONS = dict(time_embedding='learned', num_head_channels=-1,
                        use_scale_shift_norm=False, resblock_updown=False, conv_resample=True)
# DenoiseUNet arguments that the weights determine, compared with --config.
INFERRED = ('in_channels', 'out_channels', 'model_channels', 'num_res_blocks', 'channel_mult',
            'attention_strides', 'num_timesteps')

StateDict = Dict[str, torch.Tensor]


def load_source(path: str, trust: bool = False) -> StateDict:
    """The state dict of an original checkpoint (bare or under ``state_dict``).

    The file is loaded without executing it (:func:`load_checkpoint_file`: ``weights_only``
    with the allow-list of Runner and released checkpoints) unless ``trust`` is set.

    Raises:
        FileNotFoundError: no file at ``path``.
        UntrustedCheckpointError: the file needs types outside the allow-list and ``trust``
            is off; the message names them and the ``--trust-checkpoint`` opt-in.
        ValueError: the file is not a PyTorch checkpoint, holds no SegRefiner UNet, or has
            already been converted.
    """
    ckpt = load_checkpoint_file(path, map_location='cpu', trust=trust)
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path} does not hold a state dict (got {type(ckpt).__name__})')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{path} does not hold a state dict of tensors')
    meta = ckpt.get('meta')
    if (isinstance(meta, dict) and meta.get('converter') == 'segrefiner') or any(
            k.startswith(DST_PREFIX) for k in state):
        raise ValueError(f'{path} is already in segrefiner\'s layout ("{DST_PREFIX}*" keys): '
                         'load it directly, it needs no conversion')
    if not any(k.startswith(SRC_PREFIX) for k in state):
        raise ValueError(f'{path} has no "{SRC_PREFIX}*" keys: not a SegRefiner checkpoint')
    return state


def split_state(state: StateDict, source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """The UNet tensors without their ``denoise_model.`` prefix; the Sobel kernels are checked.

    Raises:
        ValueError: keys that are neither UNet nor Sobel keys, or Sobel kernels that differ
            from SegRefiner's.
    """
    sobel = TextureL1Loss().sobel
    unet: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unknown = []
    for key, value in state.items():
        if key.startswith(SRC_PREFIX):
            unet[key[len(SRC_PREFIX):]] = value
        elif key in SOBEL_KEYS:
            expected = sobel[SOBEL_KEYS[key]][None]
            if value.shape != expected.shape or not torch.allclose(value.float(), expected):
                raise ValueError(f'{source}: {key} is not the fixed Sobel kernel of '
                                 f'SegRefiner:\n{value}')
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'{source}: unexpected keys {unknown[:10]}'
                         f'{"..." if len(unknown) > 10 else ""}')
    return unet


def _shape(unet: StateDict, key: str, source: str, ndim: int) -> Tuple[int, ...]:
    """Shape of ``unet[key]``, which must exist and have ``ndim`` dimensions."""
    if key not in unet:
        raise ValueError(f'{source}: no "{SRC_PREFIX}{key}": not the original SegRefiner UNet '
                         'layout')
    shape = tuple(unet[key].shape)
    if len(shape) != ndim:
        raise ValueError(f'{source}: "{SRC_PREFIX}{key}" has shape {shape}, expected a '
                         f'{ndim}-D tensor (only 2-D UNets, dims=2, are supported)')
    return shape


def infer_denoiser(unet: StateDict, source: str = 'checkpoint') -> dict:
    """Read the original UNet's settings from its parameter names and shapes.

    Args:
        unet (dict): UNet tensors without the ``denoise_model.`` prefix.
        source (str): name of the source, used in error messages.

    Returns:
        dict: the :class:`DenoiseUNet` arguments in :data:`INFERRED`.

    Raises:
        ValueError: the keys do not follow the original layout (or a variant of it that
            DenoiseUNet does not implement).
    """
    if 'time_embed.0.weight' in unet:
        raise ValueError(f'{source}: sinusoidal timestep embedding ("{SRC_PREFIX}time_embed.0.*", '
                         'learn_time_embd=False); DenoiseUNet implements only the learned table')
    num_timesteps, emb_channels = _shape(unet, 'time_embed.weight', source, 2)
    model_channels, in_channels = _shape(unet, 'input_blocks.0.0.weight', source, 4)[:2]
    out_channels = _shape(unet, 'out.2.weight', source, 4)[0]
    if emb_channels != 4 * model_channels:
        raise ValueError(f'{source}: time_embed width {emb_channels} is not 4 x model_channels '
                         f'({model_channels})')

    blocks = sorted({int(m.group(1)) for k in unet
                     if (m := re.match(r'input_blocks\.(\d+)\.', k))})
    if blocks != list(range(len(blocks))):
        gap = min(set(range(len(blocks))) - set(blocks))
        raise ValueError(f'{source}: input_blocks.{gap} has no weights (parameter-free '
                         'resampling, conv_resample=False, is not supported)')
    levels: List[List[Tuple[int, bool]]] = [[]]  # per level: (out channels, attention) per block
    for k in blocks[1:]:
        if f'input_blocks.{k}.0.op.weight' in unet:
            if not levels[-1]:
                raise ValueError(f'{source}: input_blocks.{k} down-samples a level without '
                                 'residual blocks')
            levels.append([])
        elif f'input_blocks.{k}.0.in_layers.2.weight' in unet:
            out = _shape(unet, f'input_blocks.{k}.0.in_layers.2.weight', source, 4)[0]
            levels[-1].append((out, f'input_blocks.{k}.1.qkv.weight' in unet))
        else:
            raise ValueError(f'{source}: input_blocks.{k} is neither a ResBlock nor a '
                             'Downsample: not the original SegRefiner UNet layout')
    if not levels[-1]:
        raise ValueError(f'{source}: the encoder ends with a down-sampling, not a residual block')
    num_res_blocks = len(levels[0])
    channel_mult, attention_strides = [], []
    for level, level_blocks in enumerate(levels):
        if len(level_blocks) != num_res_blocks:
            raise ValueError(f'{source}: encoder level {level} has {len(level_blocks)} residual '
                             f'blocks, level 0 has {num_res_blocks}')
        widths = {out for out, _ in level_blocks}
        width = level_blocks[0][0]
        if len(widths) != 1 or width % model_channels:
            raise ValueError(f'{source}: encoder level {level} widths {sorted(widths)} are not '
                             f'one multiple of model_channels ({model_channels})')
        channel_mult.append(width // model_channels)
        attention = {a for _, a in level_blocks}
        if len(attention) != 1:
            raise ValueError(f'{source}: encoder level {level} has attention in some of its '
                             'blocks only')
        if attention.pop():
            attention_strides.append(2**level)
    if channel_mult[0] != 1:
        raise ValueError(f'{source}: channel_mult[0] is {channel_mult[0]}; the original output '
                         'head takes model_channels inputs, so it only runs with '
                         'channel_mult[0] = 1')
    return dict(in_channels=in_channels, out_channels=out_channels,
                model_channels=model_channels, num_res_blocks=num_res_blocks,
                channel_mult=tuple(channel_mult), attention_strides=tuple(attention_strides),
                num_timesteps=num_timesteps)


class _SkipMetaNormalInit(TorchFunctionMode):
    """Skip ``normal_`` initialisation of meta tensors (they hold no values to fill).

    PyTorch runs ``normal_`` on the meta device through a Python reference that imports
    ``torch._dynamo`` the first time (seconds); the other initialisers have native meta kernels.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, '__name__', None) == 'normal_':
            tensor = kwargs.get('tensor', args[0] if args else None)
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


def denoiser_on_meta(settings: dict) -> DenoiseUNet:
    """:class:`DenoiseUNet` with ``settings`` on the meta device: names and shapes, no memory."""
    with torch.device('meta'), _SkipMetaNormalInit():
        return DenoiseUNet(**settings)


def check_layout(unet: StateDict, settings: dict, source: str = 'checkpoint') -> None:
    """Check every UNet name and shape against :class:`DenoiseUNet` built with ``settings``.

    The network is built on the meta device (:func:`denoiser_on_meta`): no memory, any size.

    Raises:
        ValueError: missing, unexpected or mis-shaped tensors.
    """
    layout = {k: v for k, v in settings.items() if k not in ('num_heads', 'num_heads_upsample')}
    reference = denoiser_on_meta(layout).state_dict()  # head counts do not change shapes
    missing = [k for k in reference if k not in unet]
    extra = [k for k in unet if k not in reference]
    shapes = [f'{k}: {tuple(unet[k].shape)} != {tuple(v.shape)}'
              for k, v in reference.items() if k in unet and unet[k].shape != v.shape]
    if not (missing or extra or shapes):
        return
    hint = ''
    if any(k.endswith('emb_layers.1.weight') and unet[k].shape[0] == 2 * v.shape[0]
           for k, v in reference.items() if k in unet):
        hint = ' (scale-shift timestep conditioning, use_scale_shift_norm=True, is not supported)'
    raise ValueError(f'{source} does not match the original UNet with {_format_kwargs(layout)}'
                     f'{hint}: missing {missing[:5]}, unexpected {extra[:5]}, '
                     f'shape mismatches {shapes[:5]}')


def denoiser_from_config(path: str) -> dict:
    """All :class:`DenoiseUNet` arguments of a config's ``model.decode_head.denoiser``.

    Arguments that the config leaves out take DenoiseUNet's defaults.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the config has no DenoiseUNet denoiser, or gives it unknown arguments.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    model = Config.fromfile(path).get('model') or {}
    denoiser = (model.get('decode_head') or {}).get('denoiser')
    if not denoiser:
        raise ValueError(f'config {path} has no model.decode_head.denoiser')
    kind = denoiser.get('type')
    if kind not in ('DenoiseUNet', DenoiseUNet) and not str(kind).endswith('.DenoiseUNet'):
        raise ValueError(f'config {path}: the denoiser is {kind!r}, not a DenoiseUNet')
    params = inspect.signature(DenoiseUNet.__init__).parameters
    names = [n for n in params if n not in ('self', 'init_cfg')]
    unknown = sorted(set(denoiser) - set(names) - {'type', 'init_cfg'})
    if unknown:
        raise ValueError(f'config {path}: unknown DenoiseUNet arguments {unknown}')
    settings = {n: denoiser.get(n, params[n].default) for n in names}
    for name in ('channel_mult', 'attention_strides'):
        settings[name] = tuple(settings[name])
    return settings


def _strides_used(strides: Sequence[int], num_levels: int) -> Tuple[int, ...]:
    """The attention strides that some level of a ``num_levels``-level UNet reaches."""
    return tuple(sorted({s for s in strides if s in [2**i for i in range(num_levels)]}))


def _format_kwargs(settings: dict) -> str:
    return ', '.join(f'{k}={v!r}' for k, v in settings.items())


def resolve_settings(inferred: dict, source: str = 'checkpoint', config: Optional[dict] = None,
                     config_name: str = 'the config', num_heads: Optional[int] = None) -> dict:
    """Complete the settings read from the weights with those that the weights do not record.

    Args:
        inferred (dict): output of :func:`infer_denoiser`.
        source (str): name of the checkpoint, used in error messages.
        config (dict, optional): output of :func:`denoiser_from_config`; every inferred
            setting must match it, and ``num_heads``, ``num_heads_upsample`` and ``dropout``
            come from it.
        config_name (str): name of the config, used in error messages.
        num_heads (int, optional): attention heads when no config is given (default 4, the
            released value); must equal the config's when both are given.

    Returns:
        dict: all :class:`DenoiseUNet` arguments, in its signature's order.

    Raises:
        ValueError: a setting of the config differs from the checkpoint's (each mismatch
            names the setting and both values), or the head counts do not divide the
            attention widths.
    """
    if config is not None:
        levels = len(inferred['channel_mult'])
        mismatches = []
        for name in INFERRED:
            ours, theirs = inferred[name], config[name]
            if name == 'attention_strides':
                ours, theirs = _strides_used(ours, levels), _strides_used(theirs, levels)
            if ours != theirs:
                mismatches.append(f'{name} is {ours!r} in the checkpoint but {theirs!r} in the '
                                  'config')
        if config['norm_groups'] != ORIGINAL_NORM_GROUPS:
            mismatches.append(f'norm_groups is {ORIGINAL_NORM_GROUPS} in the original network but '
                              f'{config["norm_groups"]!r} in the config')
        for name, value in ORIGINAL_OPTIONS.items():
            if config[name] != value:
                mismatches.append(f'{name} is {value!r} in the original network but '
                                  f'{config[name]!r} in the config')
        if num_heads is not None and num_heads != config['num_heads']:
            mismatches.append(f'num_heads is {num_heads} on the command line but '
                              f'{config["num_heads"]!r} in the config')
        if mismatches:
            raise ValueError(f'{source} does not match {config_name}:\n  '
                             + '\n  '.join(mismatches))
        settings = dict(config)
        settings.update(inferred)  # same values; keeps the checkpoint's attention strides
    else:
        params = inspect.signature(DenoiseUNet.__init__).parameters
        settings = {n: p.default for n, p in params.items() if n not in ('self', 'init_cfg')}
        settings.update(inferred, num_heads=DEFAULT_NUM_HEADS if num_heads is None else num_heads,
                        num_heads_upsample=-1, dropout=0.0, norm_groups=ORIGINAL_NORM_GROUPS,
                        **ORIGINAL_OPTIONS)
    mc, mult = settings['model_channels'], settings['channel_mult']
    attention = [mc * m for i, m in enumerate(mult) if 2**i in settings['attention_strides']]
    heads = settings['num_heads']
    heads_up = heads if settings['num_heads_upsample'] == -1 else settings['num_heads_upsample']
    where = config_name if config is not None else 'the command line or the default'
    for name, count, widths in (('num_heads', heads, attention + [mc * mult[-1]]),
                                ('num_heads_upsample', heads_up, attention)):
        bad = [w for w in widths if not isinstance(count, int) or count < 1 or w % count]
        if bad:
            raise ValueError(f'{source}: {name}={count!r} (from {where}) does not divide the '
                             f'attention width {bad[0]}')
    order = [n for n in inspect.signature(DenoiseUNet.__init__).parameters if n in settings]
    return {n: settings[n] for n in order}


def convert_state_dict(state: StateDict, source: str = 'checkpoint',
                       config: Optional[dict] = None, config_name: str = 'the config',
                       num_heads: Optional[int] = None
                       ) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Rename the UNet keys and validate them against the architecture they describe.

    Args:
        state (dict): the original state dict (tensors may live on the meta device).
        source (str): name of the source, used in error messages.
        config (dict, optional): a config's denoiser settings (:func:`denoiser_from_config`)
            to check the checkpoint against.
        config_name (str): name of the config, used in error messages.
        num_heads (int, optional): attention heads when no config is given.
        trust (bool): load ``src`` with plain unpickling (only for a file the user trusts).

    Returns:
        tuple: (OrderedDict of ``decode_head.denoiser.*`` tensors, the DenoiseUNet settings
        that load them with ``strict=True`` and compute the original's output).

    Raises:
        ValueError: unknown keys, a layout that is not the original's, mis-shaped tensors,
            Sobel kernels that differ from SegRefiner's, or settings that differ from the
            config's.
    """
    unet = split_state(state, source)
    settings = resolve_settings(infer_denoiser(unet, source), source, config, config_name,
                                num_heads)
    check_layout(unet, settings, source)
    converted = OrderedDict((DST_PREFIX + k, v) for k, v in unet.items())
    return converted, settings


def format_config(settings: dict) -> str:
    """The config snippet that builds the denoiser with ``settings``.

    It merges into any config that inherits ``configs/_base_/models/segrefiner.py``.
    """
    lines = ''.join(f'\n            {k}={v!r},' for k, v in settings.items())
    return ("model = dict(\n    decode_head=dict(\n        denoiser=dict(\n"
            f"            type='DenoiseUNet',{lines[:-1]})))")


def convert(src: str, dst: str, config: Optional[str] = None,
            num_heads: Optional[int] = None, trust: bool = False
            ) -> Tuple[dict, 'OrderedDict[str, torch.Tensor]']:
    """Convert the checkpoint ``src`` into ``dst`` (written atomically, only when valid).

    Args:
        src (str): original checkpoint.
        dst (str): output path; left untouched when anything fails.
        config (str, optional): config file to check the checkpoint against.
        num_heads (int, optional): attention heads when no config is given.

    Returns:
        tuple: (the DenoiseUNet settings of the converted checkpoint, also stored in its
        ``meta['denoiser']``; the converted ``decode_head.denoiser.*`` tensors).
    """
    expected = denoiser_from_config(config) if config else None
    converted, settings = convert_state_dict(load_source(src, trust), src, expected,
                                             f'config {config}', num_heads)
    ckpt = dict(state_dict=converted,
                meta=dict(converted_from=osp.basename(src), converter='segrefiner',
                          denoiser=settings))
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    write_bytes_atomic(dst, buffer.getvalue())
    return settings, converted


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog=osp.basename(__file__),
                                     description=__doc__.split('\n')[0])
    parser.add_argument('src', help='original SegRefiner checkpoint')
    parser.add_argument('dst', help='output checkpoint for segrefiner')
    parser.add_argument('--config', help='segrefiner config to check the checkpoint against; '
                        'num_heads, num_heads_upsample and dropout are taken from it')
    parser.add_argument('--num-heads', type=int, help='attention heads of the original network '
                        f'when no --config is given (default {DEFAULT_NUM_HEADS}, the released '
                        'value; the weights do not record it)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle SRC without the allow-list (runs whatever the file '
                        'names: only for a file you trust)')
    args = parser.parse_args(argv)
    try:
        settings, converted = convert(args.src, args.dst, args.config, args.num_heads,
                                      args.trust_checkpoint)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f'{parser.prog}: error: {err}\n')
    print(f'converted {len(converted)} tensors ({sum(v.numel() for v in converted.values()):,} '
          f'parameters): {args.src} -> {args.dst}')
    if args.config:
        print(f'the checkpoint matches the denoiser of {args.config}')
    else:
        heads = 'num_heads given on the command line' if args.num_heads else (
            f'num_heads={DEFAULT_NUM_HEADS} assumed (the released value; the weights do not '
            'record it, pass --num-heads or --config otherwise)')
        print(f'denoiser settings read from the weights, {heads}; a config that inherits '
              'configs/_base_/models/segrefiner.py needs:')
    print(format_config(settings))


if __name__ == '__main__':
    main()
