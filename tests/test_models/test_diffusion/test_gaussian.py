"""GaussianDiffusion: schedules against guided-diffusion / improved-DDPM, the residual refiner's
levels, corruption, model-output conversions, DDPM and DDIM steps and the loop."""
import math

import numpy as np
import pytest
import torch

from segrefiner.models import GaussianDiffusion
from segrefiner.models.diffusion.gaussian import CLEAN
from segrefiner.models.segmentors.residual_refiner import DIFFUSION_DEFAULTS


def refiner_diffusion(num_timesteps=300, **kwargs):
    """The schedule the ResidualRefiner builds from ``dict(type=..., num_timesteps=300)``."""
    return GaussianDiffusion(num_timesteps=num_timesteps, **{**DIFFUSION_DEFAULTS, **kwargs})


def cosine_f(t, T, s=0.008):
    return math.cos((t / T + s) / (1 + s) * math.pi / 2)**2


# ----------------------------------------------------------------- schedules
def test_linear_betas_are_guided_diffusions():
    """get_named_beta_schedule('linear', T): scale = 1000 / T, linspace(scale 1e-4, scale 0.02)."""
    diffusion = GaussianDiffusion(num_timesteps=1000, beta_schedule='linear')
    betas = diffusion.betas.numpy()
    assert diffusion.betas.dtype == torch.float64 and betas.shape == (1000, )
    assert betas[0] == 0.0001 and betas[-1] == 0.02
    for i in (1, 250, 500, 998):  # start + i (end - start) / (T - 1), written out
        assert betas[i] == pytest.approx(0.0001 + i * (0.02 - 0.0001) / 999, rel=1e-13)
    assert betas[1] == pytest.approx(1.1991991991991992e-04, rel=1e-13)
    alphas_cumprod = diffusion.alphas_cumprod.numpy()
    expected = 1.0
    for i in range(1000):
        expected *= 1 - betas[i]
        if i in (0, 499, 999):
            assert alphas_cumprod[i] == pytest.approx(expected, rel=1e-12)
    assert alphas_cumprod[-1] == pytest.approx(4.0358e-05, rel=1e-4)  # guided-diffusion's ᾱ_999

    short = GaussianDiffusion(num_timesteps=250)
    assert short.betas[0].item() == pytest.approx(4 * 0.0001, rel=1e-14)
    assert short.betas[-1].item() == pytest.approx(4 * 0.02, rel=1e-14)
    with pytest.raises(ValueError, match='needs num_timesteps >= 20'):
        GaussianDiffusion(num_timesteps=10)


def test_cosine_betas_are_improved_ddpms():
    """betas_for_alpha_bar: β_i = min(1 - ᾱ((i+1)/T) / ᾱ(i/T), 0.999)."""
    T = 100
    diffusion = GaussianDiffusion(num_timesteps=T, beta_schedule='cosine')
    alpha_bar = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2)**2  # noqa: E731
    expected = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999) for i in range(T)]
    assert diffusion.betas.tolist() == pytest.approx(expected, rel=1e-13, abs=0)
    assert diffusion.betas[-1].item() == 0.999  # clipped
    # the telescoping product: ᾱ_t = ᾱ((t+1)/T) / ᾱ(0) below the clipped last step
    for t in (0, 10, 50, 98):
        assert diffusion.alphas_cumprod[t].item() == pytest.approx(
            alpha_bar((t + 1) / T) / alpha_bar(0), rel=1e-12)


