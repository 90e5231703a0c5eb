"""Refiner: train step, crop/whole inference, pass-through, paste geometry, bf16 path."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS

from utils import fake_batch, tiny_refiner_cfg


@pytest.fixture
def model():
    torch.manual_seed(0)
    return MODELS.build(tiny_refiner_cfg())


def test_train_step_and_loss_keys(model):
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.decode_head.denoiser.out[2].weight.clone()
    log_vars = model.train_step(fake_batch(), wrapper)
    assert {'loss', 'loss_mask', 'loss_texture', 'iou'} <= set(log_vars)
    assert float(log_vars['loss'].detach()) == pytest.approx(
        float((log_vars['loss_mask'] + log_vars['loss_texture']).detach()))
    assert not torch.equal(before, model.decode_head.denoiser.out[2].weight)


def test_train_requires_divisible_size(model):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match='divisible'):
        model.train_step(fake_batch(height=31, width=31), wrapper)


def test_predict_crop_mode_outputs_at_original_size(model):
    data = fake_batch(num=2, height=40, width=56)
    results = model.test_step(data)
    for sample in results:
        assert sample.pred_sem_seg.shape == (40, 56)
        assert sample.seg_logits.data.shape == (1, 40, 56)
        prob = sample.seg_logits.data
        assert prob.min() >= 0 and prob.max() <= 1
        assert torch.equal(sample.pred_sem_seg.data, (prob > 0.5).long())  # mmseg's rule
        # everything outside the padded box of the coarse mask (x 10..26, y 4..22, pad 20)
        # is background; here the box covers x < 46, y < 42
        assert sample.pred_sem_seg.data[0, :, 46:].sum() == 0


def test_crop_geometry_pastes_back_exactly():
    """A denoiser that copies its mask input makes the refiner return the coarse mask."""
    model = MODELS.build(tiny_refiner_cfg(steps=1, pad_width=2))

    class Copy(torch.nn.Module):
        size_divisor, num_timesteps = 1, 6

        def forward(self, x, t):
            return (x[:, 3:] - 0.5) * 40  # confident copy of the mask channel

    model.decode_head.denoiser = Copy()
    # box 28×28 + 2 px per side = exactly the 32×32 model size: no resampling at all
    data = fake_batch(num=1, height=48, width=64, coarse_box=(10, 6, 38, 34))
    result = model.test_step(data)[0]
    coarse = data['data_samples'][0].coarse_sem_seg.data
    assert torch.equal(result.pred_sem_seg.data, coarse)
    # a box resampled down and up again comes back within about a pixel
    data = fake_batch(num=1, height=48, width=64, coarse_box=(13, 7, 51, 40))
    result = model.test_step(data)[0].pred_sem_seg.data.bool()
    coarse = data['data_samples'][0].coarse_sem_seg.data.bool()
    iou = (result & coarse).sum() / (result | coarse).sum()
    assert iou > 0.93


def test_empty_and_small_masks_pass_through(model):
    data = fake_batch(num=1, height=32, width=32, coarse_box=(0, 0, 0, 0))
    result = model.test_step(data)[0]
    assert result.pred_sem_seg.data.sum() == 0
    model.test_cfg.area_thr = 10_000
    data = fake_batch(num=1, height=32, width=32)
    result = model.test_step(data)[0]
    assert torch.equal(result.pred_sem_seg.data, data['data_samples'][0].coarse_sem_seg.data)


def test_whole_mode_and_steps(model):
    data = model.data_preprocessor(fake_batch(num=1, height=36, width=52), False)
    out = model.predict(data['inputs'], data['data_samples'],
                        test_cfg=dict(mode='whole', steps=2))
    assert out[0].pred_sem_seg.shape == (36, 52)
    with pytest.raises(ValueError, match='test_cfg.mode must be one of'):
        model.predict(data['inputs'], data['data_samples'], test_cfg=dict(mode='slide'))


def test_generator_makes_inference_deterministic(model):
    def run(seed):
        data = model.data_preprocessor(fake_batch(num=2, height=32, width=32), False)
        out = model.predict(data['inputs'], data['data_samples'],
                            generator=torch.Generator().manual_seed(seed))
        return torch.stack([s.seg_logits.data for s in out])

    assert torch.equal(run(0), run(0))


def test_bf16_channels_last_agree_with_fp32():
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg())
    data = model.data_preprocessor(fake_batch(num=2, height=64, width=64), False)

    def run(**cfg):
        out = model.predict(data['inputs'], data['data_samples'], test_cfg=cfg,
                            generator=torch.Generator().manual_seed(0))
        return torch.stack([s.pred_sem_seg.data for s in out])

    ref = run()
    fast = run(autocast_dtype='bfloat16', channels_last=True)
    assert (ref == fast).float().mean() >= 0.99


def test_tensor_mode_and_missing_coarse(model):
    data = model.data_preprocessor(fake_batch(num=2), False)
    logits = model(data['inputs'], data['data_samples'], mode='tensor')
    assert logits.shape == (2, 1, 32, 32)
    del data['data_samples'][1].coarse_sem_seg
    with pytest.raises(KeyError, match='coarse_sem_seg'):
        model.predict(data['inputs'], data['data_samples'])
