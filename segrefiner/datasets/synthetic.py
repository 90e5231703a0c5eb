"""Synthetic refinement benchmark: textured objects with hard outlines, and coarse masks.

Each scene has 1-3 foreground objects (the GT is their union) with concave outlines (stars,
Fourier blobs, random concave polygons), thin parts (1-4 px rods, bent legs, antennae) and holes,
each filled with a texture (stripes, checkers, smooth noise, gradients) whose colours differ from
the background. The background is textured too and cluttered with distractor shapes that are not
part of the GT (including thin, branch-like ones). Scenes are rendered at twice the resolution
and area-downsampled, so edges are anti-aliased like a camera's; the GT marks pixels more than
half covered by an object.

Each image gets one coarse mask, its kind drawn per image: the SegRefiner perturbation
(:func:`~segrefiner.datasets.transforms.coarse_mask.perturb_mask`), a low-resolution instance
head (every object's box resampled to a 10-28 cell grid) or a low-resolution semantic head (the
whole image at a coarse stride). Coarse masks that are empty or whose IoU to the GT is outside
``COARSE_IOU_RANGE`` are redrawn.

Layout written by :func:`generate_synthetic_dataset` (read by :class:`SyntheticRefineDataset`)::

    <out_dir>/{train,val}/images/<name>.jpg     (JPEG quality 95, BGR)
    <out_dir>/{train,val}/masks/<name>.png      (0/255)
    <out_dir>/{train,val}/coarse/<name>.png     (0/255)
    <out_dir>/{train,val}/meta.json             (parameters; per image: coarse kind, IoU, ...)
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS

from .refine_folder import RefineFolderDataset
from .transforms.coarse_mask import (jitter_bbox, mask_bbox, mask_iou, perturb_mask,
                                     resample_mask)

GENERATOR_VERSION = 1
SUPERSAMPLE = 2
COARSE_KINDS = ('segrefiner', 'lowres_instance', 'lowres_semantic')
COARSE_KIND_PROBS = (0.5, 0.3, 0.2)
COARSE_IOU_RANGE = (0.55, 0.93)
TEXTURES = ('stripes', 'checker', 'noise', 'gradient')
OBJECT_SHAPES = ('star', 'fourier', 'polygon')
SPLITS = ('train', 'val')


# --------------------------------------------------------------------------------------------
# Textures
# --------------------------------------------------------------------------------------------
def _pattern(rng: np.random.Generator, kind: str,
             grid: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A (h, w) float32 pattern in [0, 1] of the given kind on the pixel grid ``(xx, yy)``."""
    xx, yy = grid
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == 'stripes':
        period = rng.uniform(6, 26)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
        return (t > 0.5).astype(np.float32) if rng.random() < 0.5 else t
    if kind == 'checker':
        period = rng.uniform(8, 32)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    if kind == 'noise':
        h, w = xx.shape
        cells = rng.integers(6, 21)
        small = rng.random((cells, cells)).astype(np.float32)
        t = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        return cv2.normalize(t, None, 0.0, 1.0, cv2.NORM_MINMAX)
    if kind == 'gradient':
        # smooth ramps up and down (a triangle wave with a long period)
        period = rng.uniform(40, 120)
        return np.abs((u / period + rng.uniform(0, 2)) % 2 - 1)
    raise ValueError(f'unknown texture {kind!r}')


def _colour_pair(rng: np.random.Generator, avoid: Sequence[np.ndarray],
                 min_dist: float) -> Tuple[np.ndarray, np.ndarray]:
    """Two related colours whose mean is at least ``min_dist`` from every colour in ``avoid``.

    The two colours differ by 40-90 (RGB distance, before clipping), so the texture is clearly
    visible without hiding the object's edge. Falls back to the best candidate after 100 tries.
    """
    best, best_dist = None, -1.0
    for _ in range(100):
        offset = rng.normal(size=3)
        c1 = rng.uniform(0, 255, 3)
        c2 = np.clip(c1 + offset / np.linalg.norm(offset) * rng.uniform(40, 90), 0, 255)
        mean = (c1 + c2) / 2
        dist = min((float(np.linalg.norm(mean - a)) for a in avoid), default=np.inf)
        if dist >= min_dist:
            return c1, c2
        if dist > best_dist:
            best, best_dist = (c1, c2), dist
    return best


