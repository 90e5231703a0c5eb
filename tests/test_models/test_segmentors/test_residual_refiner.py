"""ResidualRefiner: the four ablation modes, frozen baseline, inference schedule, learning."""
import argparse
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.structures import PixelData
from mmseg.registry import MODELS

from segrefiner.models.segmentors.residual_refiner import MODES
from segrefiner.utils.checkpoint import (CheckpointGuard, CheckpointMismatchError,
                                         UntrustedCheckpointError)
from utils import fake_batch

NORM = dict(type='BN')
TINY_BASELINE = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=4,
                           test_cfg=dict(size_divisor=4)),
    backbone=dict(type='UNet', base_channels=8, num_stages=3, strides=(1, 1, 1),
                  enc_num_convs=(1, 1, 1), dec_num_convs=(1, 1), downsamples=(True, True),
                  enc_dilations=(1, 1, 1), dec_dilations=(1, 1), norm_cfg=NORM),
    decode_head=dict(type='FCNHead', in_channels=8, in_index=2, channels=8, num_convs=1,
                     concat_input=False, num_classes=3, norm_cfg=NORM,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
# three levels: inputs padded to a multiple of 4 need a further pad to 8 inside the refiner
TINY_DENOISER = dict(type='ResidualUNet', model_channels=16, channel_mult=(1, 2, 2, 2))


def build(mode='full', **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault('test_cfg', dict(num_steps=3, t_level=30))
    kwargs.setdefault('baseline', TINY_BASELINE)
    return MODELS.build(dict(type='ResidualRefiner', denoiser=TINY_DENOISER, mode=mode,
                             **kwargs))


def three_class_batch(num=2, height=30, width=34):
    """fake_batch with a border class: GT 0 background, 1 box, 2 the box's outline."""
    batch = fake_batch(num=num, height=height, width=width)
    for sample in batch['data_samples']:
        gt = sample.gt_sem_seg.data.clone()
        inner = torch.nn.functional.max_pool2d(-gt.float()[None], 3, 1, 1)[0] < 0
        gt[(gt == 1) & ~inner] = 2
        sample.gt_sem_seg = PixelData(data=gt)
    return batch


def perturb_output_layer(model, scale=0.5):
    """Give the zero-initialised correction network a non-zero output."""
    gen = torch.Generator().manual_seed(1)
    out = model.denoiser.out[-1]
    with torch.no_grad():
        out.weight.copy_(torch.randn(out.weight.shape, generator=gen) * scale)


@pytest.mark.parametrize('mode', sorted(MODES))
def test_each_mode_builds_trains_and_predicts(mode):
    model = build(mode)
    use_image, use_probs, use_logits = MODES[mode]
    assert model.denoiser.input_blocks[0][0].in_channels == 3 * use_image + 3 * (use_probs +
                                                                                 use_logits)
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-2))
    baseline_before = [p.clone() for p in model.baseline.parameters()]
    out_before = model.denoiser.out[-1].weight.clone()
    log_vars = model.train_step(three_class_batch(), wrapper)
    assert {'loss', 'loss_ce', 'acc_seg'} <= set(log_vars)
    assert not torch.equal(out_before, model.denoiser.out[-1].weight)
    assert all(torch.equal(a, b) for a, b in zip(baseline_before, model.baseline.parameters()))

    model.eval()
    results = model.val_step(three_class_batch())
    for sample in results:
        assert sample.pred_sem_seg.shape == (30, 34)
        assert sample.seg_logits.data.shape == (3, 30, 34)
    data = model.data_preprocessor(three_class_batch(), False)
    assert model(data['inputs'], mode='tensor').shape == (2, 3, 32, 36)


def test_untrained_refiner_returns_the_baseline():
    model = build().eval()
    data = model.data_preprocessor(three_class_batch(), False)
    refined = model.predict(data['inputs'], [s.clone() for s in data['data_samples']])
    baseline = model.baseline.predict(data['inputs'], data['data_samples'])
    for r, b in zip(refined, baseline):
        torch.testing.assert_close(r.seg_logits.data, b.seg_logits.data)
        assert torch.equal(r.pred_sem_seg.data, b.pred_sem_seg.data)


def test_baseline_stays_frozen_in_eval_mode():
    model = build()
    model.train()
    assert model.training and model.denoiser.training
    assert not model.baseline.training and not model.baseline.backbone.training
    assert not any(p.requires_grad for p in model.baseline.parameters())
    assert all(p.requires_grad for p in model.denoiser.parameters())


def pretrained(path):
    """The baseline config loading ``path`` through mmengine's init_cfg."""
    return dict(TINY_BASELINE, init_cfg=dict(type='Pretrained', checkpoint=str(path)))


