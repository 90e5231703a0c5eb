"""Offline coarse masks of the HR training sets and ``collection_hr.json``.

See ``docs/data.md``, 'HR training collection'.

For every training image of DIS-5K (``DIS-TR``) and ThinObject-5K (``list/train.txt``) two
coarse masks are written, 0/255 PNGs named like the GT:

* ``coarse/<name>.png``: the SegRefiner perturbation of the GT
  (:func:`segrefiner.datasets.transforms.coarse_mask.perturb_mask`);
* ``coarse_expand/<name>.png``: the same perturbation of the GT with its holes filled.

Layout read and written, relative to ``--data-root`` (``data``)::

    dis/DIS-TR/im/<name>.jpg, dis/DIS-TR/gt/<name>.png
        -> dis/DIS-TR/coarse/<name>.png, dis/DIS-TR/coarse_expand/<name>.png
    thin_object/list/train.txt (GT file names), thin_object/images/<name>.jpg,
    thin_object/masks/<name>.png
        -> thin_object/coarse/<name>.png, thin_object/coarse_expand/<name>.png
    collection_hr.json: {"dis": [...], "thin": [...]}, entries {filename, maskname, coarsename,
        expandname, height, width} with paths relative to the data root (SegRefiner's format,
        read by ``HRCollectionDataset``)

Each image's random draws come from ``(--seed, dataset, name)``, so the output does not depend on
the number of workers or on resuming. Existing coarse masks are kept (the run resumes; ``--force``
regenerates them); every file is written through a temporary file and a rename, so an
interrupted run leaves no truncated PNG. Masks are handled as {0, 1} arrays (no uint8
``gt * 255`` wrap-around) and a mask whose perturbation vanishes falls back to its source mask,
never to an empty one. Images with problems (missing or unreadable files, GT/image size
mismatch, empty GT) are listed at the end; the JSON is then not written unless
``--skip-invalid`` leaves them out. The JSON keeps the lists of datasets not processed in this
run.

Usage::

    python scripts/gen_coarse_masks_hr.py [--data-root data] [--datasets dis thin] \\
        [--nproc 8] [--seed 0] [--force] [--skip-invalid]
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.datasets.transforms.coarse_mask import perturb_mask  # noqa: E402
from segrefiner.datasets.transforms.loading import read_binary_mask  # noqa: E402
from segrefiner.utils.io import write_bytes_atomic, write_image_atomic  # noqa: E402

#: Where each training set lives, relative to the data root.
SOURCES = {
    'dis': dict(images='dis/DIS-TR/im', masks='dis/DIS-TR/gt', out='dis/DIS-TR'),
    'thin': dict(images='thin_object/images', masks='thin_object/masks', out='thin_object',
                 list='thin_object/list/train.txt'),
}
IMG_SUFFIX, MASK_SUFFIX = '.jpg', '.png'


class InputError(ValueError):
    """A dataset folder or list cannot be read."""


def list_dataset(data_root: str, dataset: str) -> List[Dict[str, str]]:
    """The samples of a training set: dicts of paths relative to ``data_root``.

    Returns:
        list[dict]: ``{name, filename, maskname, coarsename, expandname}`` per image, sorted.

    Raises:
        InputError: the image folder or the ThinObject list is missing or empty.
    """
    source = SOURCES[dataset]
    if 'list' in source:
        list_file = osp.join(data_root, source['list'])
        if not osp.isfile(list_file):
            raise InputError(f'{dataset}: list file not found: {list_file}')
        with open(list_file) as f:
            lines = [line.strip() for line in f if line.strip()]
        names = sorted({osp.splitext(line)[0] for line in lines})
        if not names:
            raise InputError(f'{dataset}: list file {list_file} is empty')
    else:
        img_dir = osp.join(data_root, source['images'])
        if not osp.isdir(img_dir):
            raise InputError(f'{dataset}: image folder not found: {img_dir}')
        names = sorted(f[:-len(IMG_SUFFIX)] for f in os.listdir(img_dir)
                       if f.endswith(IMG_SUFFIX))
        if not names:
            raise InputError(f'{dataset}: no *{IMG_SUFFIX} images in {img_dir}')
    return [dict(name=name,
                 filename=f'{source["images"]}/{name}{IMG_SUFFIX}',
                 maskname=f'{source["masks"]}/{name}{MASK_SUFFIX}',
                 coarsename=f'{source["out"]}/coarse/{name}{MASK_SUFFIX}',
                 expandname=f'{source["out"]}/coarse_expand/{name}{MASK_SUFFIX}')
            for name in names]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The silhouette of a {0, 1} mask: every external contour drawn filled.

    Args:
        mask (np.ndarray): (H, W) uint8 mask in {0, 1}.

    Returns:
        np.ndarray: (H, W) uint8 mask in {0, 1} without holes.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled


def coarse_from(source: np.ndarray, rng: np.random.Generator, iou_target: float) -> np.ndarray:
    """SegRefiner's perturbation of ``source``; ``source`` itself if the result is empty."""
    coarse = perturb_mask(source, rng, iou_target=iou_target)
    return coarse if coarse.any() else source


