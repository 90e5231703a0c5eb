"""Small model configs and fake batches shared by the model tests."""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

# the tiny model is shared with the other test folders
from tiny_models import TINY_DENOISER, tiny_refiner_cfg  # noqa: F401


def box_mask(height, width, box):
    """(1, H, W) int64 mask with the box (x1, y1, x2, y2) set."""
    mask = torch.zeros(1, height, width, dtype=torch.long)
    x1, y1, x2, y2 = box
    mask[:, y1:y2, x1:x2] = 1
    return mask


def fake_sample(height, width, gt_box=(8, 6, 24, 26), coarse_box=(10, 4, 26, 22)):
    """A ``SegDataSample`` with box-shaped GT and coarse masks."""
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         img_path=f'fake_{height}x{width}.jpg'))
    sample.gt_sem_seg = PixelData(data=box_mask(height, width, gt_box))
    if coarse_box is not None:
        sample.coarse_sem_seg = PixelData(data=box_mask(height, width, coarse_box))
    return sample


def fake_batch(num=2, height=32, width=32, seed=0, **kwargs):
    """``dict(inputs=[...], data_samples=[...])`` as a dataloader yields it."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8)
              for _ in range(num)]
    return dict(inputs=inputs, data_samples=[fake_sample(height, width, **kwargs)
                                             for _ in range(num)])
