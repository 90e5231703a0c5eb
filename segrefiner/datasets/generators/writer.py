"""Crash-safe writer of the synthetic refinement benchmark's splits.

Layout written by :func:`generate_synthetic_dataset` (read by
:class:`~segrefiner.datasets.SyntheticRefineDataset`; the scenes and coarse masks come from
:mod:`segrefiner.datasets.generators.scenes`)::

    <out_dir>/{train,val}/images/<name>.jpg     (JPEG quality 95, BGR)
    <out_dir>/{train,val}/masks/<name>.png      (0/255)
    <out_dir>/{train,val}/coarse/<name>.png     (0/255)
    <out_dir>/{train,val}/meta.json             (parameters; per image: coarse kind, IoU, ...)

A split is built in a hidden temporary sibling folder and renamed into place once complete
(``meta.json`` is written last), so an interrupted run never leaves a split that looks complete.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Optional, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.utils import ProgressBar

from .scenes import COARSE_IOU_RANGE, COARSE_KIND_PROBS, COARSE_KINDS, make_sample

GENERATOR_VERSION = 1
SPLITS = ('train', 'val')
#: ``generator`` entry of ``meta.json``: the module that wrote the first version of the
#: benchmark. Kept, so existing splits stay complete splits of the same parameters.
GENERATOR_NAME = 'segrefiner.datasets.synthetic'


def _split_params(split: str, num_images: int, size: Tuple[int, int], seed: int) -> dict:
    return dict(
        generator=GENERATOR_NAME,
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

