"""Fixtures in the on-disk layouts of the HR datasets: BIG, DIS-5K and the HR collection."""
import json
from pathlib import Path
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

DIS_SHAPES = {'DIS-TE1': {'1#Accessories#1': (70, 90)}, 'DIS-VD': {'2#Aircraft#5': (64, 80),
                                                                    '2#Aircraft#7': (60, 60)}}


def blob(shape: Tuple[int, int], seed: int) -> np.ndarray:
    """uint8 {0, 1}: an ellipse with a thin rod, placed by ``seed``."""
    h, w = shape
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    centre = (int(w * rng.uniform(0.4, 0.6)), int(h * rng.uniform(0.4, 0.6)))
    cv2.ellipse(mask, centre, (w // 4, h // 4), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    cv2.line(mask, centre, (w - 4, h - 4), 1, 2)
    return mask


def coarse_of(gt: np.ndarray) -> np.ndarray:
    """A coarse version of ``gt``: dilated, without the thin rod."""
    opened = cv2.morphologyEx(gt, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return cv2.dilate(opened, np.ones((3, 3), np.uint8))


def write_image(path: Path, shape: Tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(0, 256, tuple(shape) + (3, ), dtype=np.uint8))


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask.astype(np.uint8) * 255)


def write_big(root: Path, names: Sequence[str] = ('lion', 'bus'),
              shape: Tuple[int, int] = (96, 128), model: str = 'deeplab') -> Dict[str, dict]:
    """``root/test/<name>_{im.jpg,gt.png}`` and ``root/coarse/<model>/<name>_seg.png``.

    As CascadePSP distributes them, the coarse folder also holds copies of ``_im.jpg`` and
    ``_gt.png``. Returns ``{name: dict(gt=..., coarse=...)}`` (uint8 {0, 1}).
    """
    arrays = {}
    for i, name in enumerate(names):
        gt = blob(shape, i)
        coarse = coarse_of(gt)
        for folder in (root / 'test', root / 'coarse' / model):
            write_image(folder / f'{name}_im.jpg', shape, i)
            write_mask(folder / f'{name}_gt.png', gt)
        write_mask(root / 'coarse' / model / f'{name}_seg.png', coarse)
        arrays[name] = dict(gt=gt, coarse=coarse)
    return arrays


def write_dis(root: Path, model: str = 'isnet') -> Dict[str, Dict[str, dict]]:
    """``root/<set>/{im,gt}/<name>`` and ``root/coarse/<model>/<set>/<name>.png``.

    Returns ``{set: {name: dict(gt=..., coarse=...)}}`` (uint8 {0, 1}).
    """
    arrays: Dict[str, Dict[str, dict]] = {}
    seed = 0
    for dis_set, names in DIS_SHAPES.items():
        arrays[dis_set] = {}
        for name, shape in names.items():
            gt = blob(shape, seed)
            coarse = coarse_of(gt)
            write_image(root / dis_set / 'im' / f'{name}.jpg', shape, seed)
            write_mask(root / dis_set / 'gt' / f'{name}.png', gt)
            write_mask(root / 'coarse' / model / dis_set / f'{name}.png', coarse)
            arrays[dis_set][name] = dict(gt=gt, coarse=coarse)
            seed += 1
    return arrays


def write_collection(root: Path, shapes: Dict[str, Dict[str, Tuple[int, int]]]) -> dict:
    """HR training files and ``root/collection_hr.json`` as ``gen_coarse_masks_hr.py`` writes.

    Args:
        shapes: ``{'dis': {name: (h, w)}, 'thin': {name: (h, w)}}``.

    Returns:
        dict: the collection written.
    """
    folders = {'dis': ('dis/DIS-TR/im', 'dis/DIS-TR/gt', 'dis/DIS-TR'),
               'thin': ('thin_object/images', 'thin_object/masks', 'thin_object')}
    collection = {}
    seed = 0
    for dataset, names in shapes.items():
        images, masks, out = folders[dataset]
        collection[dataset] = []
        for name, shape in names.items():
            gt = blob(shape, seed)
            entry = dict(filename=f'{images}/{name}.jpg', maskname=f'{masks}/{name}.png',
                         coarsename=f'{out}/coarse/{name}.png',
                         expandname=f'{out}/coarse_expand/{name}.png',
                         height=shape[0], width=shape[1])
            write_image(root / entry['filename'], shape, seed)
            write_mask(root / entry['maskname'], gt)
            write_mask(root / entry['coarsename'], coarse_of(gt))
            write_mask(root / entry['expandname'], cv2.dilate(gt, np.ones((7, 7), np.uint8)))
            collection[dataset].append(entry)
            seed += 1
    (root / 'collection_hr.json').write_text(json.dumps(collection))
    return collection
