"""'hr' inference mode: global pass, patch proposals, native-resolution patches, edge cases."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.models.segmentors.hr_inference import (merge_patches, mixed_patches,
                                                       propose_patches, resize_global)
from utils import box_mask, tiny_refiner_cfg

SIZE = 32  # model size of the tiny configs


class ProbeDenoiser(torch.nn.Module):
    """Copy of the mask input, confident except where image channel 2 is 1; records calls.

    Tests give ``predict`` hand-made float inputs: channel 0 = x coordinate, channel 1 = y
    coordinate, channel 2 = the "unsure" flag, so a recorded patch shows where it came from.
    """
    size_divisor, num_timesteps = 1, 6

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, t):
        self.calls.append((t.tolist(), x.detach().clone()))
        unsure = x[:, 2:3].clamp(0, 1)
        return (x[:, 3:] - 0.5) * (40 * (1 - unsure) + 0.2 * unsure)

    def local_calls(self):
        return [x for t, x in self.calls if t[0] == 0]


def probe_model(**test_cfg):
    model = MODELS.build(tiny_refiner_cfg(**{'mode': 'hr', 'area_thr': 128, **test_cfg}))
    model.decode_head.denoiser = ProbeDenoiser()
    return model


def coordinate_inputs(height, width, unsure_cols=None):
    """(1, 3, H, W) float inputs: x, y coordinates and the unsure flag on columns."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float),
                            torch.arange(width, dtype=torch.float), indexing='ij')
    flag = torch.zeros(height, width)
    if unsure_cols is not None:
        flag[:, unsure_cols[0]:unsure_cols[1]] = 1
    return torch.stack([xx, yy, flag])[None]


def sample_with(mask):
    height, width = mask.shape[-2:]
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width)))
    sample.coarse_sem_seg = PixelData(data=mask.long().reshape(1, height, width))
    return sample


def test_hr_refine_600x900_with_tiny_network():
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg(mode='hr', area_thr=128, max_patches=3)).eval()
    calls = []
    model.decode_head.denoiser.register_forward_hook(
        lambda module, args, out: calls.append(args[0].shape))
    coarse = box_mask(600, 900, (200, 150, 700, 450))
    image = torch.randint(0, 256, (3, 600, 900), dtype=torch.uint8)

    def run():
        data = model.data_preprocessor(
            dict(inputs=[image], data_samples=[sample_with(coarse)]), False)
        with torch.no_grad():
            return model.predict(data['inputs'], data['data_samples'],
                                 generator=torch.Generator().manual_seed(0))[0]

    result = run()
    assert result.pred_sem_seg.shape == (600, 900)
    prob = result.seg_logits.data
    assert prob.shape == (1, 600, 900) and 0 <= prob.min() and prob.max() <= 1
    assert torch.equal(result.pred_sem_seg.data, (prob >= 0.5).long())
    # 5 global forwards on one 32² view, then at most 3 native 32² patches in one batch
    assert calls[:5] == [torch.Size([1, 4, SIZE, SIZE])] * 5
    assert len(calls) <= 6 and all(s[1:] == (4, SIZE, SIZE) and s[0] <= 3 for s in calls[5:])
    assert torch.equal(run().seg_logits.data, prob)  # the generator makes it reproducible


def test_confident_network_needs_no_patches():
    model = probe_model(antialias=False)
    coarse = torch.zeros(256, 256, dtype=torch.bool)
    coarse[64:192, 32:160] = True  # aligned to the 8-px cells of the 32² global grid
    inputs = coordinate_inputs(256, 256)
    result = model.predict(inputs, [sample_with(coarse)])[0]
    steps = [t[0] for t, _ in model.decode_head.denoiser.calls]
    assert steps == [5, 4, 3, 2, 1]  # F is 0.8 everywhere: no pixel is a candidate
    assert torch.equal(result.pred_sem_seg.data[0].bool(), coarse)


