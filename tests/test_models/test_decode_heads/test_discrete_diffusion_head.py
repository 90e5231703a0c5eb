"""DiscreteDiffusionHead: BaseDecodeHead's signatures, losses, ignore handling, inference."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from utils import TINY_DENOISER


@pytest.fixture
def head():
    torch.manual_seed(0)
    return MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER))


def gt_samples(gt):
    """One ``SegDataSample`` per (1, H, W) GT map of the (B, 1, H, W) batch."""
    return [SegDataSample(gt_sem_seg=PixelData(data=g)) for g in gt]


def test_loss_keys_values_and_gradients(head):
    img = torch.randn(2, 3, 16, 16)
    gt = torch.zeros(2, 1, 16, 16, dtype=torch.long)
    gt[:, :, 4:12, 4:12] = 1
    coarse = torch.zeros(2, 1, 16, 16)
    coarse[:, :, 3:10, 5:13] = 1
    losses = head.loss((img, coarse), gt_samples(gt), None,
                       generator=torch.Generator().manual_seed(0))
    assert set(losses) == {'loss_mask', 'loss_texture', 'iou'}
    assert losses['loss_mask'].item() > 0 and losses['loss_texture'].item() > 0
    assert 0 <= losses['iou'].item() <= 1
    (losses['loss_mask'] + losses['loss_texture']).backward()
    assert head.denoiser.time_embed.weight.grad.abs().sum() > 0
    # reproducible with a generator
    again = head.loss((img, coarse), gt_samples(gt), None,
                      generator=torch.Generator().manual_seed(0))
    assert again['loss_mask'].item() == pytest.approx(losses['loss_mask'].item())


def test_ignored_pixels_do_not_count(head):
    img = torch.randn(1, 3, 16, 16)
    coarse = torch.zeros(1, 1, 16, 16)
    gt = torch.zeros(1, 1, 16, 16, dtype=torch.long)
    gt_ignored = gt.clone()
    gt_ignored[..., 8:] = 255
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    with torch.no_grad():
        full = head.loss((img, coarse), gt_samples(gt), None, gen())
        part = head.loss((img, coarse), gt_samples(gt_ignored), None, gen())
    assert full['loss_mask'].item() != pytest.approx(part['loss_mask'].item())
    # BCE over valid pixels only equals the BCE on the valid half computed directly
    t = torch.randint(0, 6, (1, ), generator=gen())
    logits = head.denoiser(torch.cat([img, coarse], 1), t)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[..., :8], torch.zeros_like(logits[..., :8]))
    assert part['loss_mask'].item() == pytest.approx(expected.item(), rel=1e-5)


def test_predict_returns_probabilities(head):
    inputs = (torch.randn(2, 3, 16, 16), torch.ones(2, 1, 16, 16))
    metas = [dict(img_shape=(16, 16))] * 2
    out = head.predict(inputs, metas, dict(), generator=torch.Generator().manual_seed(0))
    probs, fine = out[:, :1], out[:, 1:]
    assert out.shape == (2, 2, 16, 16) and probs.shape == fine.shape == (2, 1, 16, 16)
    assert probs.min() >= 0 and probs.max() <= 1 and fine.max() <= 1
    # test_cfg.timesteps picks the steps: the first step alone is one pass on the coarse mask
    one = head.predict(inputs, metas, dict(timesteps=[5]))
    with torch.no_grad():
        logits = head(torch.cat(inputs, dim=1), torch.full((2, ), 5))
    torch.testing.assert_close(one[:, :1], logits.sigmoid())


def test_missing_gt_is_named(head):
    sample = SegDataSample(metainfo=dict(img_path='a.jpg'))
    with pytest.raises(KeyError, match=r"gt_sem_seg.*a\.jpg"):
        head.loss((torch.zeros(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)), [sample])


def test_timestep_mismatch_is_an_error():
    with pytest.raises(ValueError, match='timesteps'):
        MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER,
                          diffusion=dict(type='DiscreteDiffusion', num_timesteps=4)))


def test_boundary_band_weights_the_coarse_outline():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER,
                             boundary_band=dict(radius=2, weight=3.0)))
    coarse = torch.zeros(1, 1, 16, 16)
    coarse[..., 4:12, 4:12] = 1
    weight = head.band_weight(coarse)[0]
    # within 2 px of the outline (rows/cols 2..13 minus the interior 6..9): 1 + 3
    assert weight[4, 4] == 4 and weight[2, 8] == 4 and weight[8, 13] == 4
    assert weight[8, 8] == 1 and weight[0, 0] == 1 and weight[8, 14] == 1
    # the BCE is the per-pixel BCE weighted by the band, averaged over the pixels
    img = torch.randn(1, 3, 16, 16)
    gt = torch.zeros(1, 1, 16, 16, dtype=torch.long)
    gt[..., 5:12, 4:12] = 1
    with torch.no_grad():
        loss = head.loss((img, coarse), gt_samples(gt), None, torch.Generator().manual_seed(0))
        gen = torch.Generator().manual_seed(0)  # the head draws t first, then the mix
        t = torch.randint(0, 6, (1, ), generator=gen)
        x_t = head.diffusion.corrupt(gt.float(), t, coarse, gen)
        logits = head.denoiser(torch.cat([img, x_t], 1), t)
        per_pixel = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[:, 0], gt[:, 0].float(), reduction='none')
    assert loss['loss_mask'].item() == pytest.approx((per_pixel * weight).mean().item(),
                                                     rel=1e-5)


@pytest.mark.parametrize('band', [dict(radius=0, weight=1.0), dict(radius=2),
                                  dict(radius=2, weight=-1.0)])
def test_boundary_band_is_checked(band):
    with pytest.raises(ValueError, match='boundary_band'):
        MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER,
                          boundary_band=band))


def test_timestep_weights_pick_the_training_steps():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER,
                             timestep_weights=[0, 0, 0, 0, 0, 1]))
    seen = []
    head.denoiser.register_forward_pre_hook(lambda mod, args: seen.append(args[1].clone()))
    img = torch.randn(4, 3, 16, 16)
    gt = torch.zeros(4, 1, 16, 16, dtype=torch.long)
    gt[..., 4:12, 4:12] = 1
    coarse = torch.zeros(4, 1, 16, 16)
    coarse[..., 3:10, 5:13] = 1
    with torch.no_grad():
        head.loss((img, coarse), gt_samples(gt), None, torch.Generator().manual_seed(0))
    assert seen[0].tolist() == [5, 5, 5, 5]  # the last index only: x_t is the coarse mask
    for bad in ([1, 1], [0] * 6, [1, 1, 1, 1, 1, -1]):
        with pytest.raises(ValueError, match='timestep_weights'):
            MODELS.build(dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER,
                              timestep_weights=bad))
