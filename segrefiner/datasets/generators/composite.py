"""Realistic photo composites for training a refiner that works on real photographs.

A composite is a photo background with clutter, onto which one object is pasted: a cut-out of
real photo content (a random region of a photo or a natural texture) masked by a procedural
silhouette. Foreground and background come from the same small pool of photographs, often from
the same photo, so they look alike (the hard case). Everything is drawn from a
:class:`numpy.random.Generator`, so a sample is a deterministic function of its seed.

Photo pool (:func:`photo_pool`): the sample photographs that ship inside the installed
scikit-learn (``china.jpg``, ``flower.jpg``) and scikit-image wheels (``astronaut``, ``chelsea``,
``coffee``, ``rocket``, ``motorcycle_left``, ``ihc`` in colour; ``brick``, ``grass``, ``gravel``,
``camera``, ``moon``, ``coins`` in grey, tinted with random colours) plus skimage's ``horse``
silhouette. Files are read from the packages' folders; nothing is downloaded. Patches are taken
at a random zoom, rotation and flip, with colour jitter.

Silhouettes (:data:`SHAPE_KINDS`, :func:`render_silhouette`): Fourier blobs, stars, concave
polygons, creatures (body, head, thin legs, tail), branching plants, glyphs (holes), man-made
compounds (boxes, bars, handles), the horse, and organic regions cut from thresholded photos; with
holes, thin rods, rough (fur/leaf) outlines and hair-like strands. They are drawn at twice the
output resolution and area-downsampled, so edges are anti-aliased, and the ground truth is the
set of pixels more than half covered by the visible object.

Compositing (:func:`render_composite`): 0-5 distractor cut-outs (half of them from the
foreground's own source: similar-looking, sometimes touching the object), a drop shadow, soft or
defocused object edges, lighting gradients, an occluder pasted on top (cut out of the GT), then
camera blur, resolution loss, noise and JPEG artefacts over the whole image. Objects range from
small to larger than the frame (truncated), so large objects carry full-resolution detail.

Coarse masks (:data:`COARSE_KINDS`, :func:`sample_coarse_mask`): SegRefiner's perturbation
(:func:`~segrefiner.datasets.transforms.coarse_mask.perturb_mask`), a low-resolution instance head
in a jittered box and a low-resolution semantic head (``resample_mask``), global dilation/erosion/
opening/closing, polygon simplification, blob-like predictions (blurred, noisy threshold),
misaligned masks; optionally with an extra false positive on a distractor or a missing bite.
"""
import functools
import importlib.util
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..transforms.coarse_mask import (jitter_bbox, mask_bbox, mask_iou, perturb_mask,
                                      resample_mask)

SUPERSAMPLE = 2

#: (package, path inside the package) of the colour photographs of the pool.
COLOUR_PHOTOS = (
    ('sklearn', 'datasets/images/china.jpg'),
    ('sklearn', 'datasets/images/flower.jpg'),
    ('skimage', 'data/astronaut.png'),
    ('skimage', 'data/chelsea.png'),
    ('skimage', 'data/coffee.png'),
    ('skimage', 'data/rocket.jpg'),
    ('skimage', 'data/motorcycle_left.png'),
    ('skimage', 'data/ihc.png'),
)
#: Grey photographs and natural textures, tinted with random colours when used.
GREY_PHOTOS = (
    ('skimage', 'data/brick.png'),
    ('skimage', 'data/grass.png'),
    ('skimage', 'data/gravel.png'),
    ('skimage', 'data/camera.png'),
    ('skimage', 'data/moon.png'),
    ('skimage', 'data/coins.png'),
)
#: A real silhouette (black horse on white).
HORSE = ('skimage', 'data/horse.png')

SHAPE_KINDS = ('blob', 'star', 'polygon', 'creature', 'branch', 'glyph', 'compound', 'horse',
               'organic')
SHAPE_PROBS = (0.13, 0.07, 0.1, 0.15, 0.1, 0.1, 0.13, 0.07, 0.15)

COARSE_KINDS = ('segrefiner', 'lowres_box', 'lowres_image', 'morph', 'polygon', 'blob', 'shift')
COARSE_PROBS = (0.25, 0.17, 0.1, 0.12, 0.1, 0.16, 0.1)
COARSE_IOU_RANGE = (0.45, 0.97)

_GLYPHS = 'ABDEGKMOPQRSWXabdegkmopqsw0234689&%@#$?'
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX,
          cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


# --------------------------------------------------------------------------------------------
# Photo pool
# --------------------------------------------------------------------------------------------
def _package_file(package: str, path: str) -> str:
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f'the composite generator needs the sample photos shipped with '
                          f'{package!r}; install it (see requirements/runtime.txt)')
    file = osp.join(list(spec.submodule_search_locations)[0], path)
    if not osp.isfile(file):
        raise FileNotFoundError(f'sample photo missing from the installed {package}: {file}')
    return file


@functools.lru_cache(maxsize=None)
def photo_pool() -> Dict[str, tuple]:
    """The photographs the composites are made of, read once per process.

    Returns:
        dict: ``colour``: tuple of (H, W, 3) uint8 BGR photos; ``grey``: tuple of (H, W) uint8
        photos; ``horse``: (H, W) bool silhouette; ``names``: the file names, colour then grey.
    """
    colour = tuple(cv2.imread(_package_file(*f), cv2.IMREAD_COLOR) for f in COLOUR_PHOTOS)
    grey = tuple(cv2.imread(_package_file(*f), cv2.IMREAD_GRAYSCALE) for f in GREY_PHOTOS)
    horse = cv2.imread(_package_file(*HORSE), cv2.IMREAD_GRAYSCALE) < 128
    for name, image in zip(COLOUR_PHOTOS + GREY_PHOTOS, colour + grey):
        if image is None:
            raise ValueError(f'could not read the sample photo {name}')
    names = tuple(osp.basename(p) for _, p in COLOUR_PHOTOS + GREY_PHOTOS)
    return dict(colour=colour, grey=grey, horse=horse, names=names)


