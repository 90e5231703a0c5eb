"""GaussianDiffusion: cosine schedule, corruption, step levels, DDIM update."""
import math

import pytest
import torch

from segrefiner.models import GaussianDiffusion


def cosine_alpha(t, T=300, s=0.008):
    f = [math.cos((x / T + s) / (1 + s) * math.pi / 2)**2 for x in (t, 0)]
    return f[0] / f[1]


def test_schedule_is_the_cosine_schedule():
    diffusion = GaussianDiffusion(num_timesteps=300)
    a = diffusion.alphas_cumprod
    assert a.shape == (301, ) and a[0] == 1 and a[-1] == 0
    assert bool((a[1:] < a[:-1]).all())
    for t in (1, 50, 100, 150, 299):
        assert float(a[t]) == pytest.approx(cosine_alpha(t), abs=1e-12)
    assert float(a[100]) == pytest.approx(0.7429, abs=1e-4)


def test_q_sample_interpolates_signal_and_noise():
    diffusion = GaussianDiffusion(num_timesteps=10)
    x0 = torch.rand(3, 2, 4, 4) * 2 - 1
    noise = torch.randn(3, 2, 4, 4)
    out = diffusion.q_sample(x0, torch.tensor([0, 10, 5]), noise)
    torch.testing.assert_close(out[0], x0[0])
    torch.testing.assert_close(out[1], noise[1])
    a = float(diffusion.alphas_cumprod[5])
    torch.testing.assert_close(out[2], math.sqrt(a) * x0[2] + math.sqrt(1 - a) * noise[2])
    t = diffusion.sample_timesteps(2000, torch.device('cpu'), torch.Generator().manual_seed(0))
    assert int(t.min()) == 0 and int(t.max()) == 10


def test_step_levels():
    diffusion = GaussianDiffusion(num_timesteps=300)
    assert diffusion.step_levels(100, 5) == [100, 80, 60, 40, 20]
    assert diffusion.step_levels(100, 1) == [100]
    assert diffusion.step_levels(0, 1) == [0]
    assert diffusion.step_levels(20, 20) == list(range(20, 0, -1))
    assert diffusion.step_levels(300, 3) == [300, 200, 100]
    with pytest.raises(ValueError, match='num_steps must be in'):
        diffusion.step_levels(10, 11)
    with pytest.raises(ValueError, match='num_steps must be in'):
        diffusion.step_levels(10, 0)
    with pytest.raises(ValueError, match='t_level must be in'):
        diffusion.step_levels(-1, 1)


def test_ddim_step_with_the_true_x0_stays_on_the_noise_path():
    """A perfect x0 prediction moves x_t to x_{t'} with the same noise (η = 0)."""
    diffusion = GaussianDiffusion(num_timesteps=300)
    x0 = torch.rand(2, 3, 5, 5, dtype=torch.float64) * 2 - 1
    noise = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    x_t = diffusion.q_sample(x0, torch.tensor([120, 120]), noise)
    for t_next in (60, 0):
        torch.testing.assert_close(diffusion.ddim_step(x_t, x0, 120, t_next),
                                   diffusion.q_sample(x0, torch.tensor([t_next] * 2), noise))
    with pytest.raises(ValueError, match='t_next < t'):
        diffusion.ddim_step(x_t, x0, 10, 10)
