"""DiscreteDiffusion: schedule, training corruption (``corrupt``), the exact reverse update
(``step``, ``sample_loop``)."""
import pytest
import torch

from segrefiner.models.diffusion import DiscreteDiffusion


def test_schedule_values():
    diffusion = DiscreteDiffusion()
    expected = torch.tensor([0.8, 0.64, 0.48, 0.32, 0.16, 0.0], dtype=torch.float64)
    torch.testing.assert_close(diffusion.alphas_cumprod, expected)
    torch.testing.assert_close(diffusion.alphas_cumprod_prev,
                               torch.tensor([1.0, 0.8, 0.64, 0.48, 0.32, 0.16],
                                            dtype=torch.float64))
    assert diffusion.state_dict() == {}  # schedule buffers are not checkpoint state
    assert diffusion.timesteps(6) == [5, 4, 3, 2, 1, 0]
    assert diffusion.timesteps(2) == [5, 4]
    with pytest.raises(ValueError, match='steps'):
        diffusion.timesteps(7)


def test_corrupt_statistics():
    diffusion = DiscreteDiffusion()
    fine = torch.zeros(6, 1, 200, 200)
    fine[:, :, :, :100] = 1
    coarse = torch.zeros_like(fine)
    coarse[:, :, :100] = 1  # differs from fine in two quadrants
    t = torch.arange(6)
    gen = torch.Generator().manual_seed(0)
    mixed = diffusion.corrupt(fine, t, coarse, generator=gen)
    same = fine == coarse
    # pixels where fine and coarse agree never change
    assert torch.equal(mixed[same], fine[same])
    for i, alpha in enumerate(diffusion.alphas_cumprod.tolist()):
        differ = ~same[i]
        frac_fine = (mixed[i][differ] == fine[i][differ]).float().mean().item()
        assert abs(frac_fine - alpha) < 0.01, (i, frac_fine, alpha)
    # the last index is exactly the coarse mask
    torch.testing.assert_close(mixed[5], coarse[5])
    # reproducible with a generator
    again = diffusion.corrupt(fine, t, coarse, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again)


def test_timesteps_uniform():
    diffusion = DiscreteDiffusion()
    t = diffusion.sample_timesteps(60000, torch.device('cpu'), torch.Generator().manual_seed(0))
    counts = torch.bincount(t, minlength=6).float() / t.numel()
    assert t.dtype == torch.long and t.min() == 0 and t.max() == 5
    assert torch.all((counts - 1 / 6).abs() < 0.01)


def test_step_hand_computed():
    """One update at index 3 with values worked out by hand."""
    diffusion = DiscreteDiffusion()
    # σ(logits) = 0.9, 0.5, 0.2, 0.999 → confidence 0.8, 0, 0.6, 0.998
    probs = torch.tensor([0.9, 0.5, 0.2, 0.999])
    logits = torch.log(probs / (1 - probs)).view(1, 1, 2, 2)
    coarse = torch.tensor([0., 1., 1., 0.]).view(1, 1, 2, 2)
    fine_probs = torch.tensor([0.0, 0.5, 0.2, 0.1]).view(1, 1, 2, 2)
    # index 3: ᾱ_3 = 0.32, ᾱ_2 = 0.48; p = c·0.16 / (1 − 0.32·c)
    conf = torch.tensor([0.8, 0.0, 0.6, 0.998])
    p = conf * 0.16 / (1 - 0.32 * conf)
    expected_f = fine_probs.flatten() + (1 - fine_probs.flatten()) * p
    assert expected_f[0].item() == pytest.approx(0.128 / 0.744, abs=1e-6)
    gen = torch.Generator().manual_seed(3)
    u = torch.rand((1, 1, 2, 2), generator=torch.Generator().manual_seed(3)).flatten()
    x_next, f_new, out_probs = diffusion.step(logits, 3, coarse, fine_probs, False, gen)
    torch.testing.assert_close(f_new.flatten(), expected_f)
    hard = torch.tensor([1., 1., 0., 1.])  # logits >= 0 (σ=0.5 → logit 0 → 1)
    expected_x = torch.where(u < expected_f, hard, coarse.flatten())
    torch.testing.assert_close(x_next.flatten(), expected_x)
    torch.testing.assert_close(out_probs.flatten(), probs, atol=1e-6, rtol=0)
    # the last step returns the probabilities themselves
    x_last, _, _ = diffusion.step(logits, 0, coarse, fine_probs, True, gen)
    torch.testing.assert_close(x_last.flatten(), probs, atol=1e-6, rtol=0)


def test_unselected_pixels_fall_back_to_coarse():
    diffusion = DiscreteDiffusion()
    logits = torch.full((1, 1, 8, 8), 10.0)  # confident foreground everywhere
    coarse = torch.zeros(1, 1, 8, 8)
    zero_f = torch.zeros_like(coarse)
    # at index 5 with c≈1: F = 0.16; pixels with u >= F keep the coarse value 0
    gen = torch.Generator().manual_seed(0)
    u = torch.rand((1, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    x_next, f_new, _ = diffusion.step(logits, 5, coarse, zero_f, False, gen)
    assert torch.equal(x_next, (u < f_new).float())
    assert f_new.mean().item() == pytest.approx(0.16, abs=1e-3)


@pytest.mark.parametrize('prob, finals', [
    (0.9999999, [0.16, 0.32, 0.48, 0.64, 0.80, 1.0]),  # c = 1: F = ᾱ_{i−1}
    (0.75, [0.08, 0.16, 0.24, 0.32, 0.40, 0.50]),  # c = 0.5: F = c·ᾱ_{i−1}
])
def test_loop_follows_the_design_table(prob, finals):
    """With a constant confidence, F after each step matches the table of ``docs/segrefiner.md``,
    'Reverse update'."""
    diffusion = DiscreteDiffusion()
    seen_t, seen_f = [], []
    logit = torch.logit(torch.tensor(prob, dtype=torch.float64)).float()

    def denoise(x, t):
        seen_t.append(int(t[0]))
        assert x.shape == (2, 4, 4, 4)
        return torch.full((2, 1, 4, 4), float(logit))

    img, coarse = torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 4, 4)
    f = None
    for n, index in enumerate(range(5, -1, -1)):
        _, f = diffusion.sample_loop(denoise, img, coarse, [index], fine_probs=f)
        seen_f.append(f[0, 0, 0, 0].item())
    assert seen_t == [5, 4, 3, 2, 1, 0]
    assert seen_f == pytest.approx(finals, abs=2e-4)
    probs, f_all = diffusion.sample_loop(denoise, img, coarse)
    assert f_all[0, 0, 0, 0].item() == pytest.approx(finals[-1], abs=2e-4)
    assert probs[0, 0, 0, 0].item() == pytest.approx(prob, abs=1e-6)


def test_loop_rejects_bad_indices():
    diffusion = DiscreteDiffusion()
    with pytest.raises(ValueError, match='step indices'):
        diffusion.sample_loop(lambda x, t: x[:, :1], torch.zeros(1, 3, 4, 4),
                              torch.zeros(1, 1, 4, 4), [6])


def test_exported_by_the_models_package():
    import segrefiner.models
    assert segrefiner.models.DiscreteDiffusion is DiscreteDiffusion