def test_levels_are_the_residual_refiners_schedule():
    """Cosine ᾱ over the integer levels 0..T, ᾱ_0 = 1 and ᾱ_T = 0 (the refiner's first version,
    bit for bit)."""
    diffusion = refiner_diffusion()
    a = diffusion.alphas_cumprod
    assert a.shape == (301, ) and a[0] == 1 and a[-1] == 0 and diffusion.max_timestep == 300
    assert bool((a[1:] < a[:-1]).all())
    t = torch.arange(301, dtype=torch.float64) / 300
    f = torch.cos((t + 0.008) / (1 + 0.008) * math.pi / 2)**2
    first = (f / f[0]).clamp(0.0, 1.0)
    first[-1] = 0.0
    assert torch.equal(a, first)
    for level in (1, 50, 100, 150, 299):
        assert float(a[level]) == pytest.approx(cosine_f(level, 300) / cosine_f(0, 300),
                                                abs=1e-12)
    assert float(a[100]) == pytest.approx(0.7429, abs=1e-4)
    # level t has the ᾱ of ddpm timestep t - 1 (up to rounding; the last is pure noise)
    ddpm = GaussianDiffusion(num_timesteps=300, beta_schedule='cosine')
    torch.testing.assert_close(a[1:-1], ddpm.alphas_cumprod[:-1], rtol=1e-12, atol=0)

    linear = GaussianDiffusion(num_timesteps=100, timestep_convention='levels')
    linear_ddpm = GaussianDiffusion(num_timesteps=100)
    assert linear.alphas_cumprod[0] == 1 and linear.max_timestep == 100
    assert torch.equal(linear.alphas_cumprod[1:], linear_ddpm.alphas_cumprod)


def test_invalid_options_are_named():
    for key, value in (('beta_schedule', 'quadratic'), ('prediction_type', 'score'),
                       ('timestep_convention', 'karras'), ('timestep_spacing', 'middle')):
        with pytest.raises(ValueError, match=f"{key} must be one of .*'{value}'"):
            GaussianDiffusion(**{key: value})
    with pytest.raises(ValueError, match='num_timesteps must be >= 1'):
        GaussianDiffusion(num_timesteps=0)


# ----------------------------------------------------------------- training
def test_sample_timesteps_cover_each_convention():
    gen = torch.Generator().manual_seed(0)
    t = GaussianDiffusion(num_timesteps=20).sample_timesteps(2000, torch.device('cpu'), gen)
    assert t.dtype == torch.int64 and t.shape == (2000, )
    assert int(t.min()) == 0 and int(t.max()) == 19
    levels = refiner_diffusion(num_timesteps=10)
    t = levels.sample_timesteps(2000, torch.device('cpu'), torch.Generator().manual_seed(0))
    assert int(t.min()) == 0 and int(t.max()) == 10
    draw = lambda: levels.sample_timesteps(  # noqa: E731
        8, torch.device('cpu'), torch.Generator().manual_seed(3))
    assert torch.equal(draw(), draw())


def test_corrupt_interpolates_signal_and_noise():
    diffusion = refiner_diffusion(num_timesteps=10)
    x0 = torch.rand(3, 2, 4, 4) * 2 - 1
    noise = torch.randn(3, 2, 4, 4)
    out = diffusion.corrupt(x0, torch.tensor([0, 10, 5]), noise)
    assert out.shape == x0.shape and out.dtype == x0.dtype
    torch.testing.assert_close(out[0], x0[0])
    torch.testing.assert_close(out[1], noise[1])
    a = float(diffusion.alphas_cumprod[5])
    torch.testing.assert_close(out[2], math.sqrt(a) * x0[2] + math.sqrt(1 - a) * noise[2])
    # any number of dimensions; the noise from a generator when not given
    ddpm = GaussianDiffusion(num_timesteps=1000)
    x = torch.rand(4, 3) * 2 - 1
    t = torch.tensor([0, 10, 500, 999])
    drawn = lambda seed: ddpm.corrupt(x, t, generator=torch.Generator().manual_seed(seed))  # noqa
    assert drawn(1).shape == (4, 3)
    assert torch.equal(drawn(1), drawn(1)) and not torch.equal(drawn(1), drawn(2))
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(drawn(1), ddpm.corrupt(x, t, eps))


