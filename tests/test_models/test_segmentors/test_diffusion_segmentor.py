"""DiffusionSegmentor: predict() outputs, seeded sampling, ensembles + uncertainty, samplers,
multi-class, the reverse-process frames and mmseg's metrics on the outputs."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.evaluation import BoundaryF1Metric
from segrefiner.models.segmentors.diffusion_segmentor import normalised_entropy

TINY_UNET = dict(type='DenoiseUNet', model_channels=8, num_res_blocks=1, channel_mult=(1, 2),
                 attention_strides=(), num_heads=1, norm_groups=4, time_embedding='sinusoidal')


def build(num_classes=2, num_timesteps=100, **test_cfg):
    """A tiny DiffusionSegmentor (T = 100, 5 DDIM steps unless told otherwise)."""
    torch.manual_seed(0)
    test_cfg.setdefault('num_steps', 5)
    test_cfg.setdefault('seed', 0)
    return MODELS.build(dict(
        type='DiffusionSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=2),
        decode_head=dict(type='GaussianDiffusionHead', num_classes=num_classes,
                         denoiser=TINY_UNET,
                         diffusion=dict(type='GaussianDiffusion', num_timesteps=num_timesteps)),
        test_cfg=test_cfg)).eval()


def samples(num=2, img_shape=(12, 16), ori_shape=(24, 20), labels=2):
    """Samples with metainfo (padded to 16 x 16 by hand) and a GT at ``ori_shape``."""
    out = []
    for i in range(num):
        gt = torch.zeros((1, ) + ori_shape, dtype=torch.long)
        gt[:, 4:14, 3:12] = 1 + i % (labels - 1)
        out.append(SegDataSample(
            metainfo=dict(img_shape=img_shape, ori_shape=ori_shape, pad_shape=(16, 16),
                          padding_size=[0, 16 - img_shape[1], 0, 16 - img_shape[0]]),
            gt_sem_seg=PixelData(data=gt)))
    return out


def images(num=2, seed=0):
    return torch.randn(num, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_predict_outputs_at_the_original_size():
    model = build()
    results = model.predict(images(), samples())
    for result in results:
        assert set(result.keys()) >= {'seg_logits', 'pred_sem_seg', 'uncertainty'}
        prob = result.seg_logits.data
        assert prob.shape == (1, 24, 20) and prob.min() >= 0 and prob.max() <= 1
        assert torch.equal(result.pred_sem_seg.data, (prob > 0.5).to(prob))
        assert result.uncertainty.data.shape == (1, 24, 20)
        assert torch.allclose(result.uncertainty.data, normalised_entropy(prob, 2))
    # without samples: the input size
    bare = model.predict(images())
    assert bare[0].seg_logits.shape == (16, 16) and bare[0].uncertainty.shape == (16, 16)


def test_seeded_sampling_repeats_and_seeds_differ():
    model = build(sampler='ddim', eta=1.0)  # stochastic steps: every draw matters
    first = model.predict(images(), samples())
    again = model.predict(images(), samples())
    other = model.predict(images(), samples(), test_cfg=dict(seed=1))
    assert torch.equal(first[0].seg_logits.data, again[0].seg_logits.data)
    assert not torch.equal(first[0].seg_logits.data, other[0].seg_logits.data)
    # the two images of a batch get their own noise
    twins = model.predict(images(1).repeat(2, 1, 1, 1))
    assert not torch.equal(twins[0].seg_logits.data, twins[1].seg_logits.data)
    # no seed: torch's global generator
    unseeded = build(sampler='ddim', eta=1.0, seed=None)
    torch.manual_seed(5)
    a = unseeded.predict(images())[0].seg_logits.data
    torch.manual_seed(5)
    assert torch.equal(a, unseeded.predict(images())[0].seg_logits.data)


def test_ensemble_is_the_mean_probability_of_its_members():
    model = build(num_samples=3)
    head = model.decode_head
    inputs = images()
    probs = head.predict(inputs, [{}] * 2, model.test_cfg,
                         torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    timesteps = head.reverse_timesteps('ddim', 5)
    members = [head.to_probs(head.sample(inputs, timesteps, 'ddim', 0.0, gen))
               for _ in range(3)]
    assert torch.allclose(probs, torch.stack(members).mean(0), atol=1e-6)
    assert not torch.equal(members[0], members[1])
    # the segmentor hands logit(mean) to mmseg, which gives the mean back
    result = model.predict(inputs)
    assert torch.allclose(result[0].seg_logits.data, probs[0], atol=1e-5)
    # uncertainty: 0 where the members agree and are saturated, 1 where they split evenly
    unc = result[0].uncertainty.data
    agree = (torch.stack(members)[:, 0] == 1).all(0) | (torch.stack(members)[:, 0] == 0).all(0)
    assert (unc[agree] < 1e-4).all()
    assert torch.allclose(normalised_entropy(torch.tensor([[[0.5]]]), 2), torch.ones(1, 1, 1))


def test_samplers_visit_their_default_steps():
    calls = []
    model = build(num_timesteps=100, num_steps=None, sampler='ddpm')
    model.decode_head.denoiser.register_forward_hook(
        lambda module, args, out: calls.append(int(args[1][0])))
    small = torch.zeros(1, 3, 4, 4)
    model.predict(small)
    assert calls == list(range(99, -1, -1))  # DDPM: all T
    calls.clear()
    model.predict(small, test_cfg=dict(sampler='ddim'))
    assert calls == list(range(98, -1, -2))  # DDIM: 50 steps
    calls.clear()
    model.predict(small, test_cfg=dict(sampler='ddim', num_steps=10))
    assert calls == list(range(90, -1, -10))


def test_multi_class_masks():
    model = build(num_classes=3)
    assert model.decode_head.out_channels == 3
    batch = samples(labels=3, img_shape=(16, 16), ori_shape=(16, 16))
    model.train()
    losses = model.loss(images(), batch)
    assert losses['loss_diffusion'].item() > 0
    model.eval()
    results = model.predict(images(), batch, test_cfg=dict(num_samples=2))
    log_probs = results[0].seg_logits.data
    assert log_probs.shape == (3, 16, 16)
    assert torch.allclose(log_probs.softmax(0).sum(0), torch.ones(16, 16), atol=1e-5)
    assert torch.equal(results[0].pred_sem_seg.data, log_probs.argmax(0, keepdim=True))
    unc = results[0].uncertainty.data
    assert unc.shape == (1, 16, 16) and unc.min() >= 0 and unc.max() <= 1
    assert torch.allclose(unc, normalised_entropy(log_probs.softmax(0), 3), atol=1e-5)


def test_sample_process_frames():
    model = build(num_steps=8, eta=0.0)
    inputs, batch = images(), samples()
    frames = model.sample_process(inputs, batch, num_frames=3)
    assert len(frames) == 3 and all(f.shape == (2, 1, 24, 20) for f in frames)
    assert all(f.min() >= 0 and f.max() <= 1 for f in frames)
    # the last frame is predict()'s probability (same seed, one sample)
    results = model.predict(inputs, samples())
    assert torch.allclose(frames[-1], torch.stack([r.seg_logits.data for r in results]),
                          atol=1e-6)
    # at the input size without samples; at most one frame per step
    raw = model.sample_process(inputs, num_frames=20)
    assert len(raw) == 8 and raw[0].shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match='num_frames must be >= 1'):
        model.sample_process(inputs, num_frames=0)
    with pytest.raises(ValueError, match='one ori_shape'):
        model.sample_process(inputs, samples(1) + samples(1, ori_shape=(30, 30)))


def test_loss_predict_and_tensor_modes_through_the_preprocessor():
    model = build()
    data = dict(inputs=[torch.randint(0, 256, (3, 12, 16), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples(img_shape=(12, 16), ori_shape=(12, 16)))
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode='loss')
    assert set(losses) == {'loss_diffusion'}
    losses['loss_diffusion'].backward()
    model.eval()
    results = model.test_step(data)
    assert results[0].seg_logits.shape == (12, 16)
    # tensor mode: one denoiser pass
    inputs = model.data_preprocessor(data)['inputs']
    assert model(inputs, mode='tensor').shape == (2, 1, 12, 16)


def test_mmseg_metrics_read_the_outputs():
    model = build()
    results = model.predict(images(), samples())
    outputs = [r.to_dict() for r in results]
    iou = IoUMetric(iou_metrics=['mIoU', 'mDice'])
    bf = BoundaryF1Metric(bound_th=2)
    for metric in (iou, bf):
        metric.dataset_meta = dict(classes=('background', 'foreground'))
        metric.process([], outputs)
    assert {'mIoU', 'mDice', 'aAcc'} <= set(iou.compute_metrics(iou.results))
    assert 'mBF' in bf.compute_metrics(bf.results)


def test_test_cfg_errors():
    with pytest.raises(ValueError, match='test_cfg.seed must be None or an int'):
        build(seed='0')
    with pytest.raises(ValueError, match='test_cfg.num_samples'):
        build(num_samples=0)
    with pytest.raises(ValueError, match=r"applies to sampler='ddim'"):
        build().predict(images(1), test_cfg=dict(sampler='ddpm', eta=0.5))
    assert math.isclose(build().test_cfg.eta, 0.0)