def image_size(path: str, what: str) -> Tuple[int, int]:
    """(H, W) of an image file from its header.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with Image.open(path) as img:
            width, height = img.size
            img.verify()
    except Exception as error:  # noqa: BLE001 - any decoder error means the same here
        raise ValueError(f'{what} {path} is not a readable image ({error})') from error
    return height, width


def image_seed(seed: int, dataset: str, name: str) -> int:
    """A per-image seed that depends only on the run seed, the dataset and the name."""
    return zlib.crc32(f'{seed}/{dataset}/{name}'.encode())


def generate_one(task: tuple) -> dict:
    """Write the two coarse masks of one image (unless they exist) and describe it.

    Args:
        task (tuple): ``(data_root, dataset, sample, seed, iou_target, force)`` with ``sample``
            from :func:`list_dataset`.

    Returns:
        dict: ``entry`` (the JSON entry, None on error), ``error`` (message or None) and
        ``written`` (number of masks written).
    """
    data_root, dataset, sample, seed, iou_target, force = task
    paths = {key: osp.join(data_root, sample[key])
             for key in ('filename', 'maskname', 'coarsename', 'expandname')}
    try:
        height, width = image_size(paths['filename'], 'image')
        todo = []
        for key in ('coarsename', 'expandname'):
            if force or not osp.isfile(paths[key]):
                todo.append(key)
            elif image_size(paths[key], 'coarse mask') != (height, width):
                raise ValueError(f'existing coarse mask {paths[key]} is not {height}x{width} '
                                 f'(HxW) like its image {paths["filename"]}; delete it or use '
                                 '--force')
        if todo:
            gt = read_binary_mask(paths['maskname'], what='GT mask')
            if gt.shape != (height, width):
                raise ValueError(f'GT mask {paths["maskname"]} is {gt.shape[0]}x{gt.shape[1]} '
                                 f'(HxW) but image {paths["filename"]} is {height}x{width}')
            if not gt.any():
                raise ValueError(f'GT mask {paths["maskname"]} is empty')
            base_seed = image_seed(seed, dataset, sample['name'])
            for key in todo:
                rng = np.random.default_rng([base_seed, 0 if key == 'coarsename' else 1])
                source = gt if key == 'coarsename' else fill_holes(gt)
                write_image_atomic(paths[key], coarse_from(source, rng, iou_target) * 255)
        elif not osp.isfile(paths['maskname']):
            raise FileNotFoundError(f'GT mask not found: {paths["maskname"]}')
    except (FileNotFoundError, ValueError) as error:
        return dict(entry=None, error=f'{dataset}/{sample["name"]}: {error}', written=0)
    entry = {key: sample[key] for key in ('filename', 'maskname', 'coarsename', 'expandname')}
    entry.update(height=height, width=width)
    return dict(entry=entry, error=None, written=len(todo))


def load_existing(path: str) -> dict:
    """The lists of an existing collection JSON (to keep those not regenerated), or {}."""
    if not osp.isfile(path):
        return {}
    try:
        with open(path) as f:
            collection = json.load(f)
    except (OSError, ValueError) as error:
        print(f'warning: ignoring the unreadable {path} ({error}); it will be replaced',
              file=sys.stderr)
        return {}
    return collection if isinstance(collection, dict) else {}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data-root', default='data', help='data root (default: data)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(SOURCES),
                        default=['dis', 'thin'], help='training sets to process')
    parser.add_argument('--out-json', default='collection_hr.json',
                        help='collection file, relative to the data root')
    parser.add_argument('--nproc', type=int, default=8, help='worker processes (default 8)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--iou-target', type=float, default=0.8,
                        help='perturbation stop criterion (default 0.8, SegRefiner)')
    parser.add_argument('--force', action='store_true', help='regenerate existing masks')
    parser.add_argument('--skip-invalid', action='store_true',
                        help='leave images with problems out of the JSON instead of failing')
    args = parser.parse_args(argv)
    if args.nproc < 1:
        parser.error(f'--nproc must be >= 1, got {args.nproc}')
    if not 0 < args.iou_target <= 1:
        parser.error(f'--iou-target must be in (0, 1], got {args.iou_target}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit code (0 done, 1 images with problems, 2 bad input)."""
    args = parse_args(argv)
    try:
        samples = {dataset: list_dataset(args.data_root, dataset) for dataset in args.datasets}
    except InputError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    tasks = [(args.data_root, dataset, sample, args.seed, args.iou_target, args.force)
             for dataset in args.datasets for sample in samples[dataset]]
    start = time.perf_counter()
    if args.nproc > 1 and len(tasks) > 1:
        results = track_parallel_progress(generate_one, tasks, args.nproc, file=sys.stdout)
    else:
        results = track_progress(generate_one, tasks, file=sys.stdout)
    print()

    collection = load_existing(osp.join(args.data_root, args.out_json))
    errors = [r['error'] for r in results if r['error']]
    for dataset in args.datasets:
        own = [r for r, t in zip(results, tasks) if t[1] == dataset]
        collection[dataset] = [r['entry'] for r in own if r['entry'] is not None]
        print(f'{dataset}: {len(own)} images, {sum(r["written"] for r in own)} masks written, '
              f'{sum(2 - r["written"] for r in own if r["entry"])} kept, '
              f'{sum(r["error"] is not None for r in own)} with problems')
    for error in errors:
        print(f'  {error}', file=sys.stderr)
    if errors and not args.skip_invalid:
        print(f'error: {len(errors)} images with problems (listed above); '
              f'{args.out_json} not written (fix them or pass --skip-invalid)', file=sys.stderr)
        return 1
    json_path = osp.join(args.data_root, args.out_json)
    write_bytes_atomic(json_path, json.dumps(collection, indent=1).encode())
    print(f'wrote {json_path} in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
