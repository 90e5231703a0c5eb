"""An independent description of the original SegRefiner UNet for conversion tests.

Written from the specification (``docs/segrefiner.md``, 'Denoiser UNet', i.e. improved-diffusion's
``UNetModel`` as SegRefiner configures it) directly on raw state dicts with ``denoise_model.*``
keys, sharing no code with ``segrefiner.models``:

* :func:`original_shapes`: the original's parameter names and shapes for any width and depth,
  following the original constructor loop by loop;
* :func:`reference_forward`: the original's forward pass with plain ``F.conv2d``/``F.group_norm``
  calls and the legacy attention head split done with explicit einsums.

The original hard-codes 32 GroupNorm groups, a learned timestep table, 3×3 convolutions for the
resampling layers and additive (not scale-shift) timestep conditioning.
"""
import math
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F

# The released settings (segrefiner_lr.py of the original repository).
CHANNEL_MULT = (1, 1, 2, 2, 4, 4)
NUM_RES_BLOCKS = 2
ATTENTION_DS = (16, 32)
NUM_HEADS = 4
GROUPS = 32


def original_shapes(model_channels: int = 128,
                    channel_mult: Sequence[int] = CHANNEL_MULT,
                    num_res_blocks: int = NUM_RES_BLOCKS,
                    attention_ds: Sequence[int] = ATTENTION_DS,
                    in_channels: int = 4,
                    out_channels: int = 1,
                    num_timesteps: int = 6) -> Dict[str, Tuple[int, ...]]:
    """UNet key (without ``denoise_model.``) → shape, for the original network with these
    settings (the original constructor's arguments; ``attention_ds`` = attention_resolutions)."""
    shapes: Dict[str, Tuple[int, ...]] = {}
    emb = 4 * model_channels

    def param(prefix, *shape):
        shapes[prefix + '.weight'] = shape
        shapes[prefix + '.bias'] = (shape[0], )

    def norm(prefix, ch):
        shapes[prefix + '.weight'] = (ch, )
        shapes[prefix + '.bias'] = (ch, )

    def res(p, ch, out):
        norm(p + '.in_layers.0', ch)
        param(p + '.in_layers.2', out, ch, 3, 3)
        param(p + '.emb_layers.1', out, emb)
        norm(p + '.out_layers.0', out)
        param(p + '.out_layers.3', out, out, 3, 3)
        if ch != out:
            param(p + '.skip_connection', out, ch, 1, 1)

    def attn(p, ch):
        norm(p + '.norm', ch)
        param(p + '.qkv', 3 * ch, ch, 1)
        param(p + '.proj_out', ch, ch, 1)

    shapes['time_embed.weight'] = (num_timesteps, emb)
    param('input_blocks.0.0', model_channels, in_channels, 3, 3)
    chans = [model_channels]
    ch, ds, block = model_channels, 1, 1
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            res(f'input_blocks.{block}.0', ch, mult * model_channels)
            ch = mult * model_channels
            if ds in attention_ds:
                attn(f'input_blocks.{block}.1', ch)
            chans.append(ch)
            block += 1
        if level != len(channel_mult) - 1:
            param(f'input_blocks.{block}.0.op', ch, ch, 3, 3)
            chans.append(ch)
            block += 1
            ds *= 2
    res('middle_block.0', ch, ch)
    attn('middle_block.1', ch)
    res('middle_block.2', ch, ch)
    block = 0
    for level, mult in reversed(list(enumerate(channel_mult))):
        for i in range(num_res_blocks + 1):
            res(f'output_blocks.{block}.0', ch + chans.pop(), model_channels * mult)
            ch = model_channels * mult
            j = 1
            if ds in attention_ds:
                attn(f'output_blocks.{block}.1', ch)
                j = 2
            if level and i == num_res_blocks:
                param(f'output_blocks.{block}.{j}.conv', ch, ch, 3, 3)
                ds //= 2
            block += 1
    norm('out.0', ch)
    param('out.2', out_channels, model_channels, 3, 3)
    return shapes


