"""Fixtures in the exact on-disk formats of LVIS v1, COCO instances and COCO results files.

Objects are polygons (as in LVIS/COCO annotations); their masks are the polygons rasterised by
pycocotools at the image size, i.e. exactly what the evaluators and loaders see.
"""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

#: (id, name, LVIS synset, LVIS frequency) of the COCO categories used by the fixtures.
CATEGORIES = [(1, 'person', 'person.n.01', 'f'), (3, 'car', 'car.n.01', 'f'),
              (18, 'dog', 'dog.n.01', 'c'), (21, 'cow', 'beef.n.01', 'r')]
#: LVIS-only categories (not in COCO): (LVIS id, name, synset, frequency).
LVIS_ONLY = [(2, 'aerosol_can', 'aerosol_can.n.01', 'c'), (7, 'antenna', 'antenna.n.01', 'f')]


def star_polygon(centre: Tuple[float, float], radius: float, rng: np.random.Generator,
                 points: int = 14) -> List[float]:
    """A flat [x1, y1, x2, y2, ...] concave star around ``centre``."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = radius * np.where(np.arange(points) % 2 == 0, 1.0, rng.uniform(0.45, 0.8))
    xs = centre[0] + radii * np.cos(angles)
    ys = centre[1] + radii * np.sin(angles)
    return [round(float(v), 2) for xy in zip(xs, ys) for v in xy]


def polygon_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """(H, W) uint8 mask of COCO polygons, rasterised by pycocotools."""
    rle = mask_utils.merge(mask_utils.frPyObjects([list(p) for p in polygons], height, width))
    return mask_utils.decode(rle)


def to_rle(mask: np.ndarray) -> dict:
    """Compressed RLE with str counts (COCO results format)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def annotation(ann_id: int, image_id: int, category_id: int,
               polygons: List[List[float]], height: int, width: int) -> dict:
    """A COCO/LVIS instance annotation (polygons, area and box as the official files have)."""
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    return dict(id=ann_id, image_id=image_id, category_id=category_id, segmentation=polygons,
                area=float(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)])