def test_patches_sit_on_unsure_boundary_at_native_resolution():
    model = probe_model()
    coarse = torch.zeros(600, 900, dtype=torch.bool)
    coarse[100:500, 200:450] = True
    inputs = coordinate_inputs(600, 900, unsure_cols=(410, 490))
    result = model.predict(inputs, [sample_with(coarse)])[0]
    patches = torch.cat(model.decode_head.denoiser.local_calls())
    assert len(patches) >= 3
    boxes = []
    for patch in patches:
        x1, y1 = int(patch[0, 0, 0]), int(patch[1, 0, 0])
        # native resolution: the coordinates are consecutive pixels, not resampled
        assert torch.equal(patch[0], torch.arange(x1, x1 + SIZE).float().expand(SIZE, SIZE))
        assert torch.equal(patch[1], torch.arange(y1, y1 + SIZE).float()[:, None].expand(
            SIZE, SIZE))
        # the mask input is the binarised global result: here both classes in every patch
        assert 0 < patch[3].sum() < SIZE * SIZE
        boxes.append([x1, y1, x1 + SIZE, y1 + SIZE])
        assert x1 < 490 and x1 + SIZE > 410  # on the unsure columns
        # the probe returns its mask input: pasted back exactly where the patch came from
        assert torch.equal(result.pred_sem_seg.data[0, y1:y1 + SIZE, x1:x1 + SIZE],
                           patch[3].long())
    boxes = torch.tensor(boxes, dtype=torch.float)
    # NMS: no two kept patches overlap by more than iou_thr
    area = SIZE * SIZE
    lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    iou = inter / (2 * area - inter)
    assert (iou.fill_diagonal_(0) <= 0.3 + 1e-6).all()
    # outside the patches the global result: the coarse mask up to the 28×19 px global cells
    assert (result.pred_sem_seg.data[0].bool() == coarse).float().mean() > 0.99


def test_max_patches_keeps_the_most_uncertain():
    coarse = torch.zeros(600, 900, dtype=torch.bool)
    coarse[100:500, 200:450] = True
    inputs = coordinate_inputs(600, 900, unsure_cols=(410, 490))
    counts = {}
    for cap in (None, 2, 0):
        model = probe_model(max_patches=cap)
        model.predict(inputs, [sample_with(coarse)])
        counts[cap] = sum(len(x) for x in model.decode_head.denoiser.local_calls())
    assert counts[None] > 2 and counts[2] == 2 and counts[0] == 0


@pytest.mark.parametrize('area', [0, 100, 128])
def test_tiny_masks_pass_through_unchanged(area):
    model = probe_model()
    coarse = torch.zeros(300, 400, dtype=torch.bool)
    coarse.view(-1)[torch.arange(area) * 7] = True  # scattered pixels, area <= area_thr
    result = model.predict(coordinate_inputs(300, 400), [sample_with(coarse)])[0]
    assert model.decode_head.denoiser.calls == []
    assert torch.equal(result.pred_sem_seg.data[0].bool(), coarse)
    # SegRefiner's behaviour, an empty result, is one setting away
    result = model.predict(coordinate_inputs(300, 400), [sample_with(coarse)],
                           test_cfg=dict(pass_through=False))[0]
    assert result.pred_sem_seg.data.sum() == 0


def test_mask_just_above_area_thr_is_refined():
    model = probe_model()
    coarse = torch.zeros(300, 400, dtype=torch.bool)
    coarse.view(-1)[:129] = True
    model.predict(coordinate_inputs(300, 400), [sample_with(coarse)])
    assert len(model.decode_head.denoiser.calls) == 5