def _draw_source(rng: np.random.Generator) -> dict:
    """A photo of the pool with its colour jitter (a 'source' several patches can share)."""
    pool = photo_pool()
    num_colour = len(pool['colour'])
    index = int(rng.integers(num_colour + len(pool['grey'])))
    source = dict(index=index, hue=0.0, sat=1.0, val=1.0, gamma=1.0, tint=None)
    if index >= num_colour:
        # a natural palette: a dark and a light colour of a random colour photo
        photo = pool['colour'][rng.integers(num_colour)]
        pixels = photo.reshape(-1, 3)[rng.integers(photo.shape[0] * photo.shape[1], size=64)]
        order = np.argsort(pixels.astype(np.float32).sum(1))
        dark, light = pixels[order[rng.integers(0, 16)]], pixels[order[rng.integers(48, 64)]]
        source['tint'] = (dark.astype(np.float32), light.astype(np.float32))
    else:
        source['hue'] = float(rng.uniform(0, 180) if rng.random() < 0.1 else
                              rng.uniform(-8, 8))
        source['sat'] = float(rng.uniform(0.7, 1.2))
    source['val'] = float(rng.uniform(0.75, 1.2))
    source['gamma'] = float(np.exp(rng.uniform(-0.3, 0.3)))
    return source


def _source_image(source: dict) -> np.ndarray:
    pool = photo_pool()
    num_colour = len(pool['colour'])
    if source['index'] < num_colour:
        return pool['colour'][source['index']]
    return pool['grey'][source['index'] - num_colour]


def photo_patch(rng: np.random.Generator, size: Tuple[int, int],
                source: Optional[dict] = None,
                frame: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """A (H, W, 3) float32 BGR patch of a pool photo at a random zoom, rotation and position.

    Args:
        rng (np.random.Generator): random source.
        size (tuple[int, int]): (H, W) of the patch.
        source (dict, optional): a :func:`_draw_source` result, to take several patches from the
            same photo with the same colours. Defaults to a new draw.
        frame (tuple[int, int], optional): (H, W) of the image the patch is part of; the zoom
            is drawn for that size, so a small patch has the texture scale of a full one.
            Defaults to ``size``.

    Returns:
        np.ndarray: (H, W, 3) float32 in [0, 255].
    """
    source = _draw_source(rng) if source is None else source
    image = _source_image(source)
    h, w = size
    fh, fw = size if frame is None else frame
    sh, sw = image.shape[:2]
    # zoom = output px per source px; the smallest shows the whole photo across the frame
    min_zoom = max(fh / sh, fw / sw) * 0.8
    zoom = min_zoom * float(np.exp(rng.uniform(0, np.log(max(2.5 / min_zoom, 1.2)))))
    angle = float(rng.choice([0, 90, 180, 270]) if rng.random() < 0.6 else rng.uniform(0, 360))
    centre = rng.uniform((0.25 * sw, 0.25 * sh), (0.75 * sw, 0.75 * sh))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, zoom)
    matrix[:, 2] += (w / 2 - centre[0], h / 2 - centre[1])
    if rng.random() < 0.5:
        matrix[0] = -matrix[0]
        matrix[0, 2] += w
    interp = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
    patch = cv2.warpAffine(image, matrix, (w, h), flags=interp, borderMode=cv2.BORDER_REFLECT101)
    # colours through lookup tables (uint8 in, float32 out): tint or hue/saturation, then
    # brightness and gamma
    levels = np.arange(256, dtype=np.float32)
    if source['tint'] is not None:
        dark, light = source['tint']
        rgb = dark[None] + (levels / 255.0)[:, None] * (light - dark)[None]  # (256, 3)
        patch = cv2.merge([patch] * 3)
    else:
        rgb = np.repeat(levels[:, None], 3, axis=1)
        if source['hue'] != 0 or source['sat'] != 1:
            hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)  # uint8, H in [0, 180)
            hue_lut = ((levels + source['hue']) % 180).astype(np.uint8)
            sat_lut = np.clip(levels * source['sat'], 0, 255).astype(np.uint8)
            hsv = cv2.merge([cv2.LUT(hsv[..., 0], hue_lut), cv2.LUT(hsv[..., 1], sat_lut),
                             hsv[..., 2]])
            patch = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    lut = 255.0 * (np.clip(rgb * source['val'], 0, 255) / 255.0)**source['gamma']
    return cv2.LUT(patch, lut.astype(np.float32).reshape(1, 256, 3))


# --------------------------------------------------------------------------------------------
# Silhouettes (drawn on a local square canvas of side ``side`` px, supersampled)
# --------------------------------------------------------------------------------------------
def _radial_polygon(rng: np.random.Generator, radius: np.ndarray, theta: np.ndarray,
                    side: int) -> np.ndarray:
    aspect = rng.uniform(0.6, 1.4)
    points = np.stack([radius * np.cos(theta) * aspect, radius * np.sin(theta) / aspect], 1)
    points = points / np.abs(points).max() * 0.47 * side + side / 2
    return np.round(points).astype(np.int32).reshape(-1, 1, 2)