def _texture(rng: np.random.Generator, colours: Tuple[np.ndarray, np.ndarray],
             grid: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(h, w, 3) float32 texture of a random kind mixing the two colours."""
    t = _pattern(rng, TEXTURES[rng.integers(len(TEXTURES))], grid)
    c1, c2 = (c.astype(np.float32) for c in colours)
    return c1 + t[..., None] * (c2 - c1)


# --------------------------------------------------------------------------------------------
# Shapes (coordinates at the supersampled resolution)
# --------------------------------------------------------------------------------------------
def _unit_outline(rng: np.random.Generator, kind: str) -> np.ndarray:
    """(N, 2) outline of a concave shape of radius ~1 around the origin."""
    if kind == 'star':
        spikes = int(rng.integers(5, 10))
        theta = np.linspace(0, 2 * np.pi, 2 * spikes, endpoint=False)
        radius = np.where(np.arange(2 * spikes) % 2 == 0, 1.0, rng.uniform(0.35, 0.6))
        radius = radius * rng.uniform(0.85, 1.15, 2 * spikes)
    elif kind == 'fourier':
        theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)
        radius = np.ones_like(theta)
        for k in range(2, 8):
            radius += rng.uniform(0, 0.45 / k**0.6) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        radius = np.clip(radius / radius.max(), 0.2, None)
    elif kind == 'polygon':
        vertices = int(rng.integers(7, 15))
        theta = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radius = rng.uniform(0.35, 1.0, vertices)
    else:
        raise ValueError(f'unknown shape {kind!r}')
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)


def _place(outline: np.ndarray, rng: np.random.Generator, centre: np.ndarray,
           radius: float) -> np.ndarray:
    """Scale (with a random aspect), rotate and translate an outline; int32 (N, 1, 2)."""
    aspect = rng.uniform(0.65, 1.35)
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (outline * radius * np.array([aspect, 1 / aspect])) @ rot.T + centre
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def _draw_rods(mask: np.ndarray, rng: np.random.Generator, polygon: np.ndarray,
               centre: np.ndarray, radius: float) -> int:
    """Draw 1-4 thin rods (1.5-4 px after downsampling), possibly bent, out of the outline.

    Returns:
        int: the number of rods drawn.
    """
    count = int(rng.integers(1, 5))
    points = polygon[:, 0, :].astype(np.float64)
    for _ in range(count):
        start = points[rng.integers(len(points))]
        direction = np.arctan2(*(start - centre)[::-1]) + rng.uniform(-0.6, 0.6)
        path = [start - 3 * np.array([np.cos(direction), np.sin(direction)])]
        for _ in range(int(rng.integers(1, 3))):
            length = rng.uniform(0.3, 0.8) * radius
            path.append(path[-1] + length * np.array([np.cos(direction), np.sin(direction)]))
            direction += rng.uniform(-0.9, 0.9)
        thickness = int(rng.integers(3, 9))
        cv2.polylines(mask, [np.round(path).astype(np.int32)], False, 1, thickness)
    return count


def _cut_holes(mask: np.ndarray, rng: np.random.Generator, radius: float) -> int:
    """Cut 1-2 elliptical holes that lie fully inside ``mask``.

    Returns:
        int: the number of holes cut.
    """
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    count = 0
    for _ in range(int(rng.integers(1, 3))):
        hole = rng.uniform(0.1, 0.25) * radius
        ys, xs = np.nonzero(inside > hole + 4)
        if len(ys) == 0:
            break
        pick = rng.integers(len(ys))
        axes = (max(2, int(hole)), max(2, int(hole * rng.uniform(0.5, 1.0))))
        cv2.ellipse(mask, (int(xs[pick]), int(ys[pick])), axes, rng.uniform(0, 180), 0, 360, 0,
                    -1)
        inside = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
        count += 1
    return count


def _distractor(rng: np.random.Generator, shape: Tuple[int, int]) -> np.ndarray:
    """A (h, w) uint8 mask of a background shape: ellipse, box, polygon or branch."""
    h, w = shape
    centre = rng.uniform((0, 0), (w, h))
    radius = rng.uniform(0.08, 0.25) * min(h, w)
    mask = np.zeros(shape, np.uint8)
    kind = rng.integers(4)
    if kind == 0:
        axes = (int(radius), int(radius * rng.uniform(0.4, 1.0)))
        cv2.ellipse(mask, tuple(int(c) for c in centre), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    elif kind == 1:
        extent = (radius * rng.uniform(0.8, 2), radius)
        box = cv2.boxPoints((tuple(centre), extent, rng.uniform(0, 90)))
        cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 1)
    elif kind == 2:
        cv2.fillPoly(mask, [_place(_unit_outline(rng, 'polygon'), rng, centre, radius)], 1)
    else:
        direction = rng.uniform(0, 2 * np.pi)
        path = [centre]
        for _ in range(3):
            path.append(path[-1] + radius * np.array([np.cos(direction), np.sin(direction)]))
            direction += rng.uniform(-0.8, 0.8)
        cv2.polylines(mask, [np.round(path).astype(np.int32)], False, 1, int(rng.integers(3, 9)))
    return mask


def render_scene(rng: np.random.Generator,
                 size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray, List[np.ndarray], dict]:
    """Render one synthetic scene.

    Args:
        rng (np.random.Generator): random source.
        size (tuple[int, int]): (H, W) of the output.

    Returns:
        tuple: ``(img, gt, instances, info)``: (H, W, 3) uint8 BGR image; (H, W) uint8 GT in
        {0, 1} (union of the objects); per-object visible (H, W) uint8 masks; a dict describing
        the scene (``num_objects``, ``shapes``, ``rods``, ``holes``).
    """
    h, w = size
    hs, ws = h * SUPERSAMPLE, w * SUPERSAMPLE
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    grid = (xx, yy)

    background = _colour_pair(rng, [], 0)
    canvas = _texture(rng, background, grid)
    num_objects = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    object_colours = [
        _colour_pair(rng, [(background[0] + background[1]) / 2], 70) for _ in range(num_objects)
    ]

    avoid = [(c1 + c2) / 2 for c1, c2 in object_colours]
    for _ in range(int(rng.integers(2, 6))):
        region = _distractor(rng, (hs, ws)).astype(bool)
        canvas[region] = _texture(rng, _colour_pair(rng, avoid, 50), grid)[region]

    object_masks, info = [], dict(num_objects=num_objects, shapes=[], rods=0, holes=0)
    scale = min(hs, ws) * (0.32 if num_objects == 1 else 0.22)
    for colours in object_colours:
        kind = OBJECT_SHAPES[rng.integers(len(OBJECT_SHAPES))]
        radius = scale * rng.uniform(0.6, 1.0)
        centre = rng.uniform((radius * 0.5, radius * 0.5), (ws - radius * 0.5, hs - radius * 0.5))
        polygon = _place(_unit_outline(rng, kind), rng, centre, radius)
        mask = np.zeros((hs, ws), np.uint8)
        cv2.fillPoly(mask, [polygon], 1)
        if rng.random() < 0.5:
            info['holes'] += _cut_holes(mask, rng, radius)
        if rng.random() < 0.6:
            info['rods'] += _draw_rods(mask, rng, polygon, centre, radius)
        region = mask.astype(bool)
        canvas[region] = _texture(rng, colours, grid)[region]
        object_masks.append(mask)
        info['shapes'].append(kind)

    img = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)

    def downsample(mask: np.ndarray) -> np.ndarray:
        cover = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        return (cover >= 0.5).astype(np.uint8)

    gt = downsample(np.bitwise_or.reduce(object_masks))
    occluders = np.zeros((hs, ws), np.uint8)
    instances = []
    for mask in reversed(object_masks):
        instances.append(downsample(mask & (1 - occluders)))
        occluders |= mask
    return img, gt, instances[::-1], info


# --------------------------------------------------------------------------------------------
# Coarse masks
# --------------------------------------------------------------------------------------------
def make_coarse_mask(rng: np.random.Generator, gt: np.ndarray, instances: Sequence[np.ndarray],
                     kind: str) -> Tuple[np.ndarray, dict]:
    """One coarse mask of the given kind.

    Args:
        rng (np.random.Generator): random source.
        gt (np.ndarray): (H, W) uint8 GT in {0, 1}.
        instances (Sequence[np.ndarray]): per-object (H, W) uint8 masks (for the instance head).
        kind (str): one of :data:`COARSE_KINDS`.

    Returns:
        tuple: (H, W) uint8 coarse mask in {0, 1} and a dict of its parameters.
    """
    if kind == 'segrefiner':
        return perturb_mask(gt, rng), {}
    if kind == 'lowres_instance':
        side = int(rng.integers(10, 29))
        coarse = np.zeros_like(gt)
        for instance in instances:
            bbox = mask_bbox(instance)
            if bbox is not None:
                bbox = jitter_bbox(bbox, gt.shape, rng, 0.05)
                coarse |= resample_mask(instance, (side, side), bbox)
        return coarse, dict(low_res=side)
    if kind == 'lowres_semantic':
        h, w = gt.shape
        stride = int(rng.choice([4, 8, 16]))
        low_size = (max(1, round(h / stride)), max(1, round(w / stride)))
        return resample_mask(gt, low_size), dict(stride=stride)
    raise ValueError(f'unknown coarse kind {kind!r}')


def _iou_gap(iou: float) -> float:
    low, high = COARSE_IOU_RANGE
    return max(low - iou, iou - high, 0.0)


def make_sample(rng: np.random.Generator, size: Tuple[int, int],
                max_tries: int = 20) -> Tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """A scene with a realistic coarse mask.

    Scenes whose GT covers less than 2 % or more than 60 % of the image are redrawn. Coarse masks
    are redrawn (new kind and parameters) while empty or outside :data:`COARSE_IOU_RANGE`; after
    ``max_tries`` the non-empty one closest to the range is kept.

    Args:
        rng (np.random.Generator): random source.
        size (tuple[int, int]): (H, W).
        max_tries (int): coarse-mask draws per scene. Defaults to 20.

    Returns:
        tuple: ``(img, gt, coarse, info)`` — BGR uint8 image, GT and coarse uint8 {0, 1} masks,
        and a JSON-serialisable description (scene, ``coarse_kind``, ``coarse_iou``, ...).
    """
    while True:
        img, gt, instances, info = render_scene(rng, size)
        if not 0.02 <= gt.mean() <= 0.6:
            continue
        best = None
        for _ in range(max_tries):
            kind = COARSE_KINDS[rng.choice(len(COARSE_KINDS), p=COARSE_KIND_PROBS)]
            coarse, params = make_coarse_mask(rng, gt, instances, kind)
            if not coarse.any():
                continue
            iou = mask_iou(coarse, gt)
            if best is None or _iou_gap(iou) < _iou_gap(best[1]):
                best = (coarse, iou, kind, params)
            if _iou_gap(iou) == 0:
                break
        if best is not None:
            coarse, iou, kind, params = best
            info.update(coarse_kind=kind, coarse_iou=round(iou, 4), **params)
            return img, gt, coarse, info


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
def _split_params(split: str, num_images: int, size: Tuple[int, int], seed: int) -> dict:
    return dict(
        generator='segrefiner.datasets.synthetic',
        version=GENERATOR_VERSION,
        split=split,
        num_images=num_images,
        size=[int(size[0]), int(size[1])],
        seed=int(seed),
        coarse_kinds=dict(zip(COARSE_KINDS, COARSE_KIND_PROBS)),
        coarse_iou_range=list(COARSE_IOU_RANGE))


def _read_params(split_dir: str) -> Optional[dict]:
    meta_file = osp.join(split_dir, 'meta.json')
    if not osp.isfile(meta_file):
        return None
    with open(meta_file) as f:
        return json.load(f).get('params')


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_abandoned(out_dir: str, split: str) -> None:
    """Remove temporary folders ``.<split>.{tmp,old}-<pid>-*`` of processes that are gone.

    Folders of a generator still running (e.g. another rank) are left alone.
    """
    for entry in os.listdir(out_dir):
        for prefix in (f'.{split}.tmp-', f'.{split}.old-'):
            if entry.startswith(prefix):
                pid = entry[len(prefix):].split('-')[0]
                if not (pid.isdigit() and _process_alive(int(pid))):
                    shutil.rmtree(osp.join(out_dir, entry), ignore_errors=True)


def _write_split(split_dir: str, params: dict, progress: bool) -> None:
    for sub in ('images', 'masks', 'coarse'):
        os.makedirs(osp.join(split_dir, sub))
    split, num_images = params['split'], params['num_images']
    split_index = SPLITS.index(split)
    size = tuple(params['size'])
    bar = ProgressBar(num_images) if progress and num_images else None
    images = []
    for index in range(num_images):
        rng = np.random.default_rng([params['seed'], split_index, index])
        img, gt, coarse, info = make_sample(rng, size)
        name = f'{split}_{index:05d}'
        mmcv.imwrite(img, osp.join(split_dir, 'images', name + '.jpg'),
                     params=[cv2.IMWRITE_JPEG_QUALITY, 95])
        mmcv.imwrite(gt * 255, osp.join(split_dir, 'masks', name + '.png'))
        mmcv.imwrite(coarse * 255, osp.join(split_dir, 'coarse', name + '.png'))
        images.append(dict(name=name, **info))
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    ious = [image['coarse_iou'] for image in images]
    summary = dict(mean_coarse_iou=round(float(np.mean(ious)), 4) if ious else None,
                   coarse_kind_counts={k: sum(i['coarse_kind'] == k for i in images)
                                       for k in COARSE_KINDS})
    with open(osp.join(split_dir, 'meta.json'), 'w') as f:
        json.dump(dict(params=params, summary=summary, images=images), f, indent=1)


def generate_synthetic_split(out_dir: str,
                             split: str,
                             num_images: int,
                             size: Tuple[int, int] = (160, 160),
                             seed: int = 0,
                             force: bool = False,
                             progress: bool = True) -> bool:
    """Write one split of the synthetic benchmark, atomically.

    The split is built in a hidden temporary sibling folder and renamed into place once
    complete (``meta.json`` is written last), so an interrupted run never leaves a split that
    looks complete. Temporary folders left by interrupted runs are removed. Image
    ``i`` of a split only depends on ``(seed, split, i)``.

    Args:
        out_dir (str): dataset root; the split goes to ``<out_dir>/<split>``.
        split (str): 'train' or 'val'.
        num_images (int): number of images.
        size (tuple[int, int]): (H, W). Defaults to (160, 160).
        seed (int): random seed. Defaults to 0.
        force (bool): regenerate even if a complete split with the same parameters exists.
            Defaults to False.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        bool: True if the split was written, False if existing output was kept.

    Raises:
        FileExistsError: ``<out_dir>/<split>`` exists but was not written by this generator
            (no ``meta.json``) and ``force`` is not set.
    """
    assert split in SPLITS, f'split must be one of {SPLITS}, got {split!r}'
    assert num_images >= 0 and min(size) >= 16, 'need num_images >= 0 and a size >= 16 px'
    split_dir = osp.join(out_dir, split)
    params = _split_params(split, num_images, size, seed)
    existing = _read_params(split_dir)
    if not force:
        if existing == params:
            print(f'{split_dir}: complete output with the same parameters exists, skipping '
                  '(use --force to regenerate)')
            return False
        if existing is None and osp.exists(split_dir):
            raise FileExistsError(
                f'{split_dir} exists but was not written by the synthetic generator '
                '(no meta.json); remove it or use --force')

    os.makedirs(out_dir, exist_ok=True)
    _remove_abandoned(out_dir, split)
    tmp_dir = tempfile.mkdtemp(prefix=f'.{split}.tmp-{os.getpid()}-', dir=out_dir)
    try:
        print(f'generating {num_images} {split} images of {size[0]}x{size[1]} into {split_dir}')
        _write_split(osp.join(tmp_dir, split), params, progress)
        if osp.exists(split_dir):
            old_dir = tempfile.mkdtemp(prefix=f'.{split}.old-{os.getpid()}-', dir=out_dir)
            os.replace(split_dir, osp.join(old_dir, split))
            os.replace(osp.join(tmp_dir, split), split_dir)
            shutil.rmtree(old_dir)
        else:
            os.replace(osp.join(tmp_dir, split), split_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return True


def generate_synthetic_dataset(out_dir: str,
                               num_train: int = 200,
                               num_val: int = 40,
                               size: Tuple[int, int] = (160, 160),
                               seed: int = 0,
                               force: bool = False,
                               progress: bool = True) -> Dict[str, bool]:
    """Write the train and val splits of the synthetic benchmark (see the module docstring).

    Args:
        out_dir (str): dataset root, e.g. ``'data/synthetic'``.
        num_train (int): training images. Defaults to 200.
        num_val (int): validation images. Defaults to 40.
        size (tuple[int, int]): (H, W) of every image. Defaults to (160, 160).
        seed (int): random seed; output is a deterministic function of the arguments.
            Defaults to 0.
        force (bool): regenerate existing complete splits. Defaults to False.
        progress (bool): show progress bars. Defaults to True.

    Returns:
        dict[str, bool]: per split, whether it was (re)generated (False: existing kept).
    """
    return {
        split: generate_synthetic_split(out_dir, split, num, size, seed, force, progress)
        for split, num in zip(SPLITS, (num_train, num_val))
    }


@DATASETS.register_module()
class SyntheticRefineDataset(RefineFolderDataset):
    """The synthetic benchmark written by ``scripts/gen_synthetic.py``.

    Args:
        split (str): 'train' or 'val'; selects ``<data_root>/<split>/{images,masks,coarse}``.
            Defaults to 'train'.
        data_root (str): root given to the generator's ``--out``. Defaults to 'data/synthetic'.
        use_coarse (bool): read the stored coarse masks; set False to train with online coarse
            masks (items then carry no ``coarse_path``). Defaults to True.
        data_prefix (dict, optional): explicit folders as in :class:`RefineFolderDataset`;
            when given, ``split`` and ``use_coarse`` are not used. Defaults to None.
        **kwargs: other arguments of :class:`RefineFolderDataset`.
    """

    def __init__(self,
                 split: str = 'train',
                 data_root: str = 'data/synthetic',
                 use_coarse: bool = True,
                 data_prefix: Optional[dict] = None,
                 **kwargs) -> None:
        if data_prefix is None:
            assert split in SPLITS, f'split must be one of {SPLITS}, got {split!r}'
            data_prefix = dict(img_path=f'{split}/images', seg_map_path=f'{split}/masks')
            if use_coarse:
                data_prefix['coarse_path'] = f'{split}/coarse'
        super().__init__(data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Check that the split was generated completely, then load it.

        The split folder is the parent of the image folder; it is complete when it holds the
        ``meta.json`` the generator writes last.

        Returns:
            list[dict]: the data items.
        """
        split_dir = osp.dirname(osp.normpath(self.data_prefix['img_path']))
        if not osp.isfile(osp.join(split_dir, 'meta.json')):
            raise FileNotFoundError(
                f'synthetic split not found (or incomplete) at {split_dir}; generate it with '
                f'`python scripts/gen_synthetic.py --out {self.data_root}`')
        return super().load_data_list()
