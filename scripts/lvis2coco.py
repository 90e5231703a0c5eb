"""LVIS v1 val restricted to the COCO val2017 images and the 80 COCO categories.

The GT of SegRefiner's COCO table (``docs/metrics.md``, 'The COCO-restricted LVIS GT'):
LVIS's denser, more precise masks
evaluated on COCO detectors' output. Each COCO category is matched to its LVIS category through
the WordNet synset below; the output uses the **COCO category ids and names**, so COCO results
files evaluate against it directly (``scripts/eval_json.py``). Kept are

* the LVIS val images whose id is a COCO val2017 image id (other fields unchanged), with
  ``neg_category_ids`` and ``not_exhaustive_category_ids`` mapped to COCO ids (non-COCO
  categories dropped);
* their annotations of the 80 categories, ``category_id`` mapped to the COCO id;
* the 80 categories: LVIS's entry (synset, frequency, counts, ...) with the COCO ``id`` and
  ``name`` (``lvis_name`` keeps LVIS's).

Usage::

    python scripts/lvis2coco.py [--lvis data/lvis/annotations/lvis_v1_val.json] \\
        [--coco data/coco/annotations/instances_val2017.json] \\
        [--output data/lvis/annotations/lvis_v1_val_cocofied.json]

The output is written atomically. Exit status 2 when an input cannot be used (the message says
why: a missing file, invalid JSON, a COCO category or synset that is not where it should be).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.evaluation.instance import load_json  # noqa: E402
from segrefiner.utils.io import write_bytes_atomic  # noqa: E402

#: (COCO id, COCO name, LVIS synset) of the 80 COCO categories: the LVIS API's
#: ``data/coco_to_synset.json`` (lvis-api @ 7d7f07d; copy in ``tests/data/lvis/``, which the
#: tests compare entry by entry).
COCO_SYNSETS: Tuple[Tuple[int, str, str], ...] = (
    (1, 'person', 'person.n.01'), (2, 'bicycle', 'bicycle.n.01'), (3, 'car', 'car.n.01'),
    (4, 'motorcycle', 'motorcycle.n.01'), (5, 'airplane', 'airplane.n.01'),
    (6, 'bus', 'bus.n.01'), (7, 'train', 'train.n.01'), (8, 'truck', 'truck.n.01'),
    (9, 'boat', 'boat.n.01'), (10, 'traffic light', 'traffic_light.n.01'),
    (11, 'fire hydrant', 'fireplug.n.01'), (13, 'stop sign', 'stop_sign.n.01'),
    (14, 'parking meter', 'parking_meter.n.01'), (15, 'bench', 'bench.n.01'),
    (16, 'bird', 'bird.n.01'), (17, 'cat', 'cat.n.01'), (18, 'dog', 'dog.n.01'),
    (19, 'horse', 'horse.n.01'), (20, 'sheep', 'sheep.n.01'), (21, 'cow', 'beef.n.01'),
    (22, 'elephant', 'elephant.n.01'), (23, 'bear', 'bear.n.01'), (24, 'zebra', 'zebra.n.01'),
    (25, 'giraffe', 'giraffe.n.01'), (27, 'backpack', 'backpack.n.01'),
    (28, 'umbrella', 'umbrella.n.01'), (31, 'handbag', 'bag.n.04'),
    (32, 'tie', 'necktie.n.01'), (33, 'suitcase', 'bag.n.06'),
    (34, 'frisbee', 'frisbee.n.01'), (35, 'skis', 'ski.n.01'),
    (36, 'snowboard', 'snowboard.n.01'), (37, 'sports ball', 'ball.n.06'),
    (38, 'kite', 'kite.n.03'), (39, 'baseball bat', 'baseball_bat.n.01'),
    (40, 'baseball glove', 'baseball_glove.n.01'), (41, 'skateboard', 'skateboard.n.01'),
    (42, 'surfboard', 'surfboard.n.01'), (43, 'tennis racket', 'tennis_racket.n.01'),
    (44, 'bottle', 'bottle.n.01'), (46, 'wine glass', 'wineglass.n.01'),
    (47, 'cup', 'cup.n.01'), (48, 'fork', 'fork.n.01'), (49, 'knife', 'knife.n.01'),
    (50, 'spoon', 'spoon.n.01'), (51, 'bowl', 'bowl.n.03'), (52, 'banana', 'banana.n.02'),
    (53, 'apple', 'apple.n.01'), (54, 'sandwich', 'sandwich.n.01'),
    (55, 'orange', 'orange.n.01'), (56, 'broccoli', 'broccoli.n.01'),
    (57, 'carrot', 'carrot.n.01'), (58, 'hot dog', 'frank.n.02'), (59, 'pizza', 'pizza.n.01'),
    (60, 'donut', 'doughnut.n.02'), (61, 'cake', 'cake.n.03'), (62, 'chair', 'chair.n.01'),
    (63, 'couch', 'sofa.n.01'), (64, 'potted plant', 'pot.n.04'), (65, 'bed', 'bed.n.01'),
    (67, 'dining table', 'dining_table.n.01'), (70, 'toilet', 'toilet.n.02'),
    (72, 'tv', 'television_receiver.n.01'), (73, 'laptop', 'laptop.n.01'),
    (74, 'mouse', 'mouse.n.04'), (75, 'remote', 'remote_control.n.01'),
    (76, 'keyboard', 'computer_keyboard.n.01'), (77, 'cell phone', 'cellular_telephone.n.01'),
    (78, 'microwave', 'microwave.n.02'), (79, 'oven', 'oven.n.01'),
    (80, 'toaster', 'toaster.n.02'), (81, 'sink', 'sink.n.01'),
    (82, 'refrigerator', 'electric_refrigerator.n.01'), (84, 'book', 'book.n.01'),
    (85, 'clock', 'clock.n.01'), (86, 'vase', 'vase.n.01'), (87, 'scissors', 'scissors.n.01'),
    (88, 'teddy bear', 'teddy.n.01'), (89, 'hair drier', 'hand_blower.n.01'),
    (90, 'toothbrush', 'toothbrush.n.01'))


class ConversionError(ValueError):
    """The inputs cannot be converted (the message says which file and why)."""


def _lists(data, path: str, keys: Sequence[str]) -> None:
    missing = [k for k in keys if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing:
        raise ConversionError(f'{path}: no list {missing} at the top level')


def category_map(lvis_categories: List[dict], coco_categories: List[dict], lvis_path: str,
                 coco_path: str,
                 synsets: Sequence[Tuple[int, str, str]] = COCO_SYNSETS) -> Dict[int, dict]:
    """LVIS category id → the COCO category entry of the output, for the COCO categories.

    Raises:
        ConversionError: a COCO category of the table is missing from (or named differently
            in) the COCO file, or its synset is not an LVIS category.
    """
    coco_names = {c.get('id'): c.get('name') for c in coco_categories}
    by_synset = {c.get('synset'): c for c in lvis_categories}
    mapping = {}
    for coco_id, name, synset in synsets:
        if coco_names.get(coco_id) != name:
            raise ConversionError(f'{coco_path}: category id {coco_id} should be {name!r}, '
                                  f'found {coco_names.get(coco_id)!r}')
        lvis_cat = by_synset.get(synset)
        if lvis_cat is None:
            raise ConversionError(f'{lvis_path}: no LVIS category with synset {synset!r} '
                                  f'(COCO {name!r})')
        mapping[lvis_cat['id']] = dict(lvis_cat, id=coco_id, name=name,
                                       lvis_name=lvis_cat.get('name'))
    return mapping


def cocofy(lvis: dict, coco: dict, lvis_path: str = 'LVIS', coco_path: str = 'COCO') -> dict:
    """The LVIS annotations restricted to the COCO images and categories (module docstring).

    Args:
        lvis (dict): LVIS v1 val annotations.
        coco (dict): COCO val2017 instances (images and categories are used).
        lvis_path (str): name of the LVIS file in messages.
        coco_path (str): name of the COCO file in messages.

    Returns:
        dict: the LVIS-format GT with COCO category ids.
    """
    _lists(lvis, lvis_path, ('images', 'annotations', 'categories'))
    _lists(coco, coco_path, ('images', 'categories'))
    mapping = category_map(lvis['categories'], coco['categories'], lvis_path, coco_path)
    coco_image_ids = {image.get('id') for image in coco['images']}

    def remap(ids: List[int]) -> List[int]:
        return sorted(mapping[i]['id'] for i in ids if i in mapping)

    images = []
    for index, image in enumerate(lvis['images']):
        if image.get('id') not in coco_image_ids:
            continue
        try:
            images.append(dict(image, neg_category_ids=remap(image['neg_category_ids']),
                               not_exhaustive_category_ids=remap(
                                   image['not_exhaustive_category_ids'])))
        except (KeyError, TypeError) as error:
            raise ConversionError(f'{lvis_path}: image #{index} is not an LVIS image entry '
                                  f'({type(error).__name__}: {error})') from None
    kept_ids = {image['id'] for image in images}
    annotations = []
    for index, ann in enumerate(lvis['annotations']):
        try:
            if ann['image_id'] in kept_ids and ann['category_id'] in mapping:
                annotations.append(dict(ann, category_id=mapping[ann['category_id']]['id']))
        except (KeyError, TypeError) as error:
            raise ConversionError(f'{lvis_path}: annotation #{index} is not an LVIS annotation '
                                  f'({type(error).__name__}: {error})') from None
    categories = sorted(mapping.values(), key=lambda c: c['id'])
    return dict({k: v for k, v in lvis.items()
                 if k not in ('images', 'annotations', 'categories')},
                images=images, annotations=annotations, categories=categories)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='LVIS v1 val restricted to COCO val2017 images and the 80 COCO categories')
    parser.add_argument('--lvis', default='data/lvis/annotations/lvis_v1_val.json',
                        help='LVIS v1 val annotations')
    parser.add_argument('--coco', default='data/coco/annotations/instances_val2017.json',
                        help='COCO val2017 instances (for the image ids and categories)')
    parser.add_argument('--output', default='data/lvis/annotations/lvis_v1_val_cocofied.json',
                        help='output GT (the default GT of scripts/eval_json.py)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        lvis = load_json(args.lvis, 'LVIS annotation file')
        coco = load_json(args.coco, 'COCO annotation file')
        cocofied = cocofy(lvis, coco, args.lvis, args.coco)
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    write_bytes_atomic(args.output, json.dumps(cocofied).encode('utf-8'))
    print(f'wrote {args.output}: {len(cocofied["images"])} images, '
          f'{len(cocofied["annotations"])} annotations, {len(cocofied["categories"])} '
          f'categories (of {len(lvis["images"])} images, {len(lvis["annotations"])} '
          f'annotations in {args.lvis})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
