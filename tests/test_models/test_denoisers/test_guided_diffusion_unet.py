"""GuidedDiffusionUNet: guided-diffusion's flags, its 256² state-dict layout, a functional
reference of its forward pass, the new attention order, class conditioning, strict loading."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from segrefiner.models.denoisers.guided_diffusion_unet import (
    GUIDED_DIFFUSION_256, GuidedDiffusionUNet, QKVAttentionBlock, load_unet_weights,
    parse_attention_resolutions, parse_channel_mult)
from segrefiner.models.diffusion.gaussian import GaussianDiffusion
from segrefiner.utils.checkpoint import CheckpointMismatchError, UntrustedCheckpointError

LISTING = (Path(__file__).resolve().parents[2] / 'data' /
           'guided_diffusion_unet_lsun256_state_dict.txt')

#: tiny flag sets (widths are multiples of 32: guided-diffusion's GroupNorm has 32 groups)
TINY = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult='1,2',
            attention_resolutions='8', num_head_channels=32, use_scale_shift_norm=True,
            resblock_updown=True, learn_sigma=True, class_cond=True)
TINY_PLAIN = dict(image_size=16, num_channels=32, num_res_blocks=2, channel_mult=(1, 2),
                  attention_resolutions=(16, 8), num_heads=2, use_scale_shift_norm=False,
                  resblock_updown=False, use_new_attention_order=True)


def test_released_flags_give_the_lsun256_listing():
    rows = [ln.split('\t') for ln in LISTING.read_text().splitlines() if not ln.startswith('#')]
    listing = {key: eval(shape) for key, shape in rows}
    with torch.device('meta'):
        net = MODELS.build(dict(type='GuidedDiffusionUNet', **GUIDED_DIFFUSION_256))
    state = net.state_dict()
    assert list(state) == list(listing)
    assert {k: tuple(v.shape) for k, v in state.items()} == listing
    assert sum(p.numel() for p in net.parameters()) == 552_814_086
    assert len(net.output_blocks) == 18 and net.out[-1].out_channels == 6


def test_flag_parsing():
    assert parse_channel_mult('', 256) == (1, 1, 2, 2, 4, 4)
    assert parse_channel_mult('', 64) == (1, 2, 3, 4)
    assert parse_channel_mult('1,2,2,4', 32) == (1, 2, 2, 4)
    assert parse_channel_mult((1, 2), 32) == (1, 2)
    with pytest.raises(ValueError, match='no default for image_size=96'):
        parse_channel_mult('', 96)
    assert parse_attention_resolutions('32,16,8', 256) == (8, 16, 32)
    assert parse_attention_resolutions((16, ), 64) == (4, )
    assert parse_attention_resolutions('', 64) == ()


def test_class_cond_and_learn_sigma():
    net = GuidedDiffusionUNet(**TINY)
    assert net.state_dict()['label_emb.weight'].shape == (1000, 128)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([1, 500])
    assert net(x, t, torch.tensor([3, 7])).shape == (2, 6, 16, 16)
    with pytest.raises(ValueError, match='class_cond'):
        net(x, t)
    plain = GuidedDiffusionUNet(**dict(TINY, class_cond=False, learn_sigma=False))
    assert 'label_emb.weight' not in plain.state_dict()
    with pytest.raises(ValueError, match='class_cond'):
        plain(x, t, torch.tensor([3, 7]))


# ----------------------------------------------------------------- functional reference
def _plan(flags):
    """guided-diffusion's UNetModel layout from its flags, written independently: a list of
    (stage, block index, [layers]) with layers ('res', name, down/up/None) / ('attn', name,
    heads) / ('down', name) / ('up', name) / ('conv', name)."""
    size, ch0 = flags['image_size'], flags['num_channels']
    mult = parse_channel_mult(flags.get('channel_mult', ''), size)
    res = flags.get('attention_resolutions', '16,8')
    res = [int(r) for r in res.split(',') if r] if isinstance(res, str) else list(res)
    attn_ds = [size // r for r in res]
    nrb, updown = flags['num_res_blocks'], flags.get('resblock_updown', False)

    def heads(ch, upsample=False):
        if flags.get('num_head_channels', -1) != -1:
            return ch // flags['num_head_channels']
        n = flags.get('num_heads', 4)
        return n if not upsample or flags.get('num_heads_upsample', -1) == -1 else \
            flags['num_heads_upsample']

    plan, skips, ch, ds = [('in', 0, [('conv', 'input_blocks.0.0')])], [ch0], ch0, 1
    i = 1
    for level, m in enumerate(mult):
        for _ in range(nrb):
            layers = [('res', f'input_blocks.{i}.0', None)]
            ch = int(m * ch0)
            if ds in attn_ds:
                layers.append(('attn', f'input_blocks.{i}.1', heads(ch)))
            plan.append(('in', i, layers))
            skips.append(ch)
            i += 1
        if level != len(mult) - 1:
            plan.append(('in', i, [('res', f'input_blocks.{i}.0', 'down') if updown else
                                   ('down', f'input_blocks.{i}.0')]))
            skips.append(ch)
            i += 1
            ds *= 2
    plan.append(('mid', 0, [('res', 'middle_block.0', None),
                            ('attn', 'middle_block.1', heads(ch)),
                            ('res', 'middle_block.2', None)]))
    j = 0
    for level, m in list(enumerate(mult))[::-1]:
        for k in range(nrb + 1):
            skips.pop()
            layers = [('res', f'output_blocks.{j}.0', None)]
            if ds in attn_ds:
                layers.append(('attn', f'output_blocks.{j}.1', heads(int(m * ch0), True)))
            if level and k == nrb:
                name = f'output_blocks.{j}.{len(layers)}'
                layers.append(('res', name, 'up') if updown else ('up', name))
                ds //= 2
            plan.append(('out', j, layers))
            j += 1
    return plan


def _reference_forward(state, flags, x, t, y=None):
    """guided-diffusion's forward from the architecture facts, on the state dict's tensors."""
    p = {k: v.double() for k, v in state.items()}
    x = x.double()

    def gn(h, name):
        return F.group_norm(h, 32, p[f'{name}.weight'], p[f'{name}.bias'], eps=1e-5)

    def conv(h, name, stride=1):
        return F.conv2d(h, p[f'{name}.weight'], p[f'{name}.bias'], stride=stride, padding=1)

    def resblock(h, e, name, resample):
        a = F.silu(gn(h, f'{name}.in_layers.0'))
        if resample == 'down':
            a, h = F.avg_pool2d(a, 2), F.avg_pool2d(h, 2)
        elif resample == 'up':
            a, h = F.interpolate(a, scale_factor=2.0), F.interpolate(h, scale_factor=2.0)
        a = conv(a, f'{name}.in_layers.2')
        e = F.linear(F.silu(e), p[f'{name}.emb_layers.1.weight'],
                     p[f'{name}.emb_layers.1.bias'])[..., None, None]
        if flags.get('use_scale_shift_norm', True):
            scale, shift = e.chunk(2, dim=1)
            a = gn(a, f'{name}.out_layers.0') * (1 + scale) + shift
        else:
            a = gn(a + e, f'{name}.out_layers.0')
        a = conv(F.silu(a), f'{name}.out_layers.3')
        if f'{name}.skip_connection.weight' in p:
            h = F.conv2d(h, p[f'{name}.skip_connection.weight'], p[f'{name}.skip_connection.bias'])
        return h + a

    def attention(h, name, heads):
        b, c, hh, ww = h.shape
        flat = h.reshape(b, c, -1)
        qkv = F.conv1d(gn(flat, f'{name}.norm'), p[f'{name}.qkv.weight'], p[f'{name}.qkv.bias'])
        ch = c // heads
        if flags.get('use_new_attention_order', False):
            q, k, v = (z.reshape(b * heads, ch, -1) for z in qkv.chunk(3, dim=1))
        else:
            q, k, v = qkv.reshape(b * heads, 3 * ch, -1).split(ch, dim=1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        w = torch.einsum('bct,bcs->bts', q * scale, k * scale).softmax(-1)
        a = torch.einsum('bts,bcs->bct', w, v).reshape(b, c, -1)
        a = F.conv1d(a, p[f'{name}.proj_out.weight'], p[f'{name}.proj_out.bias'])
        return (flat + a).reshape(b, c, hh, ww)

    half = flags['num_channels'] // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    args = t.double()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], 1)
    emb = F.linear(F.silu(F.linear(emb, p['time_embed.0.weight'], p['time_embed.0.bias'])),
                   p['time_embed.2.weight'], p['time_embed.2.bias'])
    if y is not None:
        emb = emb + p['label_emb.weight'][y]
    h, hs = x, []
    for stage, _, layers in _plan(flags):
        if stage == 'out':
            h = torch.cat([h, hs.pop()], 1)
        for kind, name, *extra in layers:
            if kind == 'conv':
                h = conv(h, name)
            elif kind == 'res':
                h = resblock(h, emb, name, extra[0])
            elif kind == 'attn':
                h = attention(h, name, extra[0])
            elif kind == 'down':
                h = conv(h, f'{name}.op', stride=2)
            else:
                h = conv(F.interpolate(h, scale_factor=2.0), f'{name}.conv')
        if stage == 'in':
            hs.append(h)
    return conv(F.silu(gn(h, 'out.0')), 'out.2')


@pytest.mark.parametrize('flags', [TINY, TINY_PLAIN], ids=['updown-scaleshift-cond', 'plain-new'])
def test_forward_equals_the_functional_reference(flags):
    torch.manual_seed(0)
    net = GuidedDiffusionUNet(**flags).eval()
    with torch.no_grad():  # guided-diffusion zero-initialises branches: give every weight values
        for param in net.parameters():
            param.normal_(0, 0.2)
    assert isinstance(net.middle_block[1], QKVAttentionBlock) == bool(
        flags.get('use_new_attention_order'))
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([50, 999])
    y = torch.tensor([1, 998]) if flags.get('class_cond') else None
    with torch.no_grad():
        out = net(x, t, y)
    expected = _reference_forward(net.state_dict(), flags, x, t, y)
    assert out.shape == expected.shape
    torch.testing.assert_close(out.double(), expected, atol=1e-4, rtol=1e-4)


def test_new_attention_order_changes_the_output():
    torch.manual_seed(0)
    legacy = GuidedDiffusionUNet(**dict(TINY_PLAIN, use_new_attention_order=False)).eval()
    new = GuidedDiffusionUNet(**TINY_PLAIN).eval()
    with torch.no_grad():
        for param in legacy.parameters():
            param.normal_(0, 0.2)
    new.load_state_dict(legacy.state_dict())
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([10])
    with torch.no_grad():
        assert not torch.allclose(legacy(x, t), new(x, t))


def test_linear_schedule_gives_guided_diffusions_betas():
    for steps in (1000, 250):
        # guided-diffusion's get_named_beta_schedule('linear', T)
        scale = 1000 / steps
        expected = np.linspace(scale * 0.0001, scale * 0.02, steps, dtype=np.float64)
        betas = GaussianDiffusion(num_timesteps=steps, beta_schedule='linear').betas
        assert betas.dtype == torch.float64
        np.testing.assert_array_equal(betas.numpy(), expected)
    betas = GaussianDiffusion(num_timesteps=1000).betas
    assert betas[0] == 1e-4 and betas[-1] == 0.02


class _Payload:
    """A type outside the safe loader's allow-list."""


