"""Helpers of the query-segmenter tests: a reduced model and a hand-made single-object image."""
import os
import os.path as osp

import cv2
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUERY_CONFIGS = osp.join(ROOT, 'configs', 'query_seg')
BASE_MODEL = osp.join(ROOT, 'configs', '_base_', 'models', 'query_seg.py')


def tiny_query_model(model: dict, num_layers: int = 2, num_queries: int = 10) -> dict:
    """``model`` (a QuerySegmentor config, changed in place) reduced for CPU tests: mmdet's
    CSPDarknet at width 0.125 (c3/c4/c5 of 32/64/128 channels at strides 8/16/32) instead of
    DarkNet-53, a 32-channel YOLOV3Neck, and a decoder of width 64 with ``num_layers`` layers,
    2 heads, ``num_queries`` queries and 1024 points per mask."""
    model['backbone'] = dict(type='mmdet.CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
                             out_indices=(2, 3, 4))
    model['neck'].update(in_channels=[128, 64, 32], out_channels=[32, 32, 32])
    attn = dict(embed_dims=64, num_heads=2, batch_first=True)
    model['decode_head'].update(
        in_channels=32, embed_dims=64, num_queries=num_queries, num_points=1024,
        transformer_decoder=dict(num_layers=num_layers, layer_cfg=dict(
            self_attn_cfg=attn, cross_attn_cfg=attn,
            ffn_cfg=dict(embed_dims=64, feedforward_channels=128))))
    return model


def blob_sample(size: int = 128, seed: int = 0):
    """A (size, size, 3) uint8 BGR image of a noisy ellipse and a square on a plain background,
    and its (size, size) uint8 0/255 mask."""
    rng = np.random.default_rng(seed)
    s = size / 128
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (int(60 * s), int(68 * s)), (int(34 * s), int(24 * s)), 30, 0, 360, 255, -1)
    cv2.rectangle(mask, (int(90 * s), int(10 * s)), (int(118 * s), int(40 * s)), 255, -1)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = (40, 150, 200)
    image[mask > 0] = (200, 60, 90)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    return image, mask


def write_pair(img_path: str, mask_path: str, image: np.ndarray, mask: np.ndarray) -> None:
    """Write an image (by its extension) and a PNG mask, making their folders."""
    for path, array in ((img_path, image), (mask_path, mask)):
        os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(path, array), path