def _fill(side: int, polygons: Sequence[np.ndarray]) -> np.ndarray:
    mask = np.zeros((side, side), np.uint8)
    cv2.fillPoly(mask, list(polygons), 1)
    return mask


def _polyline(mask: np.ndarray, points: Sequence[np.ndarray], thickness: float) -> None:
    cv2.polylines(mask, [np.round(np.asarray(points)).astype(np.int32)], False, 1,
                  max(1, int(round(thickness))), cv2.LINE_8)


def _bent_path(rng: np.random.Generator, start: np.ndarray, direction: float, length: float,
               segments: int, bend: float) -> List[np.ndarray]:
    path = [np.asarray(start, np.float64)]
    for _ in range(segments):
        direction += rng.uniform(-bend, bend)
        step = length / segments
        path.append(path[-1] + step * np.array([np.cos(direction), np.sin(direction)]))
    return path


def _shape_blob(rng, side):
    theta = np.linspace(0, 2 * np.pi, 240, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 12):
        radius += rng.uniform(0, 0.5 / k**0.7) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    radius = np.clip(radius / radius.max(), 0.15, None)
    return _fill(side, [_radial_polygon(rng, radius, theta, side)])


def _shape_star(rng, side):
    spikes = int(rng.integers(4, 13))
    theta = np.linspace(0, 2 * np.pi, 2 * spikes, endpoint=False) + rng.uniform(0, np.pi)
    radius = np.where(np.arange(2 * spikes) % 2 == 0, 1.0, rng.uniform(0.2, 0.6))
    radius = radius * rng.uniform(0.75, 1.2, 2 * spikes)
    return _fill(side, [_radial_polygon(rng, radius, theta, side)])


def _shape_polygon(rng, side):
    vertices = int(rng.integers(6, 18))
    theta = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radius = rng.uniform(0.3, 1.0, vertices)
    return _fill(side, [_radial_polygon(rng, radius, theta, side)])


def _shape_creature(rng, side):
    """Body ellipse, head, 2-6 thin (bent) legs, optional tail, ears/antennae."""
    mask = np.zeros((side, side), np.uint8)
    body_w, body_h = side * rng.uniform(0.2, 0.3), side * rng.uniform(0.1, 0.18)
    centre = np.array([side * 0.5, side * rng.uniform(0.38, 0.5)])
    cv2.ellipse(mask, tuple(np.round(centre).astype(int).tolist()),
                (int(body_w), int(body_h)), rng.uniform(-15, 15), 0, 360, 1, -1)
    sign = rng.choice([-1, 1])
    head = centre + np.array([sign * body_w * rng.uniform(0.9, 1.3), -body_h * rng.uniform(0.3,
                                                                                             1.4)])
    head_r = body_h * rng.uniform(0.5, 0.95)
    _polyline(mask, [centre + [sign * body_w * 0.6, 0], head], head_r * rng.uniform(0.6, 1.2))
    cv2.circle(mask, tuple(np.round(head).astype(int).tolist()), int(head_r), 1, -1)
    for _ in range(int(rng.integers(0, 3))):  # ears / antennae
        start = head + rng.uniform(-0.5, 0.5, 2) * head_r - [0, head_r * 0.6]
        _polyline(mask, _bent_path(rng, start, -np.pi / 2 + rng.uniform(-0.8, 0.8),
                                   head_r * rng.uniform(0.8, 2.5), 3, 0.5),
                  side * rng.uniform(0.004, 0.02))
    legs = int(rng.choice([2, 4, 4, 6]))
    thick = side * rng.uniform(0.006, 0.035)
    for i in range(legs):
        x = centre[0] + body_w * (-0.8 + 1.6 * i / max(legs - 1, 1)) * rng.uniform(0.8, 1.0)
        start = np.array([x, centre[1] + body_h * 0.4])
        path = _bent_path(rng, start, np.pi / 2 + rng.uniform(-0.4, 0.4),
                          side * rng.uniform(0.2, 0.42), int(rng.integers(2, 4)), 0.5)
        _polyline(mask, path, thick * rng.uniform(0.6, 1.3))
    if rng.random() < 0.7:  # tail
        start = centre - [sign * body_w * 0.9, 0]
        path = _bent_path(rng, start, np.pi if sign > 0 else 0.0, side * rng.uniform(0.1, 0.35),
                          4, 0.6)
        _polyline(mask, path, thick * rng.uniform(0.3, 1.0))
    return mask


def _shape_branch(rng, side):
    """A plant: a trunk that forks recursively, thinning down to ~1 px, with leaves."""
    mask = np.zeros((side, side), np.uint8)
    leaves = rng.random() < 0.6
    leaf_size = side * rng.uniform(0.02, 0.06)

    def grow(start, direction, length, thickness, depth):
        path = _bent_path(rng, start, direction, length, 3, 0.25)
        _polyline(mask, path, thickness)
        end = path[-1]
        if depth == 0 or thickness < 1.2:
            if leaves:
                axes = (int(leaf_size), int(leaf_size * rng.uniform(0.3, 0.6)))
                cv2.ellipse(mask, tuple(np.round(end).astype(int).tolist()), axes,
                            np.degrees(direction), 0, 360, 1, -1)
            return
        for _ in range(int(rng.integers(2, 4))):
            grow(end, direction + rng.uniform(-0.9, 0.9), length * rng.uniform(0.55, 0.8),
                 thickness * rng.uniform(0.5, 0.75), depth - 1)

    grow(np.array([side * rng.uniform(0.4, 0.6), side * 0.98]), -np.pi / 2 + rng.uniform(-0.2,
                                                                                           0.2),
         side * rng.uniform(0.25, 0.4), side * rng.uniform(0.02, 0.05), int(rng.integers(2, 5)))
    return mask


