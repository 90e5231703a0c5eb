"""'auto' mode and the HR mode's box view: crop for boxes that fit the model size, HR on the box
otherwise; the box view's global pass, patches and background outside the box."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.models.segmentors.refiner import Refiner
from utils import box_mask, tiny_refiner_cfg

SIZE = 32  # model size of the tiny configs; pad_width is 20


class ProbeDenoiser(torch.nn.Module):
    """Copy of the mask input, unsure where image channel 2 is 1; records its inputs.

    Image channels 0 and 1 hold the x and y pixel coordinates, so a recorded input shows
    which region of the image it was cut from.
    """
    size_divisor, num_timesteps = 1, 6

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, t):
        self.calls.append((t.tolist(), x.detach().clone()))
        unsure = x[:, 2:3].clamp(0, 1)
        return (x[:, 3:] - 0.5) * (40 * (1 - unsure) + 0.2 * unsure)


def sample_with(mask):
    height, width = mask.shape[-2:]
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    sample.coarse_sem_seg = PixelData(data=mask.long().reshape(1, height, width))
    return sample


def coordinate_inputs(height, width, unsure_cols=None):
    """(1, 3, H, W) float inputs: x, y coordinates and the unsure flag on columns."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float),
                            torch.arange(width, dtype=torch.float), indexing='ij')
    flag = torch.zeros(height, width)
    if unsure_cols is not None:
        flag[:, unsure_cols[0]:unsure_cols[1]] = 1
    return torch.stack([xx, yy, flag])[None]


def probe_model(**test_cfg):
    model = MODELS.build(tiny_refiner_cfg(**test_cfg))
    model.decode_head.denoiser = ProbeDenoiser()
    return model


def run(model, inputs, samples, seed=0, **test_cfg):
    with torch.no_grad():
        return model.predict(inputs, samples, test_cfg=test_cfg,
                             generator=torch.Generator().manual_seed(seed))


def test_auto_is_a_mode_and_unknown_modes_are_refused():
    assert Refiner.merge_test_cfg(dict(mode='auto')).mode == 'auto'
    with pytest.raises(ValueError, match=r"one of \['auto', 'crop', 'hr', 'instance', "
                       r"'whole'\], got 'slide'"):
        Refiner.merge_test_cfg(dict(mode='slide'))
    model = probe_model(mode='hr', global_view='crop')
    with pytest.raises(ValueError, match=r"global_view must be one of \['box', 'image'\]"):
        model.predict(coordinate_inputs(64, 64), [sample_with(box_mask(64, 64, (8, 8, 30, 30)))])