@pytest.mark.parametrize('prediction_type', ['epsilon', 'x0', 'v'])
def test_prediction_target_converts_back_to_x0_and_eps(prediction_type):
    diffusion = GaussianDiffusion(num_timesteps=1000, prediction_type=prediction_type,
                                  clip_sample=False)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 2, 3, 3, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 99, 500, 999])
    x_t = diffusion.corrupt(x0, t, noise)
    target = diffusion.prediction_target(x0, noise, t)
    if prediction_type == 'v':
        a = diffusion.alphas_cumprod[t].view(-1, 1, 1, 1)
        torch.testing.assert_close(target, a.sqrt() * noise - (1 - a).sqrt() * x0)
    torch.testing.assert_close(diffusion.predict_x0(target, t, x_t), x0)
    torch.testing.assert_close(diffusion.predict_eps(x_t, t, x0), noise)
    for i, step in enumerate(t.tolist()):  # the shared (int) timestep gives the same
        torch.testing.assert_close(diffusion.predict_x0(target[i:i + 1], step, x_t[i:i + 1]),
                                   x0[i:i + 1])


def test_predict_x0_clips_when_asked():
    x_t = torch.full((1, 1, 2, 2), 3.0)
    eps = torch.zeros_like(x_t)
    assert GaussianDiffusion().predict_x0(eps, 10, x_t).max() == 1
    assert GaussianDiffusion(clip_sample=False).predict_x0(eps, 10, x_t).max() > 3


# ----------------------------------------------------------------- timesteps
def test_timesteps_of_the_residual_refiner():
    """``round(linspace(t_level, 0, K + 1))[:-1]``, the refiner's first version."""
    diffusion = refiner_diffusion()
    assert diffusion.timesteps(5, start=100) == [100, 80, 60, 40, 20]
    assert diffusion.timesteps(4, start=100) == [100, 75, 50, 25]
    assert diffusion.timesteps(3, start=30) == [30, 20, 10]
    assert diffusion.timesteps(1, start=100) == [100]
    assert diffusion.timesteps(1, start=0) == [0]
    assert diffusion.timesteps(20, start=20) == list(range(20, 0, -1))
    assert diffusion.timesteps(3, start=300) == [300, 200, 100]
    assert diffusion.timesteps(3) == [300, 200, 100]
    for start in (0, 1, 7, 150, 299, 300):
        for steps in sorted({1, 2, 3, 5, 10, max(start, 1)}):
            if steps <= max(start, 1):
                first = [int(v) for v in np.round(np.linspace(start, 0, steps + 1)[:-1])]
                assert diffusion.timesteps(steps, start=start) == first
    with pytest.raises(ValueError, match='num_steps must be in'):
        diffusion.timesteps(11, start=10)
    with pytest.raises(ValueError, match='num_steps must be in'):
        diffusion.timesteps(0, start=10)
    with pytest.raises(ValueError, match=r'start must be in \[0, 300\]'):
        diffusion.timesteps(1, start=-1)
    with pytest.raises(ValueError, match=r'start must be in \[0, 300\]'):
        diffusion.timesteps(1, start=301)


def test_timesteps_of_ddpm_and_ddim():
    """All T for DDPM; guided-diffusion's ddimK stride for 'leading', diffusers' 'trailing'."""
    diffusion = GaussianDiffusion(num_timesteps=1000)
    assert diffusion.timesteps() == list(range(999, -1, -1))
    assert diffusion.timesteps(1000) == list(range(999, -1, -1))
    assert diffusion.timesteps(50) == list(range(0, 1000, 20))[::-1]
    assert diffusion.timesteps(30) == list(range(0, 1000, 34))[::-1]  # ceil(1000 / 34) = 30
    assert diffusion.timesteps(10, start=99) == list(range(0, 100, 10))[::-1]
    with pytest.raises(ValueError, match="no stride gives exactly 47 steps.*'trailing'"):
        diffusion.timesteps(47)
    with pytest.raises(ValueError, match=r'start must be in \[0, 999\]'):
        diffusion.timesteps(10, start=1000)
    trailing = GaussianDiffusion(num_timesteps=1000, timestep_spacing='trailing')
    assert trailing.timesteps(50) == list(range(999, 0, -20))
    assert trailing.timesteps(1000) == list(range(999, -1, -1))
    assert len(trailing.timesteps(47)) == 47


