"""DDPMFeatureExtractor: shapes, blocks and steps, the shared seeded noise, point sampling,
the frozen UNet kept out of the state dict, autocast, errors."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from segrefiner.models.backbones.ddpm_feature_extractor import DDPMFeatureExtractor

# 3 levels of widths 32, 32, 64: output blocks 0-1 (64 ch), 2-3 (32), 4-5 (32)
UNET = dict(type='GuidedDiffusionUNet', image_size=16, num_channels=32, num_res_blocks=1,
            channel_mult='1,1,2', attention_resolutions='', dropout=0.3)


def _extractor(**kwargs):
    torch.manual_seed(0)
    extractor = DDPMFeatureExtractor(unet=UNET, **kwargs)
    with torch.no_grad():  # non-trivial weights (guided-diffusion zero-initialises branches)
        for param in extractor.unet.parameters():
            param.normal_(0, 0.1)
    return extractor


def test_shapes_order_and_channels():
    extractor = _extractor(blocks=(3, 1, 4), steps=(50, 150))
    assert extractor.blocks == (1, 3, 4)
    assert extractor.block_channels == [64, 32, 32]
    assert extractor.feature_channels == 2 * 128
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    acts = extractor.extract(x)
    # step-major; block 1 ends its level with an up-sampling (4 → 8), block 3 (8 → 16)
    assert [tuple(a.shape) for a in acts] == [(2, 64, 8, 8), (2, 32, 16, 16), (2, 32, 16, 16)] * 2
    features = extractor(x)
    assert features.shape == (2, 256, 16, 16)
    torch.testing.assert_close(features[:, :64], F.interpolate(acts[0], size=(16, 16),
                                                               mode='bilinear'))
    # the second step's features differ from the first's
    assert not torch.allclose(features[:, 128:192], features[:, :64])
    inputs = _extractor(blocks=(3, 1, 4), steps=(50, ), activations='input')
    assert inputs.block_channels == [96, 64, 64]  # h concatenated with the skip
    assert [a.shape[1] for a in inputs.extract(x)] == [96, 64, 64]


def test_each_step_sees_its_q_sample_with_the_shared_noise():
    extractor = _extractor(blocks=(5, ), steps=(50, 250), noise_seed=3)
    seen = []
    extractor.unet.register_forward_pre_hook(lambda m, args: seen.append(args))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    extractor.extract(x)
    noise = torch.randn((1, 3, 16, 16), generator=torch.Generator().manual_seed(3))
    for (x_t, t), step in zip(seen, (50, 250)):
        assert t.tolist() == [step, step]  # t as is, no rescaling
        abar = extractor.diffusion.alphas_cumprod[step].float()
        torch.testing.assert_close(x_t, abar.sqrt() * x + (1 - abar).sqrt() * noise)
    # one noise for all images: the same image twice has the same features
    twice = extractor(x[:1].repeat(2, 1, 1, 1))
    torch.testing.assert_close(twice[0], twice[1])
    other = _extractor(blocks=(5, ), steps=(50, 250), noise_seed=4)
    assert not torch.allclose(other(x), extractor(x))


def test_stops_after_the_last_block_and_stays_frozen():
    extractor = _extractor(blocks=(1, 2))
    calls = []
    for i, block in enumerate(extractor.unet.output_blocks):
        block.register_forward_pre_hook(lambda m, a, i=i: calls.append(i))
    extractor.train()
    assert not extractor.unet.training  # no dropout at extraction
    extractor.extract(torch.zeros(1, 3, 16, 16))
    assert calls == [0, 1, 2] * 3
    assert not any(p.requires_grad for p in extractor.unet.parameters())


def test_sample_equals_the_upsampled_map():
    extractor = _extractor(blocks=(1, 2, 5), steps=(50, ))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    acts = extractor.extract(x)
    full = extractor(x)
    points = torch.tensor([[[0, 0], [15, 15], [3, 9], [8, 0]], [[15, 0], [1, 1], [7, 8], [0, 15]]])
    sampled = extractor.sample(acts, points, (16, 16))
    expected = torch.stack([full[b, :, points[b, :, 0], points[b, :, 1]].T for b in range(2)])
    torch.testing.assert_close(sampled, expected, atol=1e-5, rtol=1e-5)


def test_unet_weights_stay_out_of_the_state_dict(tmp_path):
    extractor = _extractor(blocks=(1, ))
    assert not any(k.startswith('unet.') for k in extractor.state_dict())
    before = {k: v.clone() for k, v in extractor.unet.state_dict().items()}
    extractor.load_state_dict(extractor.state_dict(), strict=True)
    assert all(torch.equal(before[k], v) for k, v in extractor.unet.state_dict().items())
    # the UNet comes from its own checkpoint
    path = tmp_path / 'ddpm.pth'
    torch.save({'state_dict': {f'unet.{k}': v for k, v in before.items()}}, path)
    loaded = DDPMFeatureExtractor(unet=UNET, blocks=(1, ), checkpoint=str(path),
                                  checkpoint_prefix='unet.')
    assert all(torch.equal(before[k], v) for k, v in loaded.unet.state_dict().items())


def test_bfloat16_autocast():
    extractor = _extractor(blocks=(1, 3), steps=(50, ))
    half = _extractor(blocks=(1, 3), steps=(50, ), autocast_dtype='bfloat16')
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    ref, low = extractor.extract(x), half.extract(x)
    assert all(a.dtype == torch.bfloat16 for a in low)
    for a, b in zip(ref, low):
        torch.testing.assert_close(b.float(), a, atol=0.1, rtol=0.05)


def test_errors():
    with pytest.raises(ValueError, match=r'blocks must be .* \[0, 6\)'):
        DDPMFeatureExtractor(unet=UNET, blocks=(6, ))
    with pytest.raises(ValueError, match='steps must be'):
        DDPMFeatureExtractor(unet=UNET, blocks=(1, ), steps=(1000, ))
    with pytest.raises(ValueError, match='activations'):
        DDPMFeatureExtractor(unet=UNET, blocks=(1, ), activations='middle')
    with pytest.raises(ValueError, match='autocast_dtype'):
        DDPMFeatureExtractor(unet=UNET, blocks=(1, ), autocast_dtype='int8')
    with pytest.raises(TypeError, match='no output_blocks'):
        MODELS.build(dict(type='DDPMFeatureExtractor',
                          unet=dict(type='mmseg.UNet', in_channels=3, base_channels=8)))