def test_auto_splits_a_batch_by_box_size_and_equals_each_mode():
    """Box + 20 px margin: 4+40 = 44 > 32 → HR; a 1-px mask at the corner: 21 ≤ 32 → crop;
    an empty mask passes through the crop mode."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg()).eval()
    height, width = 96, 128
    images = [torch.randint(0, 256, (3, height, width), dtype=torch.uint8) for _ in range(3)]
    masks = [box_mask(height, width, (0, 0, 1, 1)), box_mask(height, width, (30, 20, 90, 70)),
             torch.zeros(1, height, width, dtype=torch.long)]

    def prepare(indices):  # fresh samples: predict writes its results into them
        data = model.data_preprocessor(dict(inputs=[images[i] for i in indices],
                                            data_samples=[sample_with(masks[i])
                                                          for i in indices]), False)
        return data['inputs'], data['data_samples']

    auto = run(model, *prepare([0, 1, 2]), mode='auto')
    # the same draws: the crop samples first (0 and 2), then the HR sample (1)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        crop = model.predict(*prepare([0, 2]), test_cfg=dict(mode='crop'), generator=generator)
        hr = model.predict(*prepare([1]), test_cfg=dict(mode='hr', global_view='box'),
                           generator=generator)
    for result, expected in zip(auto, [crop[0], hr[0], crop[1]]):
        assert torch.equal(result.seg_logits.data, expected.seg_logits.data)
        assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)
    assert not auto[2].pred_sem_seg.data.any()
    # the two modes do differ on the large box (else the split would be untested)
    crop_large = run(model, *prepare([1]), mode='crop')[0]
    assert not torch.equal(crop_large.seg_logits.data, hr[0].seg_logits.data)


def test_auto_picks_crop_up_to_the_model_size():
    model = probe_model(mode='auto', pad_width=4)
    # box 24 + 2·4 = 32: crop (6 steps at 32²); 25 + 8 = 33: HR (5 global steps, then patches)
    for side, steps in ((24, [5, 4, 3, 2, 1, 0]), (25, [5, 4, 3, 2, 1])):
        model.decode_head.denoiser.calls.clear()
        mask = box_mask(80, 80, (20, 20, 20 + side, 20 + side))
        model.predict(coordinate_inputs(80, 80), [sample_with(mask)])
        assert [t[0] for t, _ in model.decode_head.denoiser.calls][:len(steps)] == steps
        if side == 25:  # the confident probe proposes no patch: only the global pass
            assert len(model.decode_head.denoiser.calls) == 5


def test_hr_box_view_refines_the_box_and_keeps_background_outside():
    model = probe_model(mode='hr', area_thr=0, global_view='box', antialias=False)
    height, width = 400, 600
    coarse = torch.zeros(height, width, dtype=torch.bool)
    coarse[100:300, 200:350] = True  # box + 20: x 180..370, y 80..320 (190 × 240)
    inputs = coordinate_inputs(height, width, unsure_cols=(330, 360))
    result = model.predict(inputs, [sample_with(coarse)])[0]
    calls = model.decode_head.denoiser.calls
    # the global pass sees the box (nearest resampling: coordinates inside it), not the image
    global_view = calls[0][1]
    assert global_view.shape == (1, 4, SIZE, SIZE)
    assert 180 <= global_view[0, 0].min() and global_view[0, 0].max() < 370
    assert 80 <= global_view[0, 1].min() and global_view[0, 1].max() < 320
    # native patches inside the box, on the unsure columns
    patches = [x for t, x in calls if t[0] == 0]
    assert patches
    for patch in torch.cat(patches):
        x1, y1 = int(patch[0, 0, 0]), int(patch[1, 0, 0])
        assert torch.equal(patch[0], torch.arange(x1, x1 + SIZE).float().expand(SIZE, SIZE))
        assert 180 <= x1 and x1 + SIZE <= 370 and 80 <= y1 and y1 + SIZE <= 320
        assert x1 < 360 and x1 + SIZE > 330
    pred = result.pred_sem_seg.data[0].bool()
    assert pred.shape == (height, width)
    outside = torch.ones_like(pred)
    outside[80:320, 180:370] = False
    assert not pred[outside].any()
    # the probe copies its mask input: the coarse mask up to the ~6×8 px global cells
    assert (pred == coarse).float().mean() > 0.98


def test_hr_image_view_is_unchanged_by_default():
    model = probe_model(mode='hr', area_thr=0, antialias=False)
    coarse = box_mask(400, 600, (200, 100, 350, 300))
    model.predict(coordinate_inputs(400, 600), [sample_with(coarse)])
    global_view = model.decode_head.denoiser.calls[0][1]
    assert global_view[0, 0].min() < 20 and global_view[0, 0].max() > 580  # the whole image


@pytest.mark.parametrize('steps, called', [(6, [5, 4, 3, 2, 1, 0]), (5, [5, 4, 3, 2, 1]),
                                           (3, [5, 4, 3])])
def test_hr_steps_shorten_the_chain(steps, called):
    """The global pass takes the first global_steps (5) of the chain, the patches the rest;
    a chain of at most 5 steps ends in the global pass."""
    model = probe_model(mode='hr', area_thr=0)
    coarse = torch.zeros(200, 300, dtype=torch.bool)
    coarse[50:150, 100:250] = True
    model.predict(coordinate_inputs(200, 300, unsure_cols=(230, 270)), [sample_with(coarse)],
                  test_cfg=dict(steps=steps))
    assert sorted({t[0] for t, _ in model.decode_head.denoiser.calls}, reverse=True) == called