# ----------------------------------------------------------------- steps
def test_ddpm_posterior_at_a_hand_computed_point():
    """T = 1000 linear, t = 1 → 0: β_1 = 1e-4 + 0.0199 / 999, ᾱ_0 = 1 - 1e-4,
    ᾱ_1 = ᾱ_0 (1 - β_1); mean = β_1 sqrt(ᾱ_0) / (1 - ᾱ_1) x0 + (1 - ᾱ_0) sqrt(1 - β_1) /
    (1 - ᾱ_1) x_t, variance β_1 (1 - ᾱ_0) / (1 - ᾱ_1) (guided-diffusion's q_posterior)."""
    beta1 = 0.0001 + 0.0199 / 999
    a0, a1 = 1 - 0.0001, (1 - 0.0001) * (1 - beta1)
    coef_x0 = beta1 * math.sqrt(a0) / (1 - a1)
    coef_xt = (1 - a0) * math.sqrt(1 - beta1) / (1 - a1)
    var = beta1 * (1 - a0) / (1 - a1)
    assert (coef_x0, coef_xt, var) == pytest.approx((0.545291, 0.454708, 5.45319e-05), rel=1e-5)

    diffusion = GaussianDiffusion(num_timesteps=1000, prediction_type='x0')
    x0 = torch.full((2, 1, 3, 3), 0.5, dtype=torch.float64)
    x_t = torch.full((2, 1, 3, 3), -0.2, dtype=torch.float64)
    x_prev, x0_pred = diffusion.step(x0, 1, x_t, sampler='ddpm',
                                     generator=torch.Generator().manual_seed(5))
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(x_prev, coef_x0 * 0.5 + coef_xt * -0.2 + math.sqrt(var) * z,
                               rtol=1e-12, atol=1e-15)
    assert torch.equal(x0_pred, x0)
    # a strided step: β' = 1 - ᾱ_t / ᾱ_prev
    a_t, a_p = (float(diffusion.alphas_cumprod[i]) for i in (600, 500))
    beta = 1 - a_t / a_p
    mean = (beta * math.sqrt(a_p) / (1 - a_t) * 0.5 +
            (1 - a_p) * math.sqrt(1 - beta) / (1 - a_t) * -0.2)
    x_prev, _ = diffusion.step(x0, 600, x_t, prev_t=500, sampler='ddpm',
                               generator=torch.Generator().manual_seed(5))
    sigma = math.sqrt(beta * (1 - a_p) / (1 - a_t))
    torch.testing.assert_close(x_prev, mean + sigma * z, rtol=1e-12, atol=1e-15)


