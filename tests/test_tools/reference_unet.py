"""An independent, functional forward of the original SegRefiner UNet for conversion tests.

Written from the specification (``../shared/design/segrefiner.md`` §2) directly on a raw state
dict with ``denoise_model.*`` keys: plain ``F.conv2d``/``F.group_norm`` calls and the legacy
attention head split done with explicit einsums, sharing no code with ``segrefiner.models``.
"""
import math

import torch
import torch.nn.functional as F

CHANNEL_MULT = (1, 1, 2, 2, 4, 4)
NUM_RES_BLOCKS = 2
ATTENTION_DS = (16, 32)
NUM_HEADS = 4


def _conv(sd, prefix, x, stride=1):
    w = sd[prefix + '.weight']
    return F.conv2d(x, w, sd[prefix + '.bias'], stride=stride, padding=w.shape[-1] // 2)


def _norm(sd, prefix, x):
    return F.group_norm(x.float(), 32, sd[prefix + '.weight'], sd[prefix + '.bias'], eps=1e-5)


def _res(sd, p, x, emb):
    h = _conv(sd, p + '.in_layers.2', F.silu(_norm(sd, p + '.in_layers.0', x)))
    e = F.linear(F.silu(emb), sd[p + '.emb_layers.1.weight'], sd[p + '.emb_layers.1.bias'])
    h = h + e[:, :, None, None]
    h = _conv(sd, p + '.out_layers.3', F.silu(_norm(sd, p + '.out_layers.0', h)))
    skip = _conv(sd, p + '.skip_connection', x) if p + '.skip_connection.weight' in sd else x
    return skip + h


def _attn(sd, p, x):
    b, c, hh, ww = x.shape
    flat = x.reshape(b, c, -1)
    qkv = F.conv1d(_norm(sd, p + '.norm', flat), sd[p + '.qkv.weight'], sd[p + '.qkv.bias'])
    qkv = qkv.reshape(b * NUM_HEADS, 3 * c // NUM_HEADS, -1)  # heads first, then q/k/v
    d = c // NUM_HEADS
    q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
    scale = 1 / math.sqrt(math.sqrt(d))
    weight = torch.einsum('bct,bcs->bts', q * scale, k * scale).softmax(dim=-1)
    a = torch.einsum('bts,bcs->bct', weight, v).reshape(b, c, -1)
    out = F.conv1d(a, sd[p + '.proj_out.weight'], sd[p + '.proj_out.bias'])
    return (flat + out).reshape(b, c, hh, ww)


def reference_forward(state_dict, x, t):
    """Original network output for x (B, 4, H, W), t (B,) → (B, 1, H, W)."""
    sd = {k[len('denoise_model.'):]: v for k, v in state_dict.items()
          if k.startswith('denoise_model.')}
    emb = sd['time_embed.weight'][t]
    h = _conv(sd, 'input_blocks.0.0', x)
    hs = [h]
    block, ds = 1, 1
    for level in range(len(CHANNEL_MULT)):
        for _ in range(NUM_RES_BLOCKS):
            h = _res(sd, f'input_blocks.{block}.0', h, emb)
            if ds in ATTENTION_DS:
                h = _attn(sd, f'input_blocks.{block}.1', h)
            hs.append(h)
            block += 1
        if level != len(CHANNEL_MULT) - 1:
            h = _conv(sd, f'input_blocks.{block}.0.op', h, stride=2)
            hs.append(h)
            block += 1
            ds *= 2
    h = _res(sd, 'middle_block.0', h, emb)
    h = _attn(sd, 'middle_block.1', h)
    h = _res(sd, 'middle_block.2', h, emb)
    block = 0
    for level in reversed(range(len(CHANNEL_MULT))):
        for i in range(NUM_RES_BLOCKS + 1):
            h = _res(sd, f'output_blocks.{block}.0', torch.cat([h, hs.pop()], 1), emb)
            j = 1
            if ds in ATTENTION_DS:
                h = _attn(sd, f'output_blocks.{block}.1', h)
                j = 2
            if level and i == NUM_RES_BLOCKS:
                h = _conv(sd, f'output_blocks.{block}.{j}.conv',
                          F.interpolate(h, scale_factor=2, mode='nearest'))
                ds //= 2
            block += 1
    return _conv(sd, 'out.2', F.silu(_norm(sd, 'out.0', h)))
