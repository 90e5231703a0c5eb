"""GaussianDiffusionHead: mask encoding, the schedule it runs, its loss and one DDIM step by
hand."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

TINY_UNET = dict(type='DenoiseUNet', model_channels=8, num_res_blocks=1, channel_mult=(1, 2),
                 attention_strides=(), num_heads=1, norm_groups=4, time_embedding='sinusoidal')


def build_head(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('denoiser', TINY_UNET)
    return MODELS.build(dict(type='GaussianDiffusionHead', **kwargs))


def gt_samples(gt):
    """One ``SegDataSample`` per (1, H, W) map of the (B, 1, H, W) batch."""
    return [SegDataSample(gt_sem_seg=PixelData(data=g)) for g in gt]


def linear_alpha_bar(t, num_timesteps=1000):
    """ᾱ_t of the linear schedule by its definition, in plain Python."""
    beta = [1e-4 + (0.02 - 1e-4) * s / (num_timesteps - 1) for s in range(num_timesteps)]
    return math.prod(1 - b for b in beta[:t + 1])


def test_default_schedule_is_the_seeds():
    head = build_head()
    alphas = head.diffusion.alphas_cumprod
    assert head.num_timesteps == 1000 and alphas.numel() == 1000
    assert head.diffusion.betas[0].item() == pytest.approx(1e-4)
    assert head.diffusion.betas[-1].item() == pytest.approx(0.02)
    for t in (0, 250, 500, 999):
        assert alphas[t].item() == pytest.approx(linear_alpha_bar(t), rel=1e-9)
    assert alphas[999].item() < 5e-5  # x_T is noise: sqrt(ᾱ_T) < 0.007
    assert head.reverse_timesteps('ddim')[:3] == [980, 960, 940]
    assert len(head.reverse_timesteps('ddim')) == 50
    assert head.reverse_timesteps('ddpm') == list(range(999, -1, -1))
    cosine = build_head(diffusion=dict(type='GaussianDiffusion', beta_schedule='cosine'))
    assert cosine.diffusion.alphas_cumprod[-1].item() < 1e-8


def test_q_sample_statistics():
    """x_t | x0 ~ N(sqrt(ᾱ_t) x0, 1 − ᾱ_t) for the ±1 mask values."""
    head = build_head()
    t = 300
    x0 = torch.tensor([-1.0, 1.0]).repeat(100_000, 1)  # (N, 2)
    x_t = head.diffusion.corrupt(x0, torch.full((x0.shape[0], ), t),
                                 generator=torch.Generator().manual_seed(0))
    alpha = linear_alpha_bar(t)
    assert x_t.mean(0).tolist() == pytest.approx([-math.sqrt(alpha), math.sqrt(alpha)],
                                                 abs=0.01)
    assert x_t.std(0).tolist() == pytest.approx([math.sqrt(1 - alpha)] * 2, rel=0.01)
    centred = x_t - math.sqrt(alpha) * x0
    assert torch.corrcoef(centred.T)[0, 1].abs().item() < 0.01  # independent pixels


def test_masks_binary_and_one_hot_with_ignored_pixels():
    gt = torch.tensor([[[[0, 1], [255, 1]]]])
    x0, valid = build_head().encode_masks(gt)
    assert x0.tolist() == [[[[-1.0, 1.0], [-1.0, 1.0]]]]
    assert valid.tolist() == [[[[True, True], [False, True]]]]
    gt3 = torch.tensor([[[[0, 2], [255, 1]]]])
    x0, _ = build_head(num_classes=3).encode_masks(gt3)
    assert x0.shape == (1, 3, 2, 2)
    assert x0[0, :, 0, 1].tolist() == [-1.0, -1.0, 1.0]
    assert x0[0, :, 1, 0].tolist() == [-1.0, -1.0, -1.0]  # ignored: no class
    with pytest.raises(ValueError, match=r'GT labels \[2, 7\].*binary masks must be 0/1'):
        build_head().encode_masks(torch.tensor([[[[0, 2], [7, 255]]]]))


def test_to_probs():
    head = build_head()
    assert head.to_probs(torch.tensor([[[[-1.0, 0.0, 1.0, 3.0]]]])).tolist() == [[[[
        0.0, 0.5, 1.0, 1.0]]]]
    head3 = build_head(num_classes=3)
    probs = head3.to_probs(torch.tensor([[1.0, 0.0, -1.0], [-1.0, -1.0, -1.0]])[..., None, None])
    assert probs[0, :, 0, 0].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert probs[1, :, 0, 0].tolist() == pytest.approx([1 / 3] * 3)  # all 0: uniform


def test_channels_come_from_the_head_and_mismatches_are_named():
    head = build_head(num_classes=4)
    assert head.out_channels == 4 and head.denoiser.in_channels == 3 + 4
    assert build_head(num_classes=2, out_channels=2).denoiser.in_channels == 5
    with pytest.raises(ValueError, match='denoiser in_channels=4 does not fit the head'):
        build_head(num_classes=3, denoiser=dict(TINY_UNET, in_channels=4))
    with pytest.raises(ValueError, match='denoiser num_timesteps=6'):
        build_head(denoiser=dict(TINY_UNET, num_timesteps=6))
    with pytest.raises(ValueError, match=r'out_channels must be num_classes \(3\), got 1'):
        build_head(num_classes=3, out_channels=1)
    with pytest.raises(ValueError, match='num_classes must be >= 2'):
        build_head(num_classes=1)
    with pytest.raises(ValueError, match="timestep_convention='ddpm'"):
        build_head(diffusion=dict(type='GaussianDiffusion', timestep_convention='levels'))


@pytest.mark.parametrize('prediction_type', ['epsilon', 'x0', 'v'])
def test_loss_is_the_mse_on_the_prediction_target_over_valid_pixels(prediction_type):
    head = build_head(diffusion=dict(type='GaussianDiffusion', prediction_type=prediction_type))
    img = torch.randn(2, 3, 8, 8)
    gt = torch.zeros(2, 1, 8, 8, dtype=torch.long)
    gt[:, :, 2:6, 2:6] = 1
    gt[1, :, :, 6:] = 255
    losses = head.loss(img, gt_samples(gt), None, generator=torch.Generator().manual_seed(3))
    assert set(losses) == {'loss_diffusion'}
    # the same draws by hand: t, then ε
    gen = torch.Generator().manual_seed(3)
    t = torch.randint(0, 1000, (2, ), generator=gen)
    noise = torch.randn(2, 1, 8, 8, generator=gen)
    x0 = torch.where(gt == 255, -1.0, 2.0 * gt - 1)
    alpha = head.diffusion.alphas_cumprod[t].float().view(2, 1, 1, 1)
    x_t = alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise
    target = dict(epsilon=noise, x0=x0,
                  v=alpha.sqrt() * noise - (1 - alpha).sqrt() * x0)[prediction_type]
    with torch.no_grad():
        output = head(torch.cat([img, x_t], 1), t)
    valid = gt != 255
    expected = (output - target)[valid].square().mean()
    assert losses['loss_diffusion'].item() == pytest.approx(expected.item(), rel=1e-5)
    losses['loss_diffusion'].backward()
    assert head.denoiser.time_embed[0].weight.grad.abs().sum() > 0


def test_one_ddim_step_by_hand():
    """First step of a 50-step DDIM run (t = 980 → 960) with a denoiser that outputs 0.3."""
    head = build_head()

    seen = []

    class ConstantEps(torch.nn.Module):
        def forward(self, x, t):
            seen.append((x[:, :3].clone(), t.tolist()))
            return torch.full_like(x[:, 3:], 0.3)

    head.denoiser = ConstantEps()
    steps = []
    head.sample(torch.full((1, 3, 2, 2), 7.0), [980, 960], 'ddim', 0.0,
                torch.Generator().manual_seed(0),
                callback=lambda t, x_prev, x0: steps.append((x_prev, x0)))
    assert [t for _, t in seen] == [[980], [960]] and (seen[0][0] == 7).all()  # image first
    x_t = torch.randn(1, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    a_t, a_prev = linear_alpha_bar(980), linear_alpha_bar(960)
    for i, value in enumerate(x_t.flatten().tolist()):
        x0 = min(max((value - math.sqrt(1 - a_t) * 0.3) / math.sqrt(a_t), -1.0), 1.0)
        eps = (value - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        x_prev = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
        assert steps[0][1].flatten()[i].item() == pytest.approx(x0, rel=1e-5)
        assert steps[0][0].flatten()[i].item() == pytest.approx(x_prev, rel=1e-5)


def test_sampling_cfg_errors():
    head = build_head()
    assert head.sampling_cfg(None) == dict(sampler='ddim', num_steps=None, eta=0.0,
                                           num_samples=1)
    for bad, match in [(dict(sampler='euler'), 'test_cfg.sampler'),
                       (dict(num_steps=0), 'test_cfg.num_steps'),
                       (dict(num_steps=1001), 'test_cfg.num_steps'),
                       (dict(eta=1.5), r'test_cfg.eta must lie in \[0, 1\]'),
                       (dict(sampler='ddpm', eta=0.5), "applies to sampler='ddim'"),
                       (dict(num_samples=0), 'test_cfg.num_samples')]:
        with pytest.raises(ValueError, match=match):
            head.sampling_cfg(bad)
