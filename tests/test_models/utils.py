"""Small model configs and fake batches shared by the model tests."""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

TINY_DENOISER = dict(type='DenoiseUNet', model_channels=16, num_res_blocks=1,
                     channel_mult=(1, 2), attention_strides=(2, ), num_heads=2, norm_groups=8)


def tiny_refiner_cfg(**test_cfg):
    """A Refiner config with a 2-level, 16-channel denoiser (model size 32)."""
    return dict(
        type='Refiner',
        data_preprocessor=dict(type='RefineDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        decode_head=dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER),
        test_cfg=dict(model_size=32, **test_cfg))


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
