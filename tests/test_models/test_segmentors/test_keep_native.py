"""``test_cfg.keep_native``: the refinement applied to the native-resolution coarse mask as a
change (``paste_residual``), in the crop, whole, hr, auto and instance modes."""
import pytest
import torch
from mmengine.structures import InstanceData, PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.models.utils import (change_weight, crop_resize, mask_box, paste_mask, paste_prob,
                                     paste_residual)
from utils import tiny_refiner_cfg

SIZE = 32  # model size of the tiny configs


def comb_mask(height: int, width: int) -> torch.Tensor:
    """(H, W) bool blob whose right edge is a comb of 1-px teeth (detail finer than a pixel
    of any model-size view of it)."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[20:height - 20, 25:width // 2] = True
    mask[20:height - 20:2, width // 2:width // 2 + 3] = True  # teeth on every other row
    return mask


class CopyDenoiser(torch.nn.Module):
    """Predicts its mask input with certainty: a refinement that changes nothing."""
    size_divisor, num_timesteps = 1, 6

    def forward(self, x, t):
        return (x[:, -1:] - 0.5) * 2e4


class AddSquareDenoiser(CopyDenoiser):
    """Its mask input plus a foreground square on model pixels 0..2 (the top left corner)."""

    def forward(self, x, t):
        mask = x[:, -1:].clone()
        mask[..., 0:3, 0:3] = 1
        return (mask - 0.5) * 2e4


def test_paste_residual_keeps_what_the_refinement_left():
    height, width = 90, 120
    coarse = comb_mask(height, width)
    box = mask_box(coarse, 10)
    _, model_mask = crop_resize(coarse.float()[None].expand(3, -1, -1), coarse, box,
                                (SIZE, SIZE))
    model_mask = model_mask[0]
    # the plain paste of an unchanged crop loses the teeth; the residual one keeps them
    assert not torch.equal(paste_prob(model_mask, box, height, width) >= 0.5, coarse)
    kept = paste_residual(coarse, model_mask, model_mask, box)
    assert kept.dtype == torch.float32 and torch.equal(kept, coarse.float())
    # where the decision changed (and one model pixel around) the refined crop is pasted;
    # everywhere else the coarse mask stays
    changed = model_mask.clone()
    changed[:, 0:3, 0:3] = 1
    result = paste_residual(coarse, changed, model_mask, box)
    weight = paste_prob(change_weight(changed, model_mask), box, height, width)
    pasted = paste_prob(changed, box, height, width)
    torch.testing.assert_close(result, coarse + weight * (pasted - coarse.float()))
    assert weight.max() == 1 and torch.equal(result[weight == 0], coarse[weight == 0].float())
    assert ((pasted >= 0.5) & (weight == 1)).sum() > 9  # the new square is there
    # paste_mask with the model mask is the same, in place on a copy of the coarse mask
    target = coarse.clone()
    paste_mask(target, changed, box, 0.5, model_mask)
    assert torch.equal(target, result >= 0.5)
    assert coarse.sum() < target.sum()  # the square was added to the copy


def sample_with(mask, instances: bool = False):
    height, width = mask.shape
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    sample.coarse_sem_seg = PixelData(data=mask.long()[None])
    if instances:
        sample.coarse_instances = InstanceData(
            masks=mask[None], bboxes=torch.tensor([[0., 0., width, height]]),
            scores=torch.ones(1), labels=torch.zeros(1, dtype=torch.long))
    return sample


@pytest.mark.parametrize('mode', ['crop', 'whole', 'hr', 'auto', 'instance'])
def test_unchanged_refinement_returns_the_coarse_mask(mode):
    """With ``keep_native`` a refinement that changes nothing gives the coarse mask back,
    teeth included; without it the model-size round trip loses them."""
    height, width = 90, 120  # box 110 x 70 px, larger than the model size: auto picks hr
    coarse = comb_mask(height, width)
    model = MODELS.build(tiny_refiner_cfg(mode=mode))
    model.decode_head.denoiser = CopyDenoiser()
    inputs = torch.rand(1, 3, height, width)
    results = {}
    for keep in (False, True):
        with torch.no_grad():
            (out, ) = model.predict(inputs, [sample_with(coarse, mode == 'instance')],
                                    test_cfg=dict(keep_native=keep))
        results[keep] = (out.pred_instances.masks[0] if mode == 'instance' else
                         out.pred_sem_seg.data[0].bool())
    assert torch.equal(results[True], coarse)
    assert not torch.equal(results[False], coarse)


@pytest.mark.parametrize('mode', ['crop', 'instance'])
def test_changes_are_applied(mode):
    height, width = 90, 120
    coarse = comb_mask(height, width)
    model = MODELS.build(tiny_refiner_cfg(mode=mode, pad_width=10))
    model.decode_head.denoiser = AddSquareDenoiser()
    with torch.no_grad():
        (out, ) = model.predict(torch.rand(1, 3, height, width),
                                [sample_with(coarse, mode == 'instance')],
                                test_cfg=dict(keep_native=True))
    result = out.pred_instances.masks[0] if mode == 'instance' else out.pred_sem_seg.data[0]
    result = result.bool()
    x1, y1 = mask_box(coarse, 10)[:2]
    assert torch.equal(result & coarse, coarse)  # the coarse mask is kept ...
    added = result & ~coarse  # ... and the square is added near the box's top left
    ys, xs = torch.nonzero(added, as_tuple=True)
    assert added.sum() > 9 and ys.min() >= y1 and xs.min() >= x1
    assert ys.max() < y1 + 8 and xs.max() < x1 + 8
