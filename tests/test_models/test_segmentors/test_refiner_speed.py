"""Speed options of the Refiner: ``fast``, ``early_exit``, ``dedup`` and their validation."""
import pytest
import torch
from mmseg.registry import MODELS

from segrefiner.models.denoisers.denoise_unet import GroupNorm32
from segrefiner.models.segmentors.refiner import cpu_has_bf16_kernels
from segrefiner.models.diffusion import DiscreteDiffusion
from test_instance_inference import ConstantDenoiser, batch, boxes_mask, instance_model
from utils import tiny_refiner_cfg


def crops(num=3, size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    img = torch.randn(num, 3, size, size, generator=gen)
    coarse = torch.zeros(num, 1, size, size)
    coarse[:, :, size // 4:3 * size // 4, size // 5:4 * size // 5] = 1
    return img, coarse


def refine(model, img, coarse, **cfg):
    cfg = model.merge_test_cfg(cfg, model.test_cfg)
    return model.refine_crops(img, coarse, cfg=cfg, generator=torch.Generator().manual_seed(1))


def test_fast_path_agrees_with_float32():
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg()).eval()
    img, coarse = crops()
    ref = refine(model, img, coarse)
    fast = refine(model, img, coarse, fast=True)
    assert fast.dtype == torch.float32 and fast.shape == ref.shape
    assert ((ref >= 0.5) == (fast >= 0.5)).float().mean() >= 0.995
    fast_dtype = torch.bfloat16 if cpu_has_bf16_kernels() else None
    assert model.precision(model.merge_test_cfg(dict(fast=True)), img.device) == (
        fast_dtype, True)
    # autocast_dtype given: fast keeps it
    assert model.precision(model.merge_test_cfg(dict(fast=True, autocast_dtype='float16')),
                           img.device) == (torch.float16, True)
    assert model.precision(model.test_cfg, img.device) == (None, False)


@pytest.mark.parametrize('has_bf16, expected', [(True, torch.bfloat16), (False, None)])
def test_fast_path_uses_bf16_only_where_the_cpu_has_its_kernels(monkeypatch, has_bf16,
                                                                  expected):
    from segrefiner.models.segmentors import refiner
    monkeypatch.setattr(refiner, 'cpu_has_bf16_kernels', lambda: has_bf16)
    model = MODELS.build(tiny_refiner_cfg()).eval()
    cpu = torch.device('cpu')
    assert model.precision(model.merge_test_cfg(dict(fast=True)), cpu) == (expected, True)
    # an explicit dtype is kept on every CPU
    assert model.precision(model.merge_test_cfg(dict(fast=True, autocast_dtype='bfloat16')),
                           cpu) == (torch.bfloat16, True)


def test_group_norm_bf16_kernel_equals_the_cast_round_trip():
    norm = GroupNorm32(4, 16)
    torch.nn.init.normal_(norm.weight)
    x = (torch.randn(2, 16, 8, 8) * 3 + 1).bfloat16().contiguous(
        memory_format=torch.channels_last)
    expected = torch.nn.GroupNorm.forward(norm, x.float()).bfloat16()
    out = norm(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), atol=1e-2, rtol=1e-2)


def test_early_exit_with_zero_tol_changes_nothing():
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg()).eval()
    img, coarse = crops()
    ref = refine(model, img, coarse)
    assert torch.equal(refine(model, img, coarse, early_exit=dict(tol=0.0)), ref)


def test_early_exit_takes_saturated_crops_to_the_last_step_after_one():
    denoiser = ConstantDenoiser()  # a confident copy of the mask input: saturated at once
    model = MODELS.build(tiny_refiner_cfg())
    model.decode_head.denoiser = denoiser
    img, coarse = crops(num=5)
    full = refine(model, img, coarse)
    assert denoiser.calls == [5] * 6
    denoiser.calls.clear()
    early = refine(model, img, coarse, early_exit=dict(tol=0.01))
    # the first step kept the coarse mask's decision: all take the last step (index 0) next
    assert denoiser.calls == [5, 5]
    assert torch.equal(early >= 0.5, full >= 0.5)