def _shape_glyph(rng, side):
    """1-2 thick characters (letters with holes, digits, symbols)."""
    text = ''.join(rng.choice(list(_GLYPHS), size=int(rng.choice([1, 1, 2]))))
    font = _FONTS[rng.integers(len(_FONTS))]
    thickness = int(rng.integers(3, 12))
    (tw, th), base = cv2.getTextSize(text, font, 4.0, thickness)
    canvas = np.zeros((th + base + 2 * thickness + 4, tw + 2 * thickness + 4), np.uint8)
    cv2.putText(canvas, text, (thickness + 2, th + thickness + 2), font, 4.0, 1, thickness,
                cv2.LINE_8)
    return _fit(canvas, side, rng)


def _shape_compound(rng, side):
    """A man-made object: union of boxes, bars and ellipses, maybe a handle or a frame hole."""
    mask = np.zeros((side, side), np.uint8)
    main = (side * 0.5 + rng.uniform(-0.05, 0.05, 2) * side,
            (side * rng.uniform(0.3, 0.6), side * rng.uniform(0.3, 0.6)), rng.uniform(-20, 20))
    if rng.random() < 0.5:
        cv2.fillPoly(mask, [np.round(cv2.boxPoints(main)).astype(np.int32)], 1)
    else:
        cv2.ellipse(mask, tuple(np.round(main[0]).astype(int).tolist()),
                    tuple(int(a / 2) for a in main[1]), main[2], 0, 360, 1, -1)
    for _ in range(int(rng.integers(1, 5))):
        centre = side * rng.uniform(0.15, 0.85, 2)
        extent = (side * rng.uniform(0.03, 0.4), side * rng.uniform(0.02, 0.12))
        cv2.fillPoly(mask, [np.round(cv2.boxPoints((tuple(centre), extent,
                                                    rng.uniform(0, 180)))).astype(np.int32)], 1)
    if rng.random() < 0.5:  # handle: a ring attached to the side
        centre = np.array(main[0]) + [main[1][0] * 0.5 * rng.choice([-1, 1]), 0]
        r = side * rng.uniform(0.08, 0.18)
        cv2.ellipse(mask, tuple(np.round(centre).astype(int).tolist()),
                    (int(r), int(r * rng.uniform(0.7, 1.3))), 0, 0, 360, 1,
                    max(2, int(r * rng.uniform(0.15, 0.4))))
    if rng.random() < 0.4:  # frame: a rectangular hole
        c = np.array(main[0]) + rng.uniform(-0.1, 0.1, 2) * side
        ext = (main[1][0] * rng.uniform(0.2, 0.6), main[1][1] * rng.uniform(0.2, 0.6))
        cv2.fillPoly(mask, [np.round(cv2.boxPoints((tuple(c), ext, main[2]))).astype(
            np.int32)], 0)
    return mask


def _fit(mask: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """Scale a binary mask (its box) into a ``side``×``side`` canvas, randomly rotated."""
    box = mask_bbox(mask)
    mask = mask[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    h, w = mask.shape
    angle = rng.uniform(-30, 30) if rng.random() < 0.6 else rng.uniform(0, 360)
    aspect = rng.uniform(0.8, 1.25)
    diag = np.hypot(h * aspect, w / aspect)
    scale = 0.95 * side / diag
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[0] *= aspect
    matrix[0, 2] = side / 2 - (matrix[0, 0] * w / 2 + matrix[0, 1] * h / 2)
    matrix[1, 2] = side / 2 - (matrix[1, 0] * w / 2 + matrix[1, 1] * h / 2)
    if rng.random() < 0.5:
        mask = mask[:, ::-1].copy()
    out = cv2.warpAffine(mask, matrix, (side, side), flags=cv2.INTER_LINEAR)
    return (out >= 0.5).astype(np.uint8)


def _shape_horse(rng, side):
    return _fit(photo_pool()['horse'].astype(np.uint8), side, rng)


def _shape_organic(rng, side):
    """A region of a real photo: smoothed intensity above/below a quantile, the component
    nearest to the centre (natural, irregular outlines)."""
    work = 160
    patch = photo_patch(rng, (work, work))
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    grey = cv2.GaussianBlur(grey, (0, 0), rng.uniform(1.0, 4.0))
    level = np.quantile(grey, rng.uniform(0.3, 0.7))
    binary = (grey > level) if rng.random() < 0.5 else (grey < level)
    binary = binary.astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return _shape_blob(rng, side)
    x, y, bw, bh, areas = (stats[1:, i].astype(np.float64) for i in range(5))
    # components cut by the patch border would get straight edges
    inner = (x > 0) & (y > 0) & (x + bw < work) & (y + bh < work) & (areas >= 0.02 * work**2)
    if not inner.any():
        return _shape_blob(rng, side)
    dist = np.linalg.norm(centroids[1:] - work / 2, axis=1)
    pick = 1 + int(np.argmax(np.where(inner, areas / (1 + dist)**1.5, -1)))
    region = (labels == pick).astype(np.uint8)
    up = cv2.resize(region.astype(np.float32), (work * 3, work * 3),
                    interpolation=cv2.INTER_LINEAR)
    return _fit((up >= 0.5).astype(np.uint8), side, rng)


_SHAPES = dict(blob=_shape_blob, star=_shape_star, polygon=_shape_polygon,
               creature=_shape_creature, branch=_shape_branch, glyph=_shape_glyph,
               compound=_shape_compound, horse=_shape_horse, organic=_shape_organic)


def _cut_holes(mask: np.ndarray, rng: np.random.Generator) -> None:
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    for _ in range(int(rng.integers(1, 4))):
        peak = inside.max()
        if peak < 6:
            return
        radius = rng.uniform(0.2, 0.6) * peak
        ys, xs = np.nonzero(inside > radius + 2)
        if len(ys) == 0:
            return
        pick = rng.integers(len(ys))
        axes = (max(2, int(radius)), max(2, int(radius * rng.uniform(0.4, 1.0))))
        cv2.ellipse(mask, (int(xs[pick]), int(ys[pick])), axes, rng.uniform(0, 180), 0, 360, 0,
                    -1)
        inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)


def _boundary_points(mask: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2))
    return np.concatenate([c[:, 0, :] for c in contours]).astype(np.float64)