def save_baseline(path, runner_state=False, **extra):
    """A trained baseline's checkpoint; ``runner_state`` adds what a Runner checkpoint holds
    besides the weights (message hub history buffers, numpy values in ``meta``)."""
    trained = MODELS.build(TINY_BASELINE)
    for p in trained.parameters():
        torch.nn.init.normal_(p)
    checkpoint = dict(state_dict=trained.state_dict(), meta=dict(), **extra)
    if runner_state:
        hub = MessageHub.get_instance('residual_refiner_test')
        hub.update_scalar('train/loss', 1.5)
        checkpoint['message_hub'] = hub.state_dict()
        checkpoint['meta'] = dict(seed=np.int64(0), iter=40, ratios=np.array([0.5, 2.0]))
    torch.save(checkpoint, path)
    return trained


def assert_loaded(model, trained):
    for (name, a), b in zip(model.baseline.state_dict().items(), trained.state_dict().values()):
        assert torch.equal(a, b), name


def test_init_weights_loads_the_baseline_checkpoint(tmp_path):
    path = tmp_path / 'baseline.pth'
    trained = save_baseline(path)
    model = MODELS.build(dict(type='ResidualRefiner', baseline=pretrained(path),
                              denoiser=TINY_DENOISER))
    assert model.baseline_checkpoint == str(path)
    model.init_weights()
    assert_loaded(model, trained)
    model.train()  # still frozen after the load
    assert not model.baseline.training
    assert not any(p.requires_grad for p in model.baseline.parameters())
    missing = build(baseline=pretrained(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='baseline checkpoint not found: .*nope.pth'):
        missing.init_weights()


def test_a_runner_checkpoint_of_the_baseline_loads_without_running_code(tmp_path):
    """What tools/train.py writes for the baseline needs the allow-list (torch.load alone
    refuses it); init_weights reads it with segrefiner's loader, inside or outside the tools'
    CheckpointGuard, and puts mmengine's loader back."""
    path = tmp_path / 'iter_40.pth'
    trained = save_baseline(path, runner_state=True)
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)
    loader = CheckpointLoader._schemes.get('')
    model = build(baseline=pretrained(path))
    model.init_weights()
    assert_loaded(model, trained)
    assert CheckpointLoader._schemes.get('') is loader
    with CheckpointGuard() as guard:
        model = build(baseline=pretrained(path))
        model.init_weights()
        assert CheckpointLoader._schemes[''] == guard.load_from_safe_local
    assert_loaded(model, trained)


def test_the_baseline_checkpoint_must_fit_and_be_trusted(tmp_path):
    other = dict(TINY_BASELINE, backbone=dict(TINY_BASELINE['backbone'], base_channels=4),
                 decode_head=dict(TINY_BASELINE['decode_head'], in_channels=4, channels=4))
    torch.save(dict(state_dict=MODELS.build(other).state_dict()), tmp_path / 'other.pth')
    with pytest.raises(CheckpointMismatchError, match='other.pth does not fit'):
        build(baseline=pretrained(tmp_path / 'other.pth')).init_weights()

    path = tmp_path / 'code.pth'
    trained = save_baseline(path, args=argparse.Namespace(lr=0.1))  # needs a foreign global
    with pytest.raises(UntrustedCheckpointError, match='argparse.Namespace'):
        build(baseline=pretrained(path)).init_weights()
    with CheckpointGuard(trust=True):  # tools/train.py --trust-checkpoint
        model = build(baseline=pretrained(path))
        model.init_weights()
    assert_loaded(model, trained)


def test_deprecated_baseline_checkpoint_argument(tmp_path):
    """Configs written before init_cfg (e.g. dumped into earlier work directories) still load."""
    path = tmp_path / 'baseline.pth'
    trained = save_baseline(path)
    model = build(baseline_checkpoint=str(path))
    assert model.baseline.init_cfg == dict(type='Pretrained', checkpoint=str(path))
    model.init_weights()
    assert_loaded(model, trained)
    with pytest.raises(ValueError, match='both set the baseline.*init_cfg.checkpoint'):
        build(baseline=pretrained(tmp_path / 'a.pth'), baseline_checkpoint=str(path))


def test_inference_visits_the_schedule_levels():
    model = build().eval()
    levels = []
    model.denoiser.register_forward_pre_hook(lambda module, args: levels.append(args[1].tolist()))
    data = model.data_preprocessor(three_class_batch(), False)
    model.predict(data['inputs'], data['data_samples'], test_cfg=dict(num_steps=4, t_level=100))
    assert levels == [[100, 100], [75, 75], [50, 50], [25, 25]]
    levels.clear()
    model.predict(data['inputs'], data['data_samples'])  # the model's test_cfg: 3 from 30
    assert levels == [[30, 30], [20, 20], [10, 10]]