def test_ddim_with_eta_one_is_the_ddpm_posterior():
    diffusion = GaussianDiffusion(num_timesteps=1000, clip_sample=False)
    gen = torch.Generator().manual_seed(0)
    x_t = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    eps = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    for t, prev in ((999, 998), (500, 480), (20, 0)):
        ddim, _ = diffusion.step(eps, t, x_t, prev, sampler='ddim', eta=1.0,
                                 generator=torch.Generator().manual_seed(1))
        ddpm, _ = diffusion.step(eps, t, x_t, prev, sampler='ddpm',
                                 generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(ddim, ddpm, rtol=1e-9, atol=1e-10)


def test_ddim_eta_zero_is_deterministic_and_draws_nothing():
    diffusion = GaussianDiffusion(num_timesteps=1000)
    x_t = torch.randn(2, 1, 4, 4)
    eps = torch.randn(2, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    first, _ = diffusion.step(eps, 500, x_t, 480, generator=gen)
    assert torch.equal(gen.get_state(), state)
    assert torch.equal(first, diffusion.step(eps, 500, x_t, 480)[0])
    noisy = [diffusion.step(eps, 500, x_t, 480, eta=0.5,
                            generator=torch.Generator().manual_seed(s))[0] for s in (1, 1, 2)]
    assert torch.equal(noisy[0], noisy[1]) and not torch.equal(noisy[0], noisy[2])
    assert not torch.equal(first, noisy[0])


def test_step_to_the_clean_state_returns_x0():
    x_t = torch.randn(1, 2, 3, 3)
    out = torch.rand(1, 2, 3, 3) * 2 - 1
    for diffusion in (GaussianDiffusion(prediction_type='x0'), refiner_diffusion()):
        for sampler in ('ddim', 'ddpm'):
            x_prev, x0 = diffusion.step(out, 0, x_t, CLEAN, sampler=sampler)
            assert torch.equal(x_prev, out) and torch.equal(x0, out)
    x_prev, _ = refiner_diffusion().step(out, 20, x_t, CLEAN)  # the refiner's last step
    assert torch.equal(x_prev, out)


def test_step_errors():
    diffusion = GaussianDiffusion(num_timesteps=10, beta_schedule='cosine')
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match='prev_t < t'):
        diffusion.step(x, 5, x, prev_t=5)
    with pytest.raises(ValueError, match=r'prev_t < t <= 9'):
        diffusion.step(x, 10, x)
    with pytest.raises(ValueError, match="sampler must be one of"):
        diffusion.step(x, 5, x, sampler='euler')
    with pytest.raises(ValueError, match="eta applies to sampler='ddim'"):
        diffusion.step(x, 5, x, sampler='ddpm', eta=0.5)


# ----------------------------------------------------------------- the loop
@pytest.mark.parametrize('prediction_type', ['epsilon', 'x0', 'v'])
@pytest.mark.parametrize('convention', ['ddpm', 'levels'])
def test_ddim_with_an_oracle_denoiser_recovers_x0(prediction_type, convention):
    """η = 0 with the true noise (or x0, v) moves along the same noise path to x0."""
    diffusion = GaussianDiffusion(num_timesteps=1000, beta_schedule='cosine',
                                  timestep_convention=convention,
                                  prediction_type=prediction_type, clip_sample=False)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 3, 5, 5, generator=gen, dtype=torch.float64) * 2 - 1
    noise = torch.randn(2, 3, 5, 5, generator=gen, dtype=torch.float64)
    steps = diffusion.timesteps(10, start=990)  # 'leading': 900, 800, ..., 0 (ddpm)
    x_T = diffusion.corrupt(x0, torch.full((2, ), steps[0]), noise)
    seen = []

    def oracle(x_t, t):
        assert t.shape == (2, ) and t.dtype == torch.int64
        seen.append(int(t[0]))
        torch.testing.assert_close(x_t, diffusion.corrupt(x0, t, noise))  # on the path
        return diffusion.prediction_target(x0, noise, t)

    out = diffusion.sample_loop(oracle, x_T, steps, generator=torch.Generator())
    assert seen == steps
    torch.testing.assert_close(out, x0)


def test_sample_loop_from_a_shape_is_seeded():
    diffusion = GaussianDiffusion(num_timesteps=100)
    denoise = lambda x, t: 0.1 * x  # noqa: E731
    steps = diffusion.timesteps(10)

    def run(seed, sampler='ddim', eta=0.0):
        return diffusion.sample_loop(denoise, (2, 1, 4, 4), steps, sampler=sampler, eta=eta,
                                     generator=torch.Generator().manual_seed(seed))

    for sampler, eta in (('ddim', 0.0), ('ddim', 1.0), ('ddpm', 0.0)):
        first = run(0, sampler, eta)
        assert first.shape == (2, 1, 4, 4) and bool(first.abs().max() <= 1)  # clipped x̂0
        assert torch.equal(first, run(0, sampler, eta))
        assert not torch.equal(first, run(1, sampler, eta))
    full = diffusion.sample_loop(denoise, (1, 1, 2, 2), sampler='ddpm',
                                 generator=torch.Generator().manual_seed(0))
    assert full.shape == (1, 1, 2, 2)


def test_sample_loop_callback_and_errors():
    diffusion = GaussianDiffusion(num_timesteps=100)
    calls = []
    diffusion.sample_loop(lambda x, t: torch.zeros_like(x), (1, 1, 2, 2), [90, 50, 10],
                          callback=lambda t, x, x0: calls.append((t, x.shape, x0.shape)))
    assert [c[0] for c in calls] == [90, 50, 10]
    with pytest.raises(ValueError, match='decrease strictly'):
        diffusion.sample_loop(lambda x, t: x, (1, 1, 2, 2), [10, 50])
    with pytest.raises(ValueError, match='at least one timestep'):
        diffusion.sample_loop(lambda x, t: x, (1, 1, 2, 2), [])
