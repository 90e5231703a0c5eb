"""Helpers shared by the dataset and transform tests."""
import os
import os.path as osp

import cv2
import numpy as np


def object_mask(size: int = 256) -> np.ndarray:
    """A realistic (size, size) uint8 {0, 1} object: a concave star, a hole and a thin rod."""
    s = size / 256
    angles = np.pi * np.arange(14) / 7
    radii = np.where(np.arange(14) % 2 == 0, 90, 45) * s
    star = np.stack([128 * s + radii * np.cos(angles), 128 * s + radii * np.sin(angles)], 1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(star).astype(np.int32)], 1)
    cv2.circle(mask, (int(128 * s), int(128 * s)), int(18 * s), 0, -1)
    cv2.line(mask, (int(180 * s), int(128 * s)), (int(250 * s), int(20 * s)), 1,
             max(1, int(3 * s)))
    return mask


def write_png(path: str, array: np.ndarray) -> None:
    """Write ``array`` PNG-encoded (lossless) to ``path`` whatever its suffix."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    ok, data = cv2.imencode('.png', array)
    assert ok
    with open(path, 'wb') as f:
        f.write(data.tobytes())


def write_sample(root: str, name: str, shape=(48, 64), seed: int = 0,
                 coarse: bool = True) -> dict:
    """Write ``images/<name>.jpg``, ``masks/<name>.png`` and ``coarse/<name>.png`` (0/255).

    The image bytes are PNG-encoded (decoders go by content), so tests can compare pixels.

    Returns:
        dict: the arrays written: ``img`` (BGR uint8), ``gt`` and ``coarse`` (uint8 {0, 1}).
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    gt = np.zeros((h, w), np.uint8)
    gt[h // 4:3 * h // 4, w // 5:w // 2] = 1
    gt[h // 3, w // 2:w - 3] = 1
    coarse_mask = np.zeros((h, w), np.uint8)
    coarse_mask[h // 4 + 2:3 * h // 4 + 3, w // 5 - 2:w // 2 + 1] = 1
    write_png(osp.join(root, 'images', name + '.jpg'), img)
    write_png(osp.join(root, 'masks', name + '.png'), gt * 255)
    if coarse:
        write_png(osp.join(root, 'coarse', name + '.png'), coarse_mask * 255)
    return dict(img=img, gt=gt, coarse=coarse_mask)