def test_strict_safe_loading(tmp_path):
    torch.manual_seed(0)
    net = GuidedDiffusionUNet(**TINY)
    bare = tmp_path / 'released.pt'
    torch.save(net.state_dict(), bare)
    other = GuidedDiffusionUNet(**TINY)
    other.load_checkpoint(str(bare))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                  other.state_dict().values()))
    # an mmengine checkpoint of ImageDDPM: the UNet under 'unet.'
    runner_ckpt = tmp_path / 'iter_10.pth'
    torch.save({'state_dict': {f'unet.{k}': v for k, v in net.state_dict().items()},
                'meta': {'iter': 10}}, runner_ckpt)
    load_unet_weights(other, str(runner_ckpt), prefix='unet.')
    with pytest.raises(Exception, match="no key under the prefix 'model.'"):
        load_unet_weights(other, str(runner_ckpt), prefix='model.')
    # another architecture: refused, naming the file
    with pytest.raises(CheckpointMismatchError, match='released.pt'):
        GuidedDiffusionUNet(**dict(TINY, class_cond=False)).load_checkpoint(str(bare))
    # a pickle needing a foreign type is not unpickled
    evil = tmp_path / 'evil.pt'
    torch.save({'state_dict': net.state_dict(), 'extra': _Payload()}, evil, pickle_protocol=2)
    with pytest.raises(UntrustedCheckpointError, match='evil.pt'):
        other.load_checkpoint(str(evil))
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        other.load_checkpoint(str(tmp_path / 'missing.pt'))
