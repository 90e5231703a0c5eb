"""Crop → resize → refine → paste-back geometry with exact expected pixels (§5.4).

The convention under test: image pixel ``px`` covers ``[px, px + 1)``, so its centre is
``px + 0.5``; a box ``(x0, y0, x1, y1)`` of width ``w`` resized to ``S`` pixels puts crop pixel
``j``'s centre at image coordinate ``x0 + (j + 0.5) · w / S`` (bilinear, ``align_corners=False``),
and the paste maps every image pixel centre back through the same relation. A half-pixel error
in either direction changes the expected values below by at least 0.01.
"""
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from segrefiner.models.utils import crop_resize, mask_box, paste_prob
from utils import tiny_refiner_cfg

SIZE = 32  # model size of the tiny configs

#: The hand-made case: a 44×44 coarse box in a 96×112 image; with a 10 px margin its crop box
#: is 64×64, exactly twice the model size.
HEIGHT, WIDTH = 96, 112
COARSE_BOX = (30, 20, 74, 64)
CROP_BOX = (20, 10, 84, 74)

#: A 64-px paste of a 32-px crop that is 1 on crop pixels 8..23: image pixel ``p`` of the box
#: reads the crop at ``p / 2 − 0.25``, hence the 0.25 / 0.75 steps at both edges.
PROFILE_64 = torch.tensor([0.] * 15 + [0.25, 0.75] + [1.] * 30 + [0.75, 0.25] + [0.] * 15)


def coordinate_image(height: int, width: int) -> Tensor:
    """(3, H, W) float image: channel 0 = column index, 1 = row index, 2 = ones."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float),
                            torch.arange(width, dtype=torch.float), indexing='ij')
    return torch.stack([xx, yy, torch.ones(height, width)])


def box_mask(height: int, width: int, box) -> Tensor:
    """(H, W) bool mask with the box (x1, y1, x2, y2) set."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    return mask


def square_pattern() -> Tensor:
    """(1, S, S) crop "prediction": 1 on crop pixels 8..23 in both directions, else 0."""
    prob = torch.zeros(1, SIZE, SIZE)
    prob[:, 8:24, 8:24] = 1
    return prob


def expected_square_paste() -> Tensor:
    """The exact (H, W) paste of :func:`square_pattern` into ``CROP_BOX``."""
    x0, y0, x1, y1 = CROP_BOX
    cols = torch.zeros(WIDTH)
    rows = torch.zeros(HEIGHT)
    cols[x0:x1] = PROFILE_64
    rows[y0:y1] = PROFILE_64
    return rows[:, None] * cols[None]


def test_mask_box_pads_and_clips():
    mask = box_mask(HEIGHT, WIDTH, COARSE_BOX)
    assert mask_box(mask, 10) == CROP_BOX
    assert mask_box(mask) == COARSE_BOX
    assert mask_box(mask, 25) == (5, 0, 99, 89)  # clipped at the top only
    assert mask_box(mask, 40) == (0, 0, WIDTH, HEIGHT)
    assert mask_box(torch.zeros(5, 5, dtype=torch.bool), 3) is None


def test_crop_resize_samples_the_box_pixel_centres():
    img = coordinate_image(HEIGHT, WIDTH)
    img_crop, mask_crop = crop_resize(img, box_mask(HEIGHT, WIDTH, COARSE_BOX), CROP_BOX,
                                      (SIZE, SIZE))
    x0, y0 = CROP_BOX[:2]
    j = torch.arange(SIZE, dtype=torch.float)
    # crop pixel j sits on image coordinate x0 + 2j + 1, halfway between pixels x0 + 2j and
    # x0 + 2j + 1: the bilinear sample of the column index there is x0 + 2j + 0.5
    assert torch.equal(img_crop[0, 0], (x0 + 2 * j + 0.5).expand(SIZE, SIZE))
    assert torch.equal(img_crop[0, 1], (y0 + 2 * j + 0.5)[:, None].expand(SIZE, SIZE))
    # the coarse box covers box pixels 10..53: crop pixels 5..26 average two inside pixels
    expected = torch.zeros(SIZE, SIZE)
    expected[5:27, 5:27] = 1
    assert torch.equal(mask_crop[0, 0], expected)


def test_paste_prob_exact_pixels():
    pasted = paste_prob(square_pattern(), CROP_BOX, HEIGHT, WIDTH)
    assert pasted.shape == (HEIGHT, WIDTH) and pasted.dtype == torch.float
    torch.testing.assert_close(pasted, expected_square_paste(), atol=1e-5, rtol=0)
    # binarised: crop pixels 8..23 become image pixels x0 + 16 .. x0 + 47 exactly
    expected = torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
    expected[10 + 16:10 + 48, 20 + 16:20 + 48] = True
    assert torch.equal(pasted >= 0.5, expected)