def _conv(sd, prefix, x, stride=1):
    w = sd[prefix + '.weight']
    return F.conv2d(x, w, sd[prefix + '.bias'], stride=stride, padding=w.shape[-1] // 2)


def _norm(sd, prefix, x):
    return F.group_norm(x.float(), GROUPS, sd[prefix + '.weight'], sd[prefix + '.bias'], eps=1e-5)


def _res(sd, p, x, emb):
    h = _conv(sd, p + '.in_layers.2', F.silu(_norm(sd, p + '.in_layers.0', x)))
    e = F.linear(F.silu(emb), sd[p + '.emb_layers.1.weight'], sd[p + '.emb_layers.1.bias'])
    h = h + e[:, :, None, None]
    h = _conv(sd, p + '.out_layers.3', F.silu(_norm(sd, p + '.out_layers.0', h)))
    skip = _conv(sd, p + '.skip_connection', x) if p + '.skip_connection.weight' in sd else x
    return skip + h


def _attn(sd, p, x, heads):
    b, c, hh, ww = x.shape
    flat = x.reshape(b, c, -1)
    qkv = F.conv1d(_norm(sd, p + '.norm', flat), sd[p + '.qkv.weight'], sd[p + '.qkv.bias'])
    qkv = qkv.reshape(b * heads, 3 * c // heads, -1)  # heads first, then q/k/v
    d = c // heads
    q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
    scale = 1 / math.sqrt(math.sqrt(d))
    weight = torch.einsum('bct,bcs->bts', q * scale, k * scale).softmax(dim=-1)
    a = torch.einsum('bts,bcs->bct', weight, v).reshape(b, c, -1)
    out = F.conv1d(a, sd[p + '.proj_out.weight'], sd[p + '.proj_out.bias'])
    return (flat + out).reshape(b, c, hh, ww)


def reference_forward(state_dict: Dict[str, torch.Tensor], x: torch.Tensor, t: torch.Tensor,
                      channel_mult: Sequence[int] = CHANNEL_MULT,
                      num_res_blocks: int = NUM_RES_BLOCKS,
                      attention_ds: Sequence[int] = ATTENTION_DS,
                      num_heads: int = NUM_HEADS,
                      num_heads_upsample: int = -1) -> torch.Tensor:
    """Original network output for x (B, C_in, H, W), t (B,) → (B, C_out, H, W).

    The widths come from the tensors; the topology and head counts from the arguments
    (``num_heads_upsample=-1`` means ``num_heads``, as in the original).
    """
    heads_up = num_heads if num_heads_upsample == -1 else num_heads_upsample
    sd = {k[len('denoise_model.'):]: v for k, v in state_dict.items()
          if k.startswith('denoise_model.')}
    emb = sd['time_embed.weight'][t]
    h = _conv(sd, 'input_blocks.0.0', x)
    hs = [h]
    block, ds = 1, 1
    for level in range(len(channel_mult)):
        for _ in range(num_res_blocks):
            h = _res(sd, f'input_blocks.{block}.0', h, emb)
            if ds in attention_ds:
                h = _attn(sd, f'input_blocks.{block}.1', h, num_heads)
            hs.append(h)
            block += 1
        if level != len(channel_mult) - 1:
            h = _conv(sd, f'input_blocks.{block}.0.op', h, stride=2)
            hs.append(h)
            block += 1
            ds *= 2
    h = _res(sd, 'middle_block.0', h, emb)
    h = _attn(sd, 'middle_block.1', h, num_heads)
    h = _res(sd, 'middle_block.2', h, emb)
    block = 0
    for level in reversed(range(len(channel_mult))):
        for i in range(num_res_blocks + 1):
            h = _res(sd, f'output_blocks.{block}.0', torch.cat([h, hs.pop()], 1), emb)
            j = 1
            if ds in attention_ds:
                h = _attn(sd, f'output_blocks.{block}.1', h, heads_up)
                j = 2
            if level and i == num_res_blocks:
                h = _conv(sd, f'output_blocks.{block}.{j}.conv',
                          F.interpolate(h, scale_factor=2, mode='nearest'))
                ds //= 2
            block += 1
    return _conv(sd, 'out.2', F.silu(_norm(sd, 'out.0', h)))
