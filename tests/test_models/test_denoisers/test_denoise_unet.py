"""DenoiseUNet: the released layout, guided-diffusion's layout, each option, the attention split."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from segrefiner.models.denoisers.denoise_unet import (AttentionBlock, DenoiseUNet, ResBlock,
                                                      SinusoidalTimestepEmbedding)

DATA = Path(__file__).resolve().parents[2] / 'data'
SEGREFINER_LISTING = DATA / 'segrefiner_unet_state_dict.txt'
GUIDED_LISTING = DATA / 'guided_diffusion_unet_lsun256_state_dict.txt'

# guided-diffusion's UNetModel with ddpm-segmentation's flags (the listing's header):
# num_channels 256, num_res_blocks 2, attention_resolutions 32,16,8 at image_size 256 (down-
# sampling factors 8, 16, 32), channel_mult (1, 1, 2, 2, 4, 4), num_head_channels 64,
# use_scale_shift_norm, resblock_updown, learn_sigma (6 output channels), dropout 0.1.
GUIDED_LSUN256 = dict(
    in_channels=3, out_channels=6, model_channels=256, num_res_blocks=2,
    channel_mult=(1, 1, 2, 2, 4, 4), attention_strides=(8, 16, 32), num_head_channels=64,
    dropout=0.1, time_embedding='sinusoidal', use_scale_shift_norm=True, resblock_updown=True,
    zero_init_output=True, zero_init_residual=True)
# the same options at a width and depth that run on a CPU
GUIDED_TINY = dict(GUIDED_LSUN256, model_channels=16, channel_mult=(1, 2, 2),
                   attention_strides=(2, 4), num_head_channels=8, norm_groups=8, dropout=0.0)


def _listing(path):
    rows = [ln.split('\t') for ln in path.read_text().splitlines() if not ln.startswith('#')]
    return {key: eval(shape) for key, shape in rows}


def _assert_layout(net, listing):
    state = net.state_dict()
    assert list(state) == list(listing)  # same names in the same order
    assert {k: tuple(v.shape) for k, v in state.items()} == listing


def test_released_configuration_matches_the_checkpoint_listing():
    with torch.device('meta'):  # only names, shapes and counts matter: no 475 MB of weights
        net = MODELS.build(dict(type='DenoiseUNet'))
    assert sum(p.numel() for p in net.parameters()) == 118_604_673
    assert len(net.state_dict()) == 453
    _assert_layout(net, _listing(SEGREFINER_LISTING))
    assert net.time_embed.weight.shape == (6, 512)


def test_guided_diffusion_flags_match_the_lsun256_listing():
    with torch.device('meta'):
        net = DenoiseUNet(**GUIDED_LSUN256)
    assert sum(p.numel() for p in net.parameters()) == 552_814_086
    assert len(net.state_dict()) == 566
    _assert_layout(net, _listing(GUIDED_LISTING))
    assert len(net.input_blocks) == len(net.output_blocks) == 18
    heads = {name: m.num_heads for name, m in net.named_modules()
             if isinstance(m, AttentionBlock)}
    assert heads['input_blocks.10.1'] == 8 and heads['middle_block.1'] == 16
    assert heads['output_blocks.8.1'] == 8  # width / num_head_channels everywhere
    assert net.size_divisor == 32


def test_tiny_forward_and_size_check():
    net = MODELS.build(dict(type='DenoiseUNet', model_channels=16, channel_mult=(1, 2, 2),
                            num_res_blocks=1, attention_strides=(4, ), num_heads=2,
                            norm_groups=8))
    out = net(torch.randn(3, 4, 32, 48), torch.tensor([0, 3, 5]))
    assert out.shape == (3, 1, 32, 48)
    # the timestep changes the output
    x = torch.randn(1, 4, 32, 32)
    assert not torch.allclose(net(x, torch.tensor([0])), net(x, torch.tensor([5])))
    with pytest.raises(ValueError, match='divisible by 4'):
        net(torch.randn(1, 4, 30, 32), torch.tensor([0]))


def test_guided_options_forward_at_any_multiple_of_the_size_divisor():
    torch.manual_seed(0)
    net = DenoiseUNet(**dict(GUIDED_TINY, zero_init_output=False, zero_init_residual=False))
    assert net.size_divisor == 4
    for height, width in ((8, 12), (20, 4)):
        out = net(torch.randn(2, 3, height, width), torch.tensor([50, 999]))
        assert out.shape == (2, 6, height, width)
    x = torch.randn(1, 3, 8, 8).repeat(2, 1, 1, 1)
    out = net(x, torch.tensor([50.0, 250.0]))  # float timesteps are taken as they are
    assert not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match='divisible by 4'):
        net(torch.randn(1, 3, 10, 8), torch.tensor([0]))


def test_zero_init_options():
    torch.manual_seed(0)
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([1, 700])
    net = DenoiseUNet(**GUIDED_TINY)
    assert not net(x, t).any()
    # every residual branch starts at zero: blocks are their skip connections
    block = net.input_blocks[1][0]
    h = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(h, net.time_embed(t)), h)
    attn = net.input_blocks[4][1]
    h = torch.randn(2, 32, 4, 4)
    torch.testing.assert_close(attn(h), h)
    # only the output layer
    net = DenoiseUNet(**dict(GUIDED_TINY, zero_init_residual=False))
    assert not net(x, t).any()
    assert net.input_blocks[1][0].out_layers[-1].weight.abs().sum() > 0
    # defaults: PyTorch's init everywhere (SegRefiner's released training)
    net = DenoiseUNet(model_channels=16, channel_mult=(1, 2), norm_groups=8)
    assert net.out[-1].weight.abs().sum() > 0
    assert net.middle_block[1].proj_out.weight.abs().sum() > 0


def test_learned_and_sinusoidal_time_embeddings():
    learned = DenoiseUNet(model_channels=16, channel_mult=(1, 2), norm_groups=8)
    assert list(learned.time_embed.state_dict()) == ['weight']
    sinus = DenoiseUNet(model_channels=16, channel_mult=(1, 2), norm_groups=8,
                        time_embedding='sinusoidal', num_timesteps=300)
    assert sinus.num_timesteps == 300
    assert {k: tuple(v.shape) for k, v in sinus.time_embed.state_dict().items()} == {
        '0.weight': (64, 16), '0.bias': (64, ), '2.weight': (64, 64), '2.bias': (64, )}
    with pytest.raises(ValueError, match="time_embedding must be one of"):
        DenoiseUNet(time_embedding='fourier')


def test_sinusoidal_embedding_is_guided_diffusions():
    torch.manual_seed(0)
    emb = SinusoidalTimestepEmbedding(8, 16)
    t = torch.tensor([0, 7, 299])
    # guided-diffusion's timestep_embedding: cos then sin of t * 10000^(-i / half)
    freqs = torch.tensor([10000.0**(-i / 4) for i in range(4)])
    features = torch.cat([torch.cos(t[:, None] * freqs), torch.sin(t[:, None] * freqs)], 1)
    expected = emb[2](F.silu(emb[0](features)))
    torch.testing.assert_close(emb(t), expected)
    with pytest.raises(ValueError, match='even'):
        SinusoidalTimestepEmbedding(7, 16)


def _by_hand_resblock(block, x, emb, resample=None):
    """guided-diffusion's ResBlock._forward, written out."""
    gn_in, _, conv_in = block.in_layers
    gn_out, _, _, conv_out = block.out_layers
    h = F.silu(gn_in(x))
    if resample is not None:
        h, x = resample(h), resample(x)
    h = conv_in(h)
    e = block.emb_layers[1](F.silu(emb))[..., None, None]
    if block.use_scale_shift_norm:
        scale, shift = e.chunk(2, dim=1)
        h = gn_out(h) * (1 + scale) + shift
    else:
        h = gn_out(h + e)
    return block.skip_connection(x) + conv_out(F.silu(h))


