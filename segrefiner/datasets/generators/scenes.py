"""Scenes of the synthetic refinement benchmark: textured objects with hard outlines, and
their coarse masks.

Each scene has 1-3 foreground objects (the GT is their union) with concave outlines (stars,
Fourier blobs, random concave polygons), thin parts (1-4 px rods, bent legs, antennae) and holes,
each filled with a texture (stripes, checkers, smooth noise, gradients) whose colours differ from
the background. The background is textured too and cluttered with distractor shapes that are not
part of the GT (including thin, branch-like ones). Scenes are rendered at twice the resolution
and area-downsampled, so edges are anti-aliased like a camera's; the GT marks pixels more than
half covered by an object (:func:`render_scene`).

Each image gets one coarse mask, its kind drawn per image: the SegRefiner perturbation
(:func:`~segrefiner.datasets.transforms.coarse_mask.perturb_mask`), a low-resolution instance
head (every object's box resampled to a 10-28 cell grid) or a low-resolution semantic head (the
whole image at a coarse stride) (:func:`make_coarse_mask`). Coarse masks that are empty or whose
IoU to the GT is outside ``COARSE_IOU_RANGE`` are redrawn (:func:`make_sample`).

The files of a benchmark split are written by :mod:`segrefiner.datasets.generators.writer`.
"""
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from ..transforms.coarse_mask import jitter_bbox, mask_bbox, mask_iou, perturb_mask, resample_mask

SUPERSAMPLE = 2
COARSE_KINDS = ('segrefiner', 'lowres_instance', 'lowres_semantic')
COARSE_KIND_PROBS = (0.5, 0.3, 0.2)
COARSE_IOU_RANGE = (0.55, 0.93)
TEXTURES = ('stripes', 'checker', 'noise', 'gradient')
OBJECT_SHAPES = ('star', 'fourier', 'polygon')


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
