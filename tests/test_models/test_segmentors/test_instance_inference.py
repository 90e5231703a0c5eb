"""'instance' inference mode: pass-through, crop/paste geometry, batching, kept detections."""
import pytest
import torch
from mmengine.structures import InstanceData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from segrefiner.models.utils import mask_box, paste_mask, paste_prob
from utils import tiny_refiner_cfg


class ConstantDenoiser(torch.nn.Module):
    """Confident logits: a copy of the mask input (``value=None``) or a constant; records the
    batch size of each call."""
    size_divisor, num_timesteps = 1, 6

    def __init__(self, value=None):
        super().__init__()
        self.value = value
        self.calls = []

    def forward(self, x, t):
        self.calls.append(x.shape[0])
        if self.value is None:
            return (x[:, 3:] - 0.5) * 40
        return torch.full_like(x[:, 3:], self.value)


def instance_model(denoiser=None, **test_cfg):
    cfg = {'mode': 'instance', 'area_thr': 50, 'pad_width': 2, **test_cfg}
    model = MODELS.build(tiny_refiner_cfg(**cfg))
    if denoiser is not None:
        model.decode_head.denoiser = denoiser
    return model


def boxes_mask(height, width, boxes):
    """(N, H, W) bool masks, one rectangle (x1, y1, x2, y2) each (None: empty)."""
    masks = torch.zeros(len(boxes), height, width, dtype=torch.bool)
    for mask, box in zip(masks, boxes):
        if box is not None:
            x1, y1, x2, y2 = box
            mask[y1:y2, x1:x2] = True
    return masks


def sample_with(masks, img_id=7):
    num, height, width = masks.shape
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         img_id=img_id, img_path=f'{img_id}.jpg'))
    sample.coarse_instances = InstanceData(
        masks=masks, bboxes=torch.rand(num, 4) * 50, scores=torch.rand(num),
        labels=torch.arange(num) % 3)
    return sample


def batch(*mask_sets, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = [sample_with(masks, img_id=i) for i, masks in enumerate(mask_sets)]
    inputs = [torch.randint(0, 256, (3, ) + masks.shape[-2:], generator=gen,
                            dtype=torch.uint8) for masks in mask_sets]
    return dict(inputs=inputs, data_samples=samples)


# masks of a 60x80 image: big (refined), exactly 28x28 (box + 2 px = the 32 px model size),
# small (area 36 < 50: passes through), empty
BOXES = [(5, 4, 45, 40), (40, 20, 68, 48), (70, 50, 76, 56), None]


def test_copy_denoiser_returns_the_coarse_masks():
    model = instance_model(ConstantDenoiser(), steps=1)
    masks = boxes_mask(60, 80, BOXES)
    result = model.test_step(batch(masks))[0]
    refined = result.pred_instances.masks
    assert refined.dtype == torch.bool and refined.shape == masks.shape
    # no resampling when the padded box is exactly the model size
    assert torch.equal(refined[1], masks[1])
    # a 40x36 box goes down to 32x32 and back: within about a pixel
    inter = (refined[0] & masks[0]).sum()
    assert inter / (refined[0] | masks[0]).sum() > 0.93
    assert torch.equal(refined[2:], masks[2:])


def test_small_and_empty_masks_pass_through_detections_kept():
    model = instance_model(ConstantDenoiser(value=-40.0))  # refines everything to nothing
    masks = boxes_mask(60, 80, BOXES)
    data = batch(masks)
    coarse = data['data_samples'][0].coarse_instances
    result = model.test_step(data)[0].pred_instances
    assert not result.masks[:2].any()                   # refined: empty
    assert torch.equal(result.masks[2:], masks[2:])     # area < area_thr, empty: unchanged
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(result[key], coarse[key])
    model.test_cfg.area_thr = 0  # now the 6x6 mask is refined too; the empty one still passes
    result = model.test_step(batch(masks))[0].pred_instances
    assert not result.masks.any()


def test_refined_mask_is_empty_outside_its_padded_box():
    model = instance_model(ConstantDenoiser(value=40.0), pad_width=3)  # all foreground
    masks = boxes_mask(60, 80, BOXES[:2])
    result = model.test_step(batch(masks))[0].pred_instances.masks
    for refined, mask in zip(result, masks):
        x1, y1, x2, y2 = mask_box(mask, 3)
        expected = torch.zeros_like(mask)
        expected[y1:y2, x1:x2] = True
        assert torch.equal(refined, expected)


def test_crops_are_batched_across_instances_and_images():
    masks_a = boxes_mask(48, 64, [(2, 2, 30, 30), (30, 10, 60, 40), (1, 30, 20, 47)])
    masks_b = boxes_mask(48, 64, [(10, 5, 50, 45), (0, 0, 2, 2)])  # the second passes through
    outputs = {}
    for batch_max in (32, 2, 1):
        denoiser = ConstantDenoiser()
        model = instance_model(denoiser, batch_max=batch_max, steps=3)
        results = model.test_step(batch(masks_a, masks_b))
        # 4 crops to refine, 3 reverse steps, batch_max crops per denoiser call
        per_step = [min(batch_max, 4 - start) for start in range(0, 4, batch_max)]
        assert denoiser.calls == [n for n in per_step for _ in range(3)]
        outputs[batch_max] = [r.pred_instances.masks for r in results]
        assert [r.metainfo['img_id'] for r in results] == [0, 1]
    for batch_max in (2, 1):
        for got, ref in zip(outputs[batch_max], outputs[32]):
            assert torch.equal(got, ref)


def test_paste_mask_matches_the_full_canvas_paste():
    gen = torch.Generator().manual_seed(1)
    prob = torch.rand(1, 32, 32, generator=gen)
    for box in [(5, 7, 41, 30), (0, 0, 80, 60), (60, 40, 80, 60)]:
        target = torch.ones(60, 80, dtype=torch.bool)
        paste_mask(target, prob, box, 0.5)
        assert torch.equal(target, paste_prob(prob, box, 60, 80) >= 0.5)


def test_tiny_network_runs_and_steps_apply():
    torch.manual_seed(0)
    model = instance_model(steps=2)
    masks = boxes_mask(40, 56, [(4, 4, 30, 30), (20, 10, 50, 36)])
    result = model.test_step(batch(masks))[0].pred_instances
    assert result.masks.shape == (2, 40, 56) and result.masks.dtype == torch.bool
    assert not result.masks[0, :, 33:].any()  # box x 4..30 + 2 px padding


def test_clear_errors():
    model = instance_model(ConstantDenoiser())
    data = batch(boxes_mask(32, 32, [(2, 2, 20, 20)]))
    del data['data_samples'][0].coarse_instances
    with pytest.raises(KeyError, match='the instance mode needs samples with coarse_instances'):
        model.test_step(data)
    data = batch(boxes_mask(32, 32, [(2, 2, 20, 20)]))
    data['data_samples'][0].set_metainfo(dict(img_shape=(16, 32), ori_shape=(16, 32)))
    with pytest.raises(ValueError, match=r'masks of size \(32, 32\) do not match the image '
                                         r'size \(16, 32\)'):
        model.test_step(data)