@pytest.mark.parametrize('scale_shift', [False, True])
@pytest.mark.parametrize('updown', ['none', 'up', 'down'])
def test_resblock_scale_shift_and_resampling(scale_shift, updown):
    torch.manual_seed(0)
    out_ch = 8 if updown == 'none' else 4
    block = ResBlock(4, 12, out_ch, norm_groups=2, use_scale_shift_norm=scale_shift,
                     up=updown == 'up', down=updown == 'down').eval()
    assert block.emb_layers[1].out_features == out_ch * (2 if scale_shift else 1)
    x, emb = torch.randn(2, 4, 6, 6), torch.randn(2, 12)
    resample = {'none': None, 'up': lambda v: F.interpolate(v, scale_factor=2, mode='nearest'),
                'down': lambda v: F.avg_pool2d(v, 2)}[updown]
    out = block(x, emb)
    assert out.shape[-1] == {'none': 6, 'up': 12, 'down': 3}[updown]
    torch.testing.assert_close(out, _by_hand_resblock(block, x, emb, resample))
    # re-sampling adds no parameters
    assert not any('upd' in k for k in block.state_dict())


def test_resblock_updown_replaces_the_resampling_layers():
    plain = DenoiseUNet(model_channels=8, channel_mult=(1, 2), num_res_blocks=1, norm_groups=4,
                        attention_strides=())
    assert 'input_blocks.2.0.op.weight' in plain.state_dict()
    assert 'output_blocks.1.1.conv.weight' in plain.state_dict()
    updown = DenoiseUNet(model_channels=8, channel_mult=(1, 2), num_res_blocks=1,
                         norm_groups=4, attention_strides=(), resblock_updown=True)
    assert updown.input_blocks[2][0].updown and updown.output_blocks[1][1].updown
    pooled = DenoiseUNet(model_channels=8, channel_mult=(1, 2), num_res_blocks=1,
                         norm_groups=4, attention_strides=(), conv_resample=False)
    assert not any('.op.' in k or '.conv.' in k for k in pooled.state_dict())
    out = pooled(torch.randn(1, 4, 8, 8), torch.tensor([2]))
    assert out.shape == (1, 1, 8, 8)