def _add_rods(mask: np.ndarray, rng: np.random.Generator, side: int) -> None:
    points = _boundary_points(mask)
    if not len(points):
        return
    centre = points.mean(0)
    for _ in range(int(rng.integers(1, 5))):
        start = points[rng.integers(len(points))]
        direction = np.arctan2(*(start - centre)[::-1]) + rng.uniform(-0.7, 0.7)
        path = _bent_path(rng, start, direction, side * rng.uniform(0.1, 0.35),
                          int(rng.integers(1, 4)), 0.7)
        _polyline(mask, path, rng.uniform(2, 8))


def _add_hair(mask: np.ndarray, rng: np.random.Generator, side: int) -> None:
    points = _boundary_points(mask)
    if not len(points):
        return
    centre = points.mean(0)
    for _ in range(int(rng.integers(8, 40))):
        start = points[rng.integers(len(points))]
        direction = np.arctan2(*(start - centre)[::-1]) + rng.uniform(-1.0, 1.0)
        path = _bent_path(rng, start, direction, side * rng.uniform(0.02, 0.12), 4, 0.35)
        _polyline(mask, path, rng.choice([1, 2, 2, 3]))


def _roughen(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fur/leaf-like outline: threshold the blurred mask plus fine noise."""
    h, w = mask.shape
    cell = rng.uniform(2.0, 8.0)
    noise = rng.random((max(2, int(h / cell)), max(2, int(w / cell)))).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) - 0.5
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), rng.uniform(1.5, 4.0))
    rough = soft + np.clip(noise, -0.5, 0.5) * rng.uniform(0.4, 1.0) > 0.5
    # only the band around the outline changes (no specks far from the object)
    return ((rough & (soft > 0.02)) | (soft > 0.98)).astype(np.uint8)


def render_silhouette(rng: np.random.Generator, side: int, kind: Optional[str] = None,
                      detail: bool = True) -> Tuple[np.ndarray, str]:
    """One silhouette on a ``side``×``side`` canvas.

    Args:
        rng (np.random.Generator): random source.
        side (int): canvas side in px (the shape fills most of it).
        kind (str, optional): one of :data:`SHAPE_KINDS`; drawn at random by default.
        detail (bool): add holes, rods, rough outlines and hair at random. Defaults to True.

    Returns:
        tuple: (side, side) uint8 mask in {0, 1}, never empty, and the kind.
    """
    if kind is None:
        kind = SHAPE_KINDS[rng.choice(len(SHAPE_KINDS), p=SHAPE_PROBS)]
    mask = _SHAPES[kind](rng, side)
    if detail:
        if rng.random() < 0.3:
            _cut_holes(mask, rng)
        if rng.random() < 0.3:
            _add_rods(mask, rng, side)
        if rng.random() < 0.25:
            mask = _roughen(mask, rng)
        if rng.random() < 0.12:
            _add_hair(mask, rng, side)
    if not mask.any():
        mask = _shape_blob(rng, side)
    return mask, kind


# --------------------------------------------------------------------------------------------
# Compositing
# --------------------------------------------------------------------------------------------
def _place(local: np.ndarray, canvas_shape: Tuple[int, int], centre: np.ndarray) -> np.ndarray:
    """Paste a local mask into an empty canvas with its centre at ``centre`` (clipped)."""
    out = np.zeros(canvas_shape, np.uint8)
    side = local.shape[0]
    x0, y0 = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    h, w = canvas_shape
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    dx1, dy1 = min(w, x0 + side), min(h, y0 + side)
    if dx1 > dx0 and dy1 > dy0:
        out[dy0:dy1, dx0:dx1] = local[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0]
    return out


def _coverage(mask_ss: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Fraction of each output pixel covered by a supersampled mask, float32 (H, W)."""
    h, w = size
    return cv2.resize(mask_ss.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


def _lighting(rng: np.random.Generator, size: Tuple[int, int], strength: float) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / max(h, w)
    ramp = ramp - ramp.mean()
    return (1.0 + strength * ramp / max(np.abs(ramp).max(), 1e-6))[..., None]


def _soften(alpha: np.ndarray, rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.4, max_sigma))


def _layer(rng: np.random.Generator, size: Tuple[int, int], scale: float,
           centre: np.ndarray, detail: bool) -> Tuple[np.ndarray, str]:
    """A supersampled object mask of about ``scale`` × the image side, centred at ``centre``."""
    h, w = size
    side = max(8, int(scale * max(h, w) * SUPERSAMPLE))
    local, kind = render_silhouette(rng, side, detail=detail)
    return _place(local, (h * SUPERSAMPLE, w * SUPERSAMPLE), centre * SUPERSAMPLE), kind


def _paste_cutout(rng: np.random.Generator, img: np.ndarray, alpha: np.ndarray,
                  source: Optional[dict], lighting: float = 0.0) -> None:
    """Blend a photo cut-out with opacity ``alpha`` into ``img`` (in place, in its box)."""
    box = mask_bbox(alpha > 1e-3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    patch = photo_patch(rng, (y1 - y0, x1 - x0), source, frame=img.shape[:2])
    if lighting > 0:
        patch *= _lighting(rng, patch.shape[:2], lighting)
    region = img[y0:y1, x0:x1]
    region += alpha[y0:y1, x0:x1, None] * (patch - region)


def _degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera blur, motion blur, resolution loss, noise, JPEG (float32 in, uint8 BGR out)."""
    h, w = img.shape[:2]
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.08:
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180),
                                      1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.15:
        factor = rng.uniform(1.5, 3.0)
        small = cv2.resize(img, (max(8, int(w / factor)), max(8, int(h / factor))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = rng.uniform(0, 7) if rng.random() < 0.7 else 0.0
    if sigma > 0:
        noise = rng.normal(0, sigma, (h, w, 1 if rng.random() < 0.5 else 3))
        img = img + noise.astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.75:
        quality = int(rng.integers(25, 96))
        ok, data = cv2.imencode('.jpg', out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def render_composite(rng: np.random.Generator, size: Tuple[int, int] = (320, 320),
                     return_info: bool = False, similar_prob: float = 0.5,
                     contrast: Tuple[float, float] = (12.0, 40.0)):
    """Render one photo composite and the ground-truth mask of its object.

    Args:
        rng (np.random.Generator): random source; the output is a function of its state.
        size (tuple[int, int]): (H, W) of the output. Defaults to (320, 320).
        return_info (bool): also return a dict describing the scene (``shape``, ``scale``,
            ``similar``, ``occluded``, ``distractors``: list of (H, W) bool masks of the
            distractors' visible parts, used for false-positive coarse masks). Defaults to False.
        similar_prob (float): probability that the object is cut from the background's own
            photo (the look-alike case). Defaults to 0.5.
        contrast (tuple[float, float]): range of the smallest mean colour step (0-255 BGR,
            Euclidean) across the object's outline; a smaller step is raised to a draw from
            it. Defaults to (12, 40).

    Returns:
        tuple: ``(image, mask)`` — (H, W, 3) uint8 BGR and (H, W) bool, never empty (and not
        the whole image) — plus ``info`` when ``return_info`` is set.
    """
    for _ in range(100):
        image, mask, info = _render_once(rng, (int(size[0]), int(size[1])), similar_prob,
                                         contrast)
        if 0.003 <= mask.mean() <= 0.9:
            return (image, mask, info) if return_info else (image, mask)
    raise RuntimeError(f'no composite with a usable object in 100 draws at size {size}')


def _render_once(rng: np.random.Generator, size: Tuple[int, int], similar_prob: float,
                  contrast_range: Tuple[float, float]):
    h, w = size
    bg_source = _draw_source(rng)
    img = photo_patch(rng, size, bg_source)
    similar = rng.random() < similar_prob
    fg_source = dict(bg_source) if similar else _draw_source(rng)
    if similar and rng.random() < 0.5:  # same photo, slightly different colours
        fg_source['val'] = bg_source['val'] * rng.uniform(0.85, 1.15)

    regime = rng.choice(3, p=[0.25, 0.4, 0.35])
    scale = float(rng.uniform(*((0.15, 0.35), (0.35, 0.7), (0.7, 1.25))[regime]))
    # objects may stick out of the frame a little; the largest ones are truncated
    lo = np.array([w, h]) * (min(0.45, scale * 0.3) if scale < 1 else 0.3)
    centre = rng.uniform(lo, np.array([w, h]) - lo)
    obj_ss, kind = _layer(rng, size, scale, centre, detail=True)
    obj_cov = _coverage(obj_ss, size)

    # clutter: distractor cut-outs on the background, some from the object's own source
    distractors = []
    for _ in range(int(rng.choice([0, 1, 2, 3, 4, 5], p=[0.1, 0.2, 0.25, 0.2, 0.15, 0.1]))):
        d_scale = scale * rng.uniform(0.3, 0.9) if rng.random() < 0.6 else rng.uniform(0.1, 0.5)
        if rng.random() < 0.3:  # touching the object
            ys, xs = np.nonzero(obj_cov > 0.5)
            pick = rng.integers(len(ys)) if len(ys) else 0
            d_centre = (np.array([xs[pick], ys[pick]], np.float64) if len(ys) else centre)
            d_centre = d_centre + rng.normal(0, 0.5, 2) * d_scale * max(h, w) * 0.5
        else:
            d_centre = rng.uniform((0, 0), (w, h))
        d_ss, _ = _layer(rng, size, d_scale, d_centre, detail=rng.random() < 0.5)
        d_alpha = _coverage(d_ss, size)
        if rng.random() < 0.4:
            d_alpha = _soften(d_alpha, rng, 1.5)
        source = fg_source if rng.random() < 0.5 else _draw_source(rng)
        _paste_cutout(rng, img, d_alpha, source,
                      rng.uniform(0.1, 0.5) if rng.random() < 0.3 else 0.0)
        distractors.append(d_alpha)

    # drop shadow under the object
    if rng.random() < 0.4:
        offset = rng.normal(0, 1, 2) * scale * max(h, w) * 0.05
        matrix = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
        shadow = cv2.warpAffine(obj_cov, matrix, (w, h))
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(1.5, 3 + 10 * scale))
        img = img * (1 - rng.uniform(0.25, 0.65) * shadow[..., None])

    # the object: a photo cut-out with lighting, pasted with an anti-aliased or soft edge
    fg = photo_patch(rng, size, fg_source)
    if rng.random() < 0.5:
        fg = fg * _lighting(rng, size, rng.uniform(0.1, 0.6))
    inside = obj_cov > 0.5
    if inside.any():
        binary = inside.astype(np.uint8)
        kernel = np.ones((9, 9), np.uint8)
        inner = inside & ~cv2.erode(binary, kernel).astype(bool)
        outer = cv2.dilate(binary, kernel).astype(bool) & ~inside
        fg_mean = fg[inner].mean(0) if inner.any() else fg[inside].mean(0)
        bg_mean = img[outer].mean(0) if outer.any() else img.mean((0, 1))
        if similar and rng.random() < 0.3:  # camouflage: pull the colours to the surround
            fg = fg + rng.uniform(0.2, 0.6) * (bg_mean - fg_mean)
            fg_mean = fg[inner].mean(0) if inner.any() else fg[inside].mean(0)
        # keep the outline visible: at least a small colour step across it
        step = fg_mean - bg_mean
        contrast = float(np.linalg.norm(step))
        wanted = rng.uniform(*contrast_range)
        if contrast < wanted:
            direction = step if contrast > 1.0 else rng.normal(0, 1, 3)
            direction = direction / max(float(np.linalg.norm(direction)), 1e-6)
            fg = fg + (wanted - contrast) * direction.astype(np.float32)
        if rng.random() < 0.3:  # rim shading: darker (or lighter) towards the outline
            dist = cv2.distanceTransform(binary, cv2.DIST_L2, 3)
            width = rng.uniform(2, 4 + 12 * scale)
            rim = 1 - rng.uniform(-0.15, 0.35) * np.exp(-dist / width)
            fg = fg * rim[..., None]
    alpha = obj_cov
    if rng.random() < 0.5:
        alpha = _soften(alpha, rng, 0.8 + 2.0 * rng.random())
    img = img * (1 - alpha[..., None]) + fg * alpha[..., None]
    visible = obj_cov

    # an occluder in front of the object
    occluded = False
    if rng.random() < 0.2:
        ys, xs = np.nonzero(obj_cov > 0.5)
        if len(ys):
            pick = rng.integers(len(ys))
            o_scale = scale * rng.uniform(0.25, 0.6)
            o_ss, _ = _layer(rng, size, o_scale, np.array([xs[pick], ys[pick]], np.float64),
                             detail=False)
            o_alpha = _coverage(o_ss, size)
            _paste_cutout(rng, img, o_alpha, None)
            visible = visible * (1 - o_alpha)
            distractors = [d * (1 - o_alpha) for d in distractors] + [o_alpha]
            occluded = True

    mask = visible >= 0.5
    image = _degrade(img, rng)
    info = dict(shape=kind, scale=round(scale, 3), similar=bool(similar), occluded=occluded,
                distractors=[(d >= 0.5) & ~mask for d in distractors])
    return image, mask, info


# --------------------------------------------------------------------------------------------
# Coarse masks
# --------------------------------------------------------------------------------------------
def _object_extent(mask: np.ndarray) -> float:
    box = mask_bbox(mask)
    return float(np.sqrt((box[2] - box[0]) * (box[3] - box[1])))


def _coarse_once(rng: np.random.Generator, gt: np.ndarray, kind: str) -> np.ndarray:
    h, w = gt.shape
    extent = _object_extent(gt)
    if kind == 'segrefiner':
        return perturb_mask(gt, rng, iou_target=rng.uniform(0.65, 0.9))
    if kind == 'lowres_box':
        side = int(rng.integers(12, 57))
        bbox = jitter_bbox(mask_bbox(gt), gt.shape, rng, rng.uniform(0.0, 0.1))
        return resample_mask(gt, (side, side), bbox, threshold=rng.uniform(0.4, 0.6))
    if kind == 'lowres_image':
        stride = float(rng.choice([4, 8, 16, 32]))
        low = (max(1, round(h / stride)), max(1, round(w / stride)))
        return resample_mask(gt, low, threshold=rng.uniform(0.4, 0.6))
    if kind == 'morph':
        radius = max(1, int(round(extent * rng.uniform(0.01, 0.07))))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        op = rng.choice([cv2.MORPH_DILATE, cv2.MORPH_ERODE, cv2.MORPH_OPEN, cv2.MORPH_CLOSE])
        return cv2.morphologyEx(gt, int(op), kernel)
    if kind == 'polygon':
        mode = cv2.RETR_EXTERNAL if rng.random() < 0.5 else cv2.RETR_CCOMP
        contours, _ = cv2.findContours(gt, mode, cv2.CHAIN_APPROX_NONE)
        eps = extent * rng.uniform(0.005, 0.05)
        polygons = [cv2.approxPolyDP(c, eps, True) for c in contours
                    if cv2.contourArea(c) > 0.002 * extent**2]
        out = np.zeros_like(gt)
        if polygons:
            cv2.drawContours(out, polygons, -1, 1, cv2.FILLED)
        return out
    if kind == 'blob':
        sigma = extent * rng.uniform(0.01, 0.08)
        soft = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), max(sigma, 0.5))
        cells = int(rng.integers(3, 12))
        noise = cv2.resize(rng.random((cells, cells)).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_CUBIC) - 0.5
        level = rng.uniform(0.35, 0.65)
        return (soft + noise * rng.uniform(0.0, 0.5) > level).astype(np.uint8)
    if kind == 'shift':
        offset = rng.normal(0, 1, 2) * extent * rng.uniform(0.01, 0.06)
        matrix = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
        out = cv2.warpAffine(gt.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            out = cv2.GaussianBlur(out, (0, 0), max(0.5, extent * rng.uniform(0.005, 0.03)))
        return (out >= 0.5).astype(np.uint8)
    raise ValueError(f'unknown coarse kind {kind!r}; use one of {COARSE_KINDS}')


def _extra_error(rng: np.random.Generator, coarse: np.ndarray, gt: np.ndarray,
                 distractors: Sequence[np.ndarray]) -> np.ndarray:
    """A false positive on (part of) a distractor, or a missing bite / spurious island."""
    h, w = gt.shape
    extent = _object_extent(gt)
    choice = rng.random()
    touching = [d for d in distractors if d.any()]
    if choice < 0.5 and touching:
        d = touching[rng.integers(len(touching))].astype(np.uint8)
        ys, xs = np.nonzero(d)
        pick = rng.integers(len(ys))
        region = np.zeros_like(gt)
        r = max(2, int(extent * rng.uniform(0.1, 0.4)))
        cv2.circle(region, (int(xs[pick]), int(ys[pick])), r, 1, -1)
        return coarse | (region & d)
    r = max(2, int(extent * rng.uniform(0.05, 0.2)))
    if choice < 0.8:  # bite out of the object boundary
        points = _boundary_points(gt)
        if len(points):
            x, y = points[rng.integers(len(points))]
            out = coarse.copy()
            cv2.circle(out, (int(x), int(y)), r, 0, -1)
            return out
        return coarse
    out = coarse.copy()  # spurious island near the object
    box = mask_bbox(gt)
    cx = rng.uniform(box[0] - extent * 0.3, box[2] + extent * 0.3)
    cy = rng.uniform(box[1] - extent * 0.3, box[3] + extent * 0.3)
    cv2.ellipse(out, (int(cx), int(cy)), (r, max(1, int(r * rng.uniform(0.3, 1)))),
                rng.uniform(0, 180), 0, 360, 1, -1)
    return out


def sample_coarse_mask(rng: np.random.Generator, mask: np.ndarray, kind: Optional[str] = None,
                       distractors: Sequence[np.ndarray] = (), extra_prob: float = 0.3,
                       iou_range: Tuple[float, float] = COARSE_IOU_RANGE,
                       kinds: Sequence[str] = COARSE_KINDS,
                       probs: Optional[Sequence[float]] = None,
                       max_tries: int = 8) -> Tuple[np.ndarray, str]:
    """A coarse mask of ``mask`` like a segmentation model's prediction.

    Draws a kind (or uses ``kind``), makes the coarse mask, adds an extra error with probability
    ``extra_prob`` and redraws (same kind if given, else a new one) while it is empty, equal to the
    GT or outside ``iou_range``; after ``max_tries`` the draw closest to the range is kept.

    Args:
        rng (np.random.Generator): random source.
        mask (np.ndarray): (H, W) GT mask (bool or {0, 1}), not empty.
        kind (str, optional): one of :data:`COARSE_KINDS`. Defaults to a random draw.
        distractors (Sequence[np.ndarray]): (H, W) masks of look-alike regions next to the
            object (``info['distractors']`` of :func:`render_composite`) for false positives.
        extra_prob (float): probability of an extra error. Defaults to 0.3.
        iou_range (tuple[float, float]): accepted IoU to the GT. Defaults to (0.45, 0.97).
        kinds (Sequence[str]): kinds to draw from when ``kind`` is None.
        probs (Sequence[float], optional): their probabilities; defaults to
            :data:`COARSE_PROBS` for the default kinds, else uniform.
        max_tries (int): draws before giving up on the IoU range. Defaults to 8.

    Returns:
        tuple: (H, W) bool coarse mask and its kind.
    """
    gt = np.ascontiguousarray(mask != 0, dtype=np.uint8)
    if not gt.any():
        raise ValueError('sample_coarse_mask needs a non-empty mask')
    if probs is None:
        probs = COARSE_PROBS if tuple(kinds) == COARSE_KINDS else [1 / len(kinds)] * len(kinds)
    probs = np.asarray(probs, np.float64) / np.sum(probs)
    low, high = iou_range
    best = None
    for _ in range(max_tries):
        this = kind if kind is not None else kinds[rng.choice(len(kinds), p=probs)]
        coarse = _coarse_once(rng, gt, this)
        if rng.random() < extra_prob:
            coarse = _extra_error(rng, coarse, gt, distractors)
        if not coarse.any():
            continue
        iou = mask_iou(coarse, gt)
        gap = max(low - iou, iou - high, 0.0)
        if best is None or gap < best[0]:
            best = (gap, coarse, this)
        if gap == 0:
            break
    if best is None:  # every draw was empty: fall back to a dilation
        coarse = cv2.dilate(gt, np.ones((3, 3), np.uint8))
        return coarse.astype(bool), kind or 'morph'
    return best[1].astype(bool), best[2]