def test_generator_makes_inference_reproducible():
    model = build().eval()
    perturb_output_layer(model)
    data = model.data_preprocessor(three_class_batch(), False)

    def logits(seed):
        gen = torch.Generator().manual_seed(seed)
        samples = model.predict(data['inputs'], [s.clone() for s in data['data_samples']],
                                generator=gen)
        return torch.stack([s.seg_logits.data for s in samples])

    torch.testing.assert_close(logits(3), logits(3), rtol=0, atol=0)
    assert not torch.allclose(logits(3), logits(4))


def first_version_refine(model, inputs, num_steps, t_level, generator):
    """The loop of the refiner's first version, written out: q_sample to the first level,
    the network at each level, the deterministic DDIM update between levels."""
    T = model.diffusion.num_timesteps
    t = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((t + 0.008) / (1 + 0.008) * math.pi / 2)**2
    alphas_cumprod = (f / f[0]).clamp(0.0, 1.0)
    alphas_cumprod[-1] = 0.0
    levels = [int(v) for v in np.round(np.linspace(t_level, 0, num_steps + 1)[:-1])]
    logits = model.baseline_logits(inputs)
    x0 = 2 * logits.softmax(dim=1) - 1
    noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype)
    batch = inputs.shape[0]
    alpha = alphas_cumprod[torch.full((batch, ), levels[0])].to(x0.dtype).view(-1, 1, 1, 1)
    state = alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise
    for i, level in enumerate(levels):
        refined = model.denoise(inputs, state, logits, x0.new_full((batch, ), level,
                                                                   dtype=torch.long))
        if i + 1 < len(levels):
            a, a_next = (float(alphas_cumprod[j]) for j in (level, levels[i + 1]))
            x0_pred = 2 * refined.softmax(dim=1) - 1
            eps = (state - math.sqrt(a) * x0_pred) / math.sqrt(1 - a)
            state = math.sqrt(a_next) * x0_pred + math.sqrt(1 - a_next) * eps
    return refined


@pytest.mark.parametrize('num_steps, t_level', [(3, 30), (5, 150), (1, 0), (4, 300)])
def test_refine_is_the_first_versions_loop_bit_for_bit(num_steps, t_level):
    model = build().eval()
    perturb_output_layer(model)
    data = model.data_preprocessor(three_class_batch(), False)
    with torch.no_grad():
        expected = first_version_refine(model, data['inputs'], num_steps, t_level,
                                        torch.Generator().manual_seed(7))
    out = model.refine(data['inputs'], num_steps, t_level, torch.Generator().manual_seed(7))
    assert torch.equal(out, expected)


def test_test_cfg_and_config_errors():
    model = build()
    with pytest.raises(ValueError, match=r"unknown test_cfg keys \['steps'\].*num_steps"):
        model.merge_test_cfg(dict(steps=3))
    with pytest.raises(ValueError, match='num_steps must be in'):
        model.merge_test_cfg(dict(num_steps=20, t_level=10))
    with pytest.raises(ValueError, match=r't_level must be in \[0, 300\]'):
        model.merge_test_cfg(dict(t_level=301))
    with pytest.raises(ValueError, match='mode must be one of'):
        build('no_everything')
    with pytest.raises(ValueError, match="prediction_type='x0'"):
        build(diffusion=dict(type='GaussianDiffusion', num_timesteps=300,
                             prediction_type='epsilon'))
    binary = dict(TINY_BASELINE, decode_head=dict(TINY_BASELINE['decode_head'], num_classes=2,
                                                  out_channels=1, threshold=0.5,
                                                  loss_decode=dict(type='CrossEntropyLoss',
                                                                   use_sigmoid=True)))
    with pytest.raises(ValueError, match='one logit per class'):
        MODELS.build(dict(type='ResidualRefiner', baseline=binary, denoiser=TINY_DENOISER))


def test_refiner_learns_a_correction():
    """A few steps on one batch correct a random baseline better than the baseline itself."""
    model = build(test_cfg=dict(num_steps=1, t_level=1))
    wrapper = OptimWrapper(torch.optim.AdamW(model.denoiser.parameters(), lr=3e-3))
    batch = three_class_batch(num=2, height=32, width=32)
    for _ in range(60):
        model.train_step(batch, wrapper)
    model.eval()
    data = model.data_preprocessor(batch, False)
    gt = torch.stack([s.gt_sem_seg.data[0] for s in batch['data_samples']])

    def accuracy(samples):
        return float((torch.stack([s.pred_sem_seg.data[0] for s in samples]) == gt).float()
                     .mean())

    refined = accuracy(model.predict(data['inputs'], [s.clone() for s in data['data_samples']]))
    baseline = accuracy(model.baseline.predict(data['inputs'], data['data_samples']))
    assert refined > baseline + 0.2, (refined, baseline)
