"""'hr' inference mode: global pass, patch proposals, native-resolution patches, edge cases."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.models.segmentors import refiner as refiner_module
from segrefiner.models.utils import merge_patches, mixed_patches, propose_patches, resize_global
from tiny_models import TINY_DENOISER_256
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
    assert torch.equal(result.pred_sem_seg.data, (prob > 0.5).long())  # mmseg's rule
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


# ------------------------------------------------------------------ real size: 2048×1536 at 256²
HR_H, HR_W, HR_SIZE = 1536, 2048, 256


def spy_hr(monkeypatch, model, replay_global=None):
    """Record the HR mode's reverse-process calls and the boxes handed to ``crop_patch``.

    ``calls`` holds ``(indices, img, coarse, prob, fine_probs)`` per call. With
    ``replay_global`` = ``(prob, fine_probs)`` of an earlier run, the global call returns it
    and the local calls (index 0) return zeros: nothing runs the network.
    """
    record = dict(calls=[], boxes=[])
    reverse, crop = model.reverse_process, refiner_module.crop_patch

    def reverse_process(img, coarse, indices, cfg=None, generator=None):
        if replay_global is None:
            out = reverse(img, coarse, indices, cfg, generator)
        elif list(indices) == [0]:
            zeros = img.new_zeros((img.shape[0], 1) + img.shape[-2:])
            out = (zeros, zeros)
        else:
            out = replay_global
        record['calls'].append((list(indices), img, coarse) + tuple(out))
        return out

    def crop_patch(img, mask, box, size):
        record['boxes'].append(tuple(box))
        return crop(img, mask, box, size)

    monkeypatch.setattr(model, 'reverse_process', reverse_process)
    monkeypatch.setattr(refiner_module, 'crop_patch', crop_patch)
    return record


def candidate_scores(fine_probs, shape, patch_size, fine_prob_thr=0.9):
    """Box → best score ``1 − F`` over the uncertain grid pixels proposing it (§4 step 4)."""
    height, width = shape
    grid = fine_probs.shape[-1]
    ys, xs = torch.nonzero(fine_probs < fine_prob_thr * fine_probs.max(), as_tuple=True)
    y1 = (ys * height // grid - patch_size // 2).clamp(0, height - patch_size)
    x1 = (xs * width // grid - patch_size // 2).clamp(0, width - patch_size)
    best = torch.zeros(height * width).scatter_reduce(0, y1 * width + x1, 1 - fine_probs[ys, xs],
                                                      'amax')
    keys = torch.nonzero(best).flatten()
    return {(x, y, x + patch_size, y + patch_size): score
            for x, y, score in zip((keys % width).tolist(), (keys // width).tolist(),
                                   best[keys].tolist())}


def pairwise_iou(boxes):
    boxes = torch.tensor(boxes, dtype=torch.float)
    lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(-1)
    return (inter / (area[:, None] + area[None] - inter)).fill_diagonal_(0)


def test_hr_2048x1536_at_model_size_256_with_tiny_network(monkeypatch):
    """The real size: one 256² global view, native 256² patches on its uncertain pixels."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_refiner_cfg(TINY_DENOISER_256, mode='hr', model_size=HR_SIZE,
                                          area_thr=128)).eval()
    image = torch.randint(0, 256, (3, HR_H, HR_W), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    coarse = box_mask(HR_H, HR_W, (600, 400, 1500, 1100))
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample_with(coarse)]),
                                   False)
    inputs = data['inputs']

    def run(max_patches, replay_global=None):
        record = spy_hr(monkeypatch, model, replay_global)
        with torch.no_grad():
            result = model.predict(inputs, data['data_samples'],
                                   test_cfg=dict(max_patches=max_patches),
                                   generator=torch.Generator().manual_seed(0))[0]
        monkeypatch.undo()
        return result, record

    result, record = run(max_patches=3)
    (global_steps, global_img, _, global_prob, fine), *local = record['calls']
    assert global_steps == [5, 4, 3, 2, 1] and global_img.shape == (1, 3, HR_SIZE, HR_SIZE)
    # the patch pass ran: one batch of the 3 capped patches at index 0
    assert [(steps, img.shape) for steps, img, *_ in local] == [
        ([0], torch.Size([3, 3, HR_SIZE, HR_SIZE]))]
    _, patch_img, patch_mask, patch_prob, _ = local[0]
    boxes = record['boxes']
    scores = candidate_scores(fine[0, 0], (HR_H, HR_W), HR_SIZE)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        assert 0 <= x1 and x2 <= HR_W and 0 <= y1 and y2 <= HR_H
        # native resolution: the patch is the image cut as it is
        assert torch.equal(patch_img[k], inputs[0, :, y1:y2, x1:x2])
        # where the global pass was unsure: centred (shifted inside) on an uncertain pixel
        assert (x1, y1, x2, y2) in scores
        # with both classes in the binarised global result
        assert 0 < patch_mask[k].sum() < HR_SIZE * HR_SIZE
    # the result: patch probabilities where one patch covers, the upsampled global one outside
    prob = result.seg_logits.data[0]
    assert result.pred_sem_seg.shape == (HR_H, HR_W)
    count = torch.zeros(HR_H, HR_W)
    for x1, y1, x2, y2 in boxes:
        count[y1:y2, x1:x2] += 1
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        once = count[y1:y2, x1:x2] == 1
        torch.testing.assert_close(prob[y1:y2, x1:x2][once], patch_prob[k, 0][once], atol=1e-5,
                                   rtol=0)
    upsampled = F.interpolate(global_prob, size=(HR_H, HR_W), mode='bilinear',
                              align_corners=False)[0, 0]
    torch.testing.assert_close(prob[count == 0], upsampled[count == 0], atol=1e-5, rtol=0)

    # uncapped, on the same global pass (replayed; the local pass stubbed out): more patches,
    # spread out by the NMS
    _, uncapped = run(max_patches=None, replay_global=(global_prob, fine))
    all_boxes = uncapped['boxes']
    assert len(all_boxes) > 3 and all(box in scores for box in all_boxes)
    assert (pairwise_iou(all_boxes) <= 0.3 + 1e-6).all()
    # max_patches keeps the most uncertain ones
    assert boxes == all_boxes[:3]
    assert min(scores[box] for box in boxes) >= max(scores[box] for box in all_boxes[3:])