def test_sample_loop_early_exit_per_sample():
    """A saturated sample jumps to the last step, the others go on in a smaller batch."""
    diffusion = DiscreteDiffusion()
    calls = []

    def denoise(x, t):
        calls.append(x.shape[0])
        # sample 0 (image 0) repeats its decision; sample 1 (image 1) flips half of its
        # pixels every step (at the odd indices)
        logits = torch.full_like(x[:, 3:], 5.0)
        flips = x[:, :1, :4] > 0.5
        logits[:, :, :4][flips] *= -1 if int(t[0]) % 2 else 1
        return logits

    img, coarse = torch.zeros(2, 3, 8, 8), torch.ones(2, 1, 8, 8)
    img[1] = 1
    probs, fine = diffusion.sample_loop(denoise, img, coarse, exit_tol=0.2)
    # index 5 (sample 0 kept the coarse mask's decision), sample 0 at index 0, then sample 1
    # at 4, 3, 2, 1, 0
    assert calls == [2, 1, 1, 1, 1, 1, 1]
    assert torch.allclose(probs[0], torch.sigmoid(torch.tensor(5.0)).expand(1, 8, 8))
    # sample 0 skipped the evaluations of indices 4..1 but not their updates of F: with a
    # network whose output never changes, its F is the full chain's
    _, full_fine = diffusion.sample_loop(denoise, img[:1], coarse[:1])
    assert len(calls) == 7 + 6
    torch.testing.assert_close(fine[0], full_fine[0])
    assert fine[0].max() > 0.5
    with pytest.raises(ValueError, match='exit_tol'):
        diffusion.sample_loop(denoise, img, coarse, exit_tol=1.0)


def test_dedup_refines_identical_masks_once():
    boxes = [(5, 4, 45, 40), (5, 4, 45, 40), (40, 20, 68, 48), (5, 4, 45, 40)]
    masks = boxes_mask(60, 80, boxes)
    denoiser = ConstantDenoiser()
    model = instance_model(denoiser, steps=2, dedup=True)
    refined = model.test_step(batch(masks))[0].pred_instances.masks
    assert sum(denoiser.calls) == 2 * 2  # two distinct masks, two steps
    assert torch.equal(refined[0], refined[1]) and torch.equal(refined[0], refined[3])
    denoiser.calls.clear()
    model.test_cfg.dedup = False
    assert torch.equal(model.test_step(batch(masks))[0].pred_instances.masks, refined)
    assert sum(denoiser.calls) == 4 * 2


@pytest.mark.parametrize('cfg, match', [
    (dict(early_exit=0.1), 'early_exit must be None or dict'),
    (dict(early_exit=dict(tol=0.1, steps=2)), 'early_exit must be None or dict'),
    (dict(early_exit=dict(tol=1.0)), r'early_exit.tol must lie in \[0, 1\)'),
    (dict(early_exit=dict(tol=-0.1)), r'early_exit.tol must lie in \[0, 1\)'),
    (dict(fast='yes'), 'fast must be True or False'),
    (dict(dedup=1), 'dedup must be True or False'),
    (dict(max_patch=0),
     r"unknown test_cfg keys \['max_patch'\]; the Refiner reads .*'max_patches'"),
])
def test_speed_options_are_validated(cfg, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(tiny_refiner_cfg(**cfg))


def test_hr_patch_skip_drops_the_patches_the_global_pass_ended_sure_about():
    from test_hr_inference import ProbeDenoiser, coordinate_inputs, probe_model, sample_with

    class Sharpening(ProbeDenoiser):
        """Unsure on the flagged columns 410..490 until the last global step (index 1),
        where it is sure everywhere but on the columns 450..490."""

        def forward(self, x, t):
            if t[0] == 1:
                x = x.clone()
                x[:, 2][x[:, 0] < 450] = 0  # channel 0: the x coordinate
            return super().forward(x, t)

    coarse = torch.zeros(600, 900, dtype=torch.bool)
    coarse[100:500, 200:450] = True
    inputs = coordinate_inputs(600, 900, unsure_cols=(410, 490))
    kept = {}
    for conf in (None, 0.5):
        model = probe_model(patch_skip_conf=conf)
        model.decode_head.denoiser = Sharpening()
        model.predict(inputs, [sample_with(coarse)])
        kept[conf] = [patch for batch in model.decode_head.denoiser.local_calls()
                      for patch in batch]
    assert 0 < len(kept[0.5]) < len(kept[None])
    # the kept patches reach the columns that stayed unsure
    for patch in kept[0.5]:
        assert int(patch[0, 0, 0]) + 32 > 450


def test_confident_patches_reads_the_grid_under_each_box():
    from segrefiner.models.utils.hr_patches import confident_patches
    prob = torch.ones(8, 8)
    prob[2, 5] = 0.6  # unsure grid pixel: image pixels y 20..30, x 50..60 of a 80x80 image
    boxes = torch.tensor([[0, 0, 40, 40], [40, 10, 80, 50], [55, 25, 57, 27]])
    assert confident_patches(prob, (80, 80), boxes, 0.9).tolist() == [True, False, False]
    assert confident_patches(prob, (80, 80), boxes, 0.1).tolist() == [True, True, True]


def test_patch_skip_conf_is_validated():
    model = MODELS.build(tiny_refiner_cfg(mode='hr', patch_skip_conf=1.5))
    with pytest.raises(ValueError, match='patch_skip_conf'):
        model._hr_cfg(model.test_cfg)