def test_attention_uses_the_legacy_head_split():
    torch.manual_seed(0)
    block = AttentionBlock(channels=16, num_heads=4, norm_groups=4).eval()
    x = torch.randn(2, 16, 3, 5)
    # by hand: reshape qkv to (B·heads, 3·C/heads, T) first, then split q, k, v per head
    flat = x.reshape(2, 16, 15)
    qkv = block.qkv(block.norm(flat)).reshape(8, 12, 15)
    q, k, v = qkv[:, :4], qkv[:, 4:8], qkv[:, 8:]
    scale = 1 / math.sqrt(math.sqrt(4))
    w = torch.einsum('bct,bcs->bts', q * scale, k * scale).softmax(-1)
    h = torch.einsum('bts,bcs->bct', w, v).reshape(2, 16, 15)
    expected = (flat + block.proj_out(h)).reshape(2, 16, 3, 5)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_attention_heads_by_count_or_by_width():
    assert AttentionBlock(channels=16, num_heads=4, norm_groups=4).num_heads == 4
    assert AttentionBlock(channels=48, num_heads=4, norm_groups=4,
                          num_head_channels=8).num_heads == 6
    with pytest.raises(ValueError, match='divisible'):
        AttentionBlock(channels=10, num_heads=4, norm_groups=2)
    with pytest.raises(ValueError, match='num_head_channels'):
        AttentionBlock(channels=24, num_heads=4, norm_groups=4, num_head_channels=16)
    net = DenoiseUNet(model_channels=8, channel_mult=(1, 2), num_res_blocks=1, norm_groups=4,
                      attention_strides=(1, 2), num_heads=2, num_heads_upsample=4)
    heads = {n: m.num_heads for n, m in net.named_modules() if isinstance(m, AttentionBlock)}
    assert heads == {'input_blocks.1.1': 2, 'input_blocks.3.1': 2, 'middle_block.1': 2,
                     'output_blocks.0.1': 4, 'output_blocks.1.1': 4, 'output_blocks.2.1': 4,
                     'output_blocks.3.1': 4}