def test_hr_real_size_patches_follow_the_unsure_region():
    """A deterministic probe at 2048×1536 / 256²: very unsure on the object's right edge,
    slightly unsure on its left edge. Patches cover both; ``max_patches`` takes the right."""
    coarse = torch.zeros(HR_H, HR_W, dtype=torch.bool)
    coarse[384:1152, 512:1536] = True  # aligned to the 8×6 px cells of the 256² grid
    very, slightly = (1472, 1600), (448, 576)  # columns across the right and left edges
    inputs = coordinate_inputs(HR_H, HR_W, unsure_cols=very)
    inputs[0, 2, :, slightly[0]:slightly[1]] = 0.95  # F ≈ 0.4 there, ≈ 0.04 on the right

    def run(max_patches):
        model = probe_model(model_size=HR_SIZE, max_patches=max_patches)
        result = model.predict(inputs, [sample_with(coarse)])[0]
        local = model.decode_head.denoiser.local_calls()
        patches = torch.cat(local) if local else torch.zeros(0, 4, HR_SIZE, HR_SIZE)
        return result, patches

    def band_of(x1):
        overlaps = [x1 < end and x1 + HR_SIZE > start for start, end in (very, slightly)]
        assert sum(overlaps) == 1, f'patch at x={x1} lies on no unsure band'
        return 'very' if overlaps[0] else 'slightly'

    result, patches = run(None)
    ramp = torch.arange(HR_SIZE, dtype=torch.float)
    boxes, bands = [], []
    for patch in patches:
        x1, y1 = int(patch[0, 0, 0]), int(patch[1, 0, 0])
        assert torch.equal(patch[0], (x1 + ramp).expand(HR_SIZE, HR_SIZE))  # native pixels
        assert torch.equal(patch[1], (y1 + ramp)[:, None].expand(HR_SIZE, HR_SIZE))
        assert 0 < patch[3].sum() < HR_SIZE * HR_SIZE
        boxes.append([x1, y1, x1 + HR_SIZE, y1 + HR_SIZE])
        bands.append(band_of(x1))
        assert torch.equal(result.pred_sem_seg.data[0, y1:y1 + HR_SIZE, x1:x1 + HR_SIZE],
                           patch[3].long())
    assert bands.count('very') > 3 and bands.count('slightly') >= 1
    assert bands[:3] == ['very'] * 3  # the most uncertain first
    assert (pairwise_iou(boxes) <= 0.3 + 1e-6).all()
    # the probe keeps the coarse mask; bilinear up-sampling of the global result shaves a few
    # corner pixels outside the patches
    assert (result.pred_sem_seg.data[0].bool() != coarse).sum() < 100

    _, capped = run(3)
    assert capped.shape[0] == 3
    assert [[int(p[0, 0, 0]), int(p[1, 0, 0])] for p in capped] == [b[:2] for b in boxes[:3]]
    assert all(band_of(int(p[0, 0, 0])) == 'very' for p in capped)