@pytest.mark.parametrize('shape', [(20, 300), (24, 24), (300, 17)])
def test_images_smaller_than_a_patch(shape):
    height, width = shape
    model = probe_model(area_thr=0)
    coarse = torch.zeros(shape, dtype=torch.bool)
    coarse[:, :width // 2] = True
    result = model.predict(coordinate_inputs(height, width, unsure_cols=(width // 3, width)),
                           [sample_with(coarse)])[0]
    assert result.pred_sem_seg.shape == shape
    patches = model.decode_head.denoiser.local_calls()
    assert patches, 'a small image gets patches too'
    side = min(shape)
    for patch in torch.cat(patches):
        # a side × side patch resized to the model size: the coordinates span side pixels
        assert patch.shape[-2:] == (SIZE, SIZE)
        assert patch[0].max() - patch[0].min() <= side
    assert (result.pred_sem_seg.data[0].bool() == coarse).float().mean() > 0.9


def test_batch_of_different_sizes_matches_single_runs():
    model = probe_model()
    masks = [torch.zeros(200, 300, dtype=torch.bool), torch.zeros(150, 260, dtype=torch.bool)]
    masks[0][50:150, 60:200] = True
    masks[1][30:120, 100:250] = True
    single = [model.predict(coordinate_inputs(*m.shape, unsure_cols=(150, 230)),
                            [sample_with(m)])[0].seg_logits.data for m in masks]
    padded = torch.zeros(2, 3, 200, 300)
    padded[0] = coordinate_inputs(200, 300, unsure_cols=(150, 230))[0]
    padded[1, :, :150, :260] = coordinate_inputs(150, 260, unsure_cols=(150, 230))[0]
    padded_mask = torch.zeros(200, 300, dtype=torch.bool)
    padded_mask[:150, :260] = masks[1]
    samples = [sample_with(masks[0]), sample_with(padded_mask)]
    samples[1].set_metainfo(dict(img_shape=(150, 260), ori_shape=(150, 260)))
    batched = model.predict(padded, samples)
    for result, expected in zip(batched, single):
        assert torch.equal(result.seg_logits.data, expected)


def test_resize_global_antialias_vs_nearest():
    # a 1-px checkerboard aliases under nearest down-sampling but averages out when filtered
    checker = (torch.arange(256)[:, None] + torch.arange(256)[None]) % 2
    img = checker.float().expand(3, 256, 256)
    mask = torch.zeros(256, 256, dtype=torch.bool)
    mask[:, :100] = True
    near_img, near_mask = resize_global(img, mask, 32, antialias=False)
    assert torch.equal(near_img, F.interpolate(img[None], size=(32, 32), mode='nearest'))
    assert near_img.unique().tolist() == [0.0]  # aliasing: the 50 % grey turns black
    smooth_img, smooth_mask = resize_global(img, mask, 32, antialias=True)
    assert (smooth_img - 0.5).abs().max() < 0.05
    for small in (near_mask, smooth_mask):
        assert small.shape == (1, 1, 32, 32) and set(small.unique().tolist()) <= {0.0, 1.0}
        assert abs(small.mean().item() - 100 / 256) < 1 / 32


def test_propose_patches_geometry_and_order():
    fine = torch.full((8, 8), 0.8)
    fine[0, 0] = 0.1   # top-left corner: the box is shifted inside the image
    fine[4, 4] = 0.3   # image pixel (y·H/8, x·W/8) = (50, 80)
    fine[4, 5] = 0.5   # 20 px to the right: IoU 1/3 with the previous box
    boxes = propose_patches(fine, (100, 160), 40, fine_prob_thr=0.9, iou_thr=0.3)
    assert boxes.tolist() == [[0, 0, 40, 40], [60, 30, 100, 70]]
    # with a looser NMS the neighbour survives, after the more uncertain boxes
    boxes = propose_patches(fine, (100, 160), 40, fine_prob_thr=0.9, iou_thr=0.5)
    assert boxes.tolist() == [[0, 0, 40, 40], [60, 30, 100, 70], [80, 30, 120, 70]]
    # fine_prob_thr is relative to max(F): 0.5 < 0.9 · 0.8 but not < 0.6 · 0.8
    boxes = propose_patches(fine, (100, 160), 40, fine_prob_thr=0.6, iou_thr=0.5)
    assert boxes.tolist() == [[0, 0, 40, 40], [60, 30, 100, 70]]
    assert propose_patches(torch.full((8, 8), 0.8), (100, 160), 40).shape == (0, 4)


def test_mixed_patches_and_merge():
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:, :5] = True
    boxes = torch.tensor([[0, 0, 4, 4], [3, 0, 7, 4], [6, 6, 10, 10]])
    assert mixed_patches(mask, boxes).tolist() == [False, True, False]
    global_prob = torch.full((10, 10), 0.25)
    probs = torch.stack([torch.full((4, 4), 1.0), torch.full((4, 4), 0.0)])
    merged = merge_patches(global_prob, probs, [[0, 0, 4, 4], [2, 0, 6, 4]])
    assert merged[0, 0] == 1.0 and merged[0, 3] == 0.5 and merged[0, 5] == 0.0
    assert merged[5, 5] == 0.25


def test_invalid_hr_settings():
    model = probe_model()
    inputs, samples = coordinate_inputs(64, 64), [sample_with(box_mask(64, 64, (0, 0, 40, 40)))]
    with pytest.raises(ValueError, match='global_steps'):
        model.predict(inputs, samples, test_cfg=dict(global_steps=6))
    with pytest.raises(ValueError, match='max_patches'):
        model.predict(inputs, samples, test_cfg=dict(max_patches=-1))