def test_paste_inverts_crop_at_a_fractional_scale():
    """A 48×40 box at 32²: a linear ramp survives the resampling exactly inside the box."""
    height, width, box = 60, 80, (13, 7, 61, 47)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    img = coordinate_image(height, width)
    img_crop, _ = crop_resize(img, box_mask(height, width, box), box, (SIZE, SIZE))
    j = torch.arange(SIZE, dtype=torch.float)
    torch.testing.assert_close(img_crop[0, 0, 0], x0 + (j + 0.5) * w / SIZE - 0.5)
    torch.testing.assert_close(img_crop[0, 1, :, 0], y0 + (j + 0.5) * h / SIZE - 0.5)
    # pasting the coordinate crops back returns the coordinates on the pixels whose centre
    # maps inside the crop's first and last pixel centres (no zero padding involved)
    inner_x = slice(x0 + 1, x1 - 1)
    inner_y = slice(y0 + 1, y1 - 1)
    back_x = paste_prob(img_crop[0, 0:1], box, height, width)
    back_y = paste_prob(img_crop[0, 1:2], box, height, width)
    torch.testing.assert_close(back_x[inner_y, inner_x], img[0, inner_y, inner_x],
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(back_y[inner_y, inner_x], img[1, inner_y, inner_x],
                               atol=1e-4, rtol=0)
    # a ramp over the crop's pixel centres pastes to the pixel centres' position in the box
    ramp = ((j + 0.5) / SIZE).expand(1, SIZE, SIZE)
    pasted = paste_prob(ramp, box, height, width)
    px = torch.arange(width, dtype=torch.float)
    torch.testing.assert_close(pasted[inner_y, inner_x],
                               ((px[inner_x] + 0.5 - x0) / w).expand(h - 2, w - 2),
                               atol=1e-5, rtol=0)
    # bilinear reaches one pixel beyond the box (the centre of pixel x0 − 1 reads the crop at
    # −(0.5 · S / w + 0.5), i.e. weight 0.5 − 0.5 · S / w = 1/6 on crop pixel 0), never further
    torch.testing.assert_close(pasted[inner_y, x0 - 1],
                               torch.full((h - 2, ), float(ramp[0, 0, 0]) / 6), atol=1e-6, rtol=0)
    outside = torch.ones(height, width, dtype=torch.bool)
    outside[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = False
    assert not pasted[outside].any()


class PatternDenoiser(torch.nn.Module):
    """Records its input and predicts :func:`square_pattern` with certainty (logits ±1e4)."""
    size_divisor, num_timesteps = 1, 6

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x, t):
        self.inputs.append(x.detach().clone())
        return (square_pattern()[None].expand(x.shape[0], 1, -1, -1) - 0.5) * 2e4


def test_refiner_crop_mode_pastes_exact_pixels():
    """crop → resize → refine → paste through ``Refiner.predict``, pixel for pixel."""
    model = MODELS.build(tiny_refiner_cfg(steps=1, pad_width=10))
    model.decode_head.denoiser = PatternDenoiser()
    sample = SegDataSample(metainfo=dict(img_shape=(HEIGHT, WIDTH), ori_shape=(HEIGHT, WIDTH)))
    sample.coarse_sem_seg = PixelData(data=box_mask(HEIGHT, WIDTH, COARSE_BOX).long()[None])
    inputs = coordinate_image(HEIGHT, WIDTH)[None]
    result = model.predict(inputs, [sample])[0]
    # the denoiser saw the 64×64 crop box at the model size, with the re-binarised mask
    (seen, ) = model.decode_head.denoiser.inputs
    img_crop, mask_crop = crop_resize(inputs[0], box_mask(HEIGHT, WIDTH, COARSE_BOX), CROP_BOX,
                                      (SIZE, SIZE))
    assert seen.shape == (1, 4, SIZE, SIZE)
    assert torch.equal(seen[0, 0, 0], 20 + 2 * torch.arange(SIZE, dtype=torch.float) + 0.5)
    assert torch.equal(seen, torch.cat([img_crop, mask_crop], dim=1))
    # its prediction came back at the exact pixels, everything else is background
    torch.testing.assert_close(result.seg_logits.data[0], expected_square_paste(), atol=1e-5,
                               rtol=0)
    expected = torch.zeros(1, HEIGHT, WIDTH, dtype=torch.long)
    expected[:, 26:58, 36:68] = 1
    assert torch.equal(result.pred_sem_seg.data, expected)
