"""DenoiseUNet: the released layout, building from the registry, the legacy attention split."""
import math
from pathlib import Path

import pytest
import torch
from mmseg.registry import MODELS

from segrefiner.models.denoisers.denoise_unet import AttentionBlock

LISTING = Path(__file__).resolve().parents[3].parent / 'shared' / 'design' / \
    'segrefiner_unet_state_dict.txt'


def test_released_configuration_matches_the_checkpoint_listing():
    if not LISTING.is_file():
        pytest.skip(f'{LISTING} not present')
    net = MODELS.build(dict(type='DenoiseUNet'))
    assert sum(p.numel() for p in net.parameters()) == 118_604_673
    listing = {}
    for line in LISTING.read_text().splitlines():
        if not line.startswith('#'):
            key, shape = line.split('\t')
            listing[key] = eval(shape)
    state = net.state_dict()
    assert len(state) == 453
    assert list(state) == list(listing)
    assert {k: tuple(v.shape) for k, v in state.items()} == listing
    assert net.time_embed.weight.shape == (6, 512)


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


def test_attention_head_divisibility():
    with pytest.raises(ValueError, match='divisible'):
        AttentionBlock(channels=10, num_heads=4, norm_groups=2)