def write_image(path: Path, shape: Tuple[int, int], seed: int) -> np.ndarray:
    """A smooth random BGR image, JPEG-encoded at ``path``; returns the decoded pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    img = cv2.resize(small, shape[::-1], interpolation=cv2.INTER_LINEAR)
    assert cv2.imwrite(str(path), img)
    return cv2.imread(str(path))


def make_objects(shape: Tuple[int, int], count: int, rng: np.random.Generator,
                 radius: Tuple[float, float] = (10, 26)) -> List[List[List[float]]]:
    """``count`` objects (each a list with one polygon) inside an image of ``shape``."""
    height, width = shape
    objects = []
    for _ in range(count):
        r = rng.uniform(*radius)
        centre = (rng.uniform(r, width - r), rng.uniform(r, height - r))
        objects.append([star_polygon(centre, r, rng)])
    return objects


def coco_file_name(image_id: int) -> str:
    return f'{image_id:012d}.jpg'


def write_lvis(root: Path, split: str, shapes: Dict[int, Tuple[int, int]],
               objects_per_image: int = 3, seed: int = 0, images: bool = True,
               extra_annotations: Sequence[dict] = ()) -> dict:
    """LVIS v1 ``lvis_v1_{split}.json`` under ``root/lvis/annotations`` (+ COCO images).

    Image ids are COCO ids; ``coco_url`` points to ``{split}2017/<id>.jpg``, which is written
    under ``root/coco``. Category ids are LVIS-like (the COCO categories get ids 10, 11, ...).
    """
    rng = np.random.default_rng(seed)
    categories = [dict(id=10 + i, name=name, synset=synset, synonyms=[name], frequency=freq,
                       image_count=5, instance_count=9, **{'def': f'a {name}'})
                  for i, (_, name, synset, freq) in enumerate(CATEGORIES)]
    categories += [dict(id=lvis_id, name=name, synset=synset, synonyms=[name], frequency=freq,
                        image_count=1, instance_count=1, **{'def': f'a {name}'})
                   for lvis_id, name, synset, freq in LVIS_ONLY]
    cat_ids = [c['id'] for c in categories]
    image_list, annotations = [], []
    for image_id, (height, width) in shapes.items():
        url = f'http://images.cocodataset.org/{split}2017/{coco_file_name(image_id)}'
        image_list.append(dict(id=image_id, coco_url=url, height=height, width=width,
                               license=1, flickr_url=url, date_captured='2013-11-14 16:28:13',
                               neg_category_ids=[cat_ids[-1]],
                               not_exhaustive_category_ids=[cat_ids[-2]]))
        if images:
            write_image(root / 'coco' / f'{split}2017' / coco_file_name(image_id),
                        (height, width), image_id)
        for k, polygons in enumerate(make_objects((height, width), objects_per_image, rng)):
            annotations.append(annotation(len(annotations) + 1, image_id,
                                          cat_ids[k % len(cat_ids)], polygons, height, width))
    for extra in extra_annotations:
        annotations.append(dict(extra, id=len(annotations) + 1))
    data = dict(info=dict(description='LVIS v1 fixture'), licenses=[dict(id=1, name='x')],
                images=image_list, annotations=annotations, categories=categories)
    path = root / 'lvis' / 'annotations' / f'lvis_v1_{split}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def write_coco(root: Path, shapes: Dict[int, Tuple[int, int]], objects_per_image: int = 3,
               seed: int = 0, split: str = 'val') -> dict:
    """COCO ``instances_{split}2017.json`` and the images under ``root/coco``."""
    rng = np.random.default_rng(seed)
    categories = [dict(id=cat_id, name=name, supercategory='thing')
                  for cat_id, name, _, _ in CATEGORIES]
    image_list, annotations = [], []
    for image_id, (height, width) in shapes.items():
        name = coco_file_name(image_id)
        image_list.append(dict(id=image_id, file_name=name, height=height, width=width,
                               license=1, date_captured='2013-11-14 16:28:13',
                               coco_url=f'http://images.cocodataset.org/{split}2017/{name}',
                               flickr_url=''))
        write_image(root / 'coco' / f'{split}2017' / name, (height, width), image_id)
        for k, polygons in enumerate(make_objects((height, width), objects_per_image, rng)):
            ann = annotation(len(annotations) + 1, image_id,
                             categories[k % len(categories)]['id'], polygons, height, width)
            annotations.append(dict(ann, iscrowd=0))
    data = dict(info=dict(description='COCO fixture'), licenses=[dict(id=1, name='x')],
                images=image_list, annotations=annotations, categories=categories)
    path = root / 'coco' / 'annotations' / f'instances_{split}2017.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def lvis_gt_from_coco(coco: dict) -> dict:
    """The COCO annotations as an LVIS-format GT with COCO ids (what lvis2coco.py writes)."""
    freq = {cat_id: f for cat_id, _, _, f in CATEGORIES}
    images = [dict(image, neg_category_ids=[], not_exhaustive_category_ids=[])
              for image in coco['images']]
    categories = [dict(c, frequency=freq[c['id']]) for c in coco['categories']]
    annotations = [{k: v for k, v in a.items() if k != 'iscrowd'} for a in coco['annotations']]
    return dict(images=images, annotations=annotations, categories=categories)


def gt_as_results(gt: dict, score: float = 0.9, polygons: bool = False) -> List[dict]:
    """The GT annotations given back as detections (RLE, or the polygons themselves)."""
    sizes = {i['id']: (i['height'], i['width']) for i in gt['images']}
    results = []
    for k, ann in enumerate(gt['annotations']):
        segmentation = ann['segmentation'] if polygons else to_rle(
            polygon_mask(ann['segmentation'], *sizes[ann['image_id']]))
        results.append(dict(image_id=ann['image_id'], category_id=ann['category_id'],
                            bbox=ann['bbox'], score=score - 0.001 * k,
                            segmentation=segmentation))
    return results


def degraded_results(gt: dict, radius: int = 2, score: float = 0.9) -> List[dict]:
    """Detections whose masks are the GT masks with a wobbly boundary.

    Each mask is dilated by ``radius`` px in every other 45° sector around its centroid and
    eroded in the others, so the region overlap stays high while the boundary moves by
    ``radius`` px almost everywhere.
    """
    sizes = {i['id']: (i['height'], i['width']) for i in gt['images']}
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    results = []
    for k, ann in enumerate(gt['annotations']):
        height, width = sizes[ann['image_id']]
        mask = polygon_mask(ann['segmentation'], height, width)
        ys, xs = np.nonzero(mask)
        yy, xx = np.mgrid[:height, :width]
        sector = (np.floor((np.arctan2(yy - ys.mean(), xx - xs.mean()) + np.pi)
                           / (np.pi / 4)).astype(int) % 2).astype(bool)
        grown = np.where(sector, cv2.dilate(mask, kernel), cv2.erode(mask, kernel))
        results.append(dict(image_id=ann['image_id'], category_id=ann['category_id'],
                            score=score - 0.001 * k, segmentation=to_rle(grown)))
    return results
