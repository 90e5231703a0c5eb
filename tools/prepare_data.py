"""Analyse, validate, organise or create a folder dataset of images and grey masks.

Images and masks are paired by the naming rules of ``SegFolderDataset`` (a mask is
``STEM.png``, ``STEM_mask.png``, ``STEM_gt.png`` or the image's own name; see
``segrefiner/datasets/seg_folder.py``). Actions:

- ``analyze``: counts, image sizes, mask values and foreground statistics, issues and
  recommendations; writes ``report.json`` and ``histograms.png`` to ``--output-dir``.
- ``validate``: prints every problem on its own line, naming the file (unreadable image or mask,
  image without a mask, mask without an image, ambiguous names, image/mask size mismatch,
  non-binary mask); exits with 1 when there are problems, 0 when the dataset is clean. With
  ``--fix-issues`` it also writes a fixed copy to ``--output-dir`` (``images/`` + ``masks/``):
  masks binarised to 0/255 PNGs named ``STEM.png`` and resized to their image (nearest), files
  that cannot be fixed left out and listed in ``fix_report.json``; originals are never changed.
- ``organize``: copies ``--source-dir`` (``images/`` + ``masks/`` or ``train/`` + ``val/``) into
  ``--output-dir/{train,val}/{images,masks}`` with a seeded split (``--train-split``, ``--seed``);
  the split equals ``SegFolderDataset(val_split=1 - train_split, split_seed=seed)``'s.
- ``create-sample``: ``--num-samples`` synthetic scenes (the project's scene renderer) in
  ``--output-dir/{images,masks}``.

Exit status: 0 success; 1 problems found (validate) or the action failed (organize on data with
unpaired files); 2 bad arguments or folders.

Examples:
    python tools/prepare_data.py --action analyze --image-dir data/images --mask-dir data/masks \
        --output-dir analysis
    python tools/prepare_data.py --action validate --image-dir data/images --mask-dir data/masks \
        --fix-issues --output-dir data_fixed
    python tools/prepare_data.py --action organize --source-dir raw --output-dir organized \
        --train-split 0.8
    python tools/prepare_data.py --action create-sample --output-dir sample_data --num-samples 50
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.utils import ProgressBar

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.datasets.generators.scenes import render_scene  # noqa: E402
from segrefiner.datasets.seg_folder import (FolderPairs, list_image_files,  # noqa: E402
                                            pair_images_with_masks, split_pairs)
from segrefiner.datasets.transforms.seg_loading import read_grey_mask  # noqa: E402
from segrefiner.utils.io import (write_bytes_atomic, write_figure_atomic,  # noqa: E402
                                 write_image_atomic)

ACTIONS = ('analyze', 'validate', 'organize', 'create-sample')
SMALL, LARGE = 100, 1000  # dataset size classes of the recommendations (pairs)
SIDES = (64, 128, 256, 512, 1024)  # image_size sides the recommendations choose from
FG_RANGE = (0.02, 0.6)  # foreground fraction of the synthetic samples


class UsageError(Exception):
    """Bad arguments or folders (exit status 2)."""


# --------------------------------------------------------------------------------------------
# Reading and statistics
# --------------------------------------------------------------------------------------------
def _reason(error: Exception) -> str:
    return str(error.__cause__ or error)


def read_image(path: str) -> np.ndarray:
    """The (H, W, 3) uint8 image at ``path``; ``ValueError`` naming the file if unreadable
    (Pillow decoding: truncated files are errors)."""
    try:
        with open(path, 'rb') as f:
            image = mmcv.imfrombytes(f.read(), flag='color', backend='pillow')
    except Exception as error:
        raise ValueError(f'image file {path} is not a readable image') from error
    if image is None or image.size == 0:
        raise ValueError(f'image file {path} is not a readable image')
    return image


def mask_stats(grey: np.ndarray, threshold: int) -> dict:
    """Size, value histogram, kind and foreground fraction of a (H, W) uint8 grey mask.

    ``kind`` is ``'binary'`` (values in {0, 255}), ``'zero_one'`` (values in {0, 1}, some 1) or
    ``'grey'`` (any other values).
    """
    counts = np.bincount(grey.ravel(), minlength=256)
    values = set(np.flatnonzero(counts).tolist())
    if values <= {0, 255}:
        kind = 'binary'
    elif values <= {0, 1}:
        kind = 'zero_one'
    else:
        kind = 'grey'
    return dict(height=grey.shape[0], width=grey.shape[1], counts=counts, kind=kind,
                num_values=len(values), min=min(values), max=max(values),
                foreground=float(counts[threshold:].sum() / grey.size))


def scan(img_dir: str, mask_dir: str, threshold: int) -> Tuple[FolderPairs, dict, dict]:
    """Pair the folders and read every image and mask once.

    Returns:
        tuple: the :class:`FolderPairs`; ``{image path: dict(height, width) or dict(error)}``;
        ``{mask path: mask_stats(...) or dict(error)}``.
    """
    for what, folder in (('image folder', img_dir), ('mask folder', mask_dir)):
        if not osp.isdir(folder):
            raise UsageError(f'{what} not found: {folder}')
    pairs = pair_images_with_masks(img_dir, mask_dir)
    images = [osp.join(img_dir, p) for p in list_image_files(img_dir)[0]]
    masks = [osp.join(mask_dir, p) for p in list_image_files(mask_dir)[0]]
    image_info, mask_info = {}, {}
    print(f'reading {len(images)} images and {len(masks)} masks')
    bar = ProgressBar(len(images) + len(masks)) if images or masks else None
    for path in images:
        try:
            image = read_image(path)
            image_info[path] = dict(height=image.shape[0], width=image.shape[1])
        except ValueError as error:
            image_info[path] = dict(error=_reason(error))
        bar.update()
    for path in masks:
        try:
            mask_info[path] = mask_stats(read_grey_mask(path), threshold)
        except (FileNotFoundError, ValueError) as error:
            mask_info[path] = dict(error=_reason(error))
        bar.update()
    if bar is not None:
        print()
    return pairs, image_info, mask_info


def find_problems(pairs: FolderPairs, image_info: dict, mask_info: dict,
                  threshold: int) -> List[str]:
    """Every problem of a scanned dataset, one line each, naming the file(s)."""
    problems = pairs.ambiguity_messages() + pairs.missing_messages()
    problems += [f'unreadable image: {p} ({i["error"]})' for p, i in image_info.items()
                 if 'error' in i]
    problems += [f'unreadable mask: {p} ({i["error"]})' for p, i in mask_info.items()
                 if 'error' in i]
    for image, mask in pairs.pairs:
        img, msk = image_info[image], mask_info[mask]
        if 'error' not in img and 'error' not in msk and \
                (img['height'], img['width']) != (msk['height'], msk['width']):
            problems.append(f'size mismatch: image {image} is {img["width"]}x{img["height"]} '
                            f'(WxH), its mask {mask} is {msk["width"]}x{msk["height"]}')
    for path, info in mask_info.items():
        if info.get('kind') == 'zero_one':
            problems.append(f'non-binary mask: {path} (values 0/1: it reads as all background '
                            f'at threshold {threshold}; --fix-issues writes it as 0/255)')
        elif info.get('kind') == 'grey':
            problems.append(f'non-binary mask: {path} ({info["num_values"]} grey values in '
                            f'{info["min"]}-{info["max"]}; foreground is >= {threshold})')
    return problems


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------
def _summary(values: Sequence[float]) -> Optional[dict]:
    if not len(values):
        return None
    values = np.asarray(values, np.float64)
    return dict(min=round(float(values.min()), 4), max=round(float(values.max()), 4),
                mean=round(float(values.mean()), 4), median=round(float(np.median(values)), 4))


def recommendations(num_pairs: int, sizes: List[Tuple[int, int]], masks: List[dict],
                    threshold: int) -> List[str]:
    """The seed's advice: dataset size class, image_size from the common size, aspect ratio,
    mask values."""
    advice = []
    if num_pairs < SMALL:
        advice.append(f'small dataset ({num_pairs} pairs < {SMALL}): use light augmentation '
                      "(augmentation='light'), a larger learning rate and more epochs; consider "
                      'mixing in synthetic data (--action create-sample)')
    elif num_pairs <= LARGE:
        advice.append(f'medium dataset ({num_pairs} pairs): use medium augmentation (the '
                      'default) and standard parameters; a validation split is recommended '
                      '(val_split=0.2)')
    else:
        advice.append(f'large dataset ({num_pairs} pairs > {LARGE}): use heavy augmentation '
                      "(augmentation='heavy'); consider a larger image_size and multi-GPU "
                      'training (tools/dist_train.sh)')
    if sizes:
        (width, height), count = Counter(sizes).most_common(1)[0]
        side = max([s for s in SIDES if s <= min(width, height)] or [SIDES[0]])
        advice.append(f'most common image size {width}x{height} (WxH, {count} of {len(sizes)} '
                      f'images): image_size=({side}, {side}) keeps their detail without '
                      'upsampling')
        ratio = float(np.median([w / h for w, h in sizes]))
        if not 0.8 <= ratio <= 1.25:
            other = max(32, int(round(side * ratio / 32)) * 32)
            advice.append(f'images are not square (median aspect ratio W/H {ratio:.2f}): a '
                          f'square image_size stretches them; image_size=({side}, {other}) '
                          '((H, W)) keeps the aspect ratio')
        if len(set(sizes)) > 1:
            advice.append(f'images have {len(set(sizes))} different sizes: the pipelines resize '
                          'them to image_size')
    kinds = Counter(m['kind'] for m in masks)
    if kinds['grey']:
        advice.append(f'{kinds["grey"]} masks are not binary: they are thresholded at '
                      f'{threshold} (mask_threshold); --action validate --fix-issues writes '
                      'binarised copies')
    if kinds['zero_one']:
        advice.append(f'{kinds["zero_one"]} masks hold 0/1 values: they read as empty at '
                      f'threshold {threshold}; use mask_threshold=1 or --action validate '
                      '--fix-issues')
    fg = [m['foreground'] for m in masks]
    if fg and np.mean(fg) < 0.05:
        advice.append(f'objects are small (foreground {100 * np.mean(fg):.1f}% of the pixels on '
                      'average): a larger image_size keeps them visible')
    return advice


def analyze(img_dir: str, mask_dir: str, out_dir: str, threshold: int) -> dict:
    """Statistics, issues and recommendations; writes ``report.json`` and ``histograms.png``."""
    pairs, image_info, mask_info = scan(img_dir, mask_dir, threshold)
    good_images = [i for i in image_info.values() if 'error' not in i]
    good_masks = [m for m in mask_info.values() if 'error' not in m]
    sizes = [(i['width'], i['height']) for i in good_images]
    problems = find_problems(pairs, image_info, mask_info, threshold)
    kinds = Counter(m['kind'] for m in good_masks)
    fg = [m['foreground'] for m in good_masks]
    histogram = sum((m['counts'] for m in good_masks), np.zeros(256, np.int64))

    mismatches = sum(p.startswith('size mismatch') for p in problems)
    issues = [f'{count} {what}' for count, what in (
        (len(pairs.images_without_mask), 'images have no mask'),
        (len(pairs.masks_without_image), 'masks have no image'),
        (len(pairs.ambiguous), 'images have several masks'),
        (len(pairs.shared), 'masks are named by several images'),
        (len(image_info) - len(good_images), 'images are unreadable'),
        (len(mask_info) - len(good_masks), 'masks are unreadable'),
        (mismatches, 'masks differ in size from their image'),
        (kinds['grey'] + kinds['zero_one'], 'masks are not binary')) if count]
    if issues:
        issues.append('run --action validate for the list of files')
    empty = sum(f == 0 for f in fg)
    if empty:
        issues.append(f'{empty} masks have no foreground (at threshold {threshold})')
    if pairs.not_images:
        issues.append(f'{len(pairs.not_images)} files are not images and are ignored')

    report = dict(
        image_dir=img_dir, mask_dir=mask_dir, threshold=threshold,
        counts=dict(images=len(image_info), masks=len(mask_info), pairs=len(pairs.pairs),
                    images_without_mask=len(pairs.images_without_mask),
                    masks_without_image=len(pairs.masks_without_image),
                    ambiguous=len(pairs.ambiguous) + len(pairs.shared),
                    unreadable_images=len(image_info) - len(good_images),
                    unreadable_masks=len(mask_info) - len(good_masks),
                    size_mismatches=mismatches, not_images=len(pairs.not_images)),
        image_formats=dict(sorted(Counter(osp.splitext(p)[1].lower()
                                          for p in image_info).items())),
        image_size=dict(width=_summary([w for w, _ in sizes]),
                        height=_summary([h for _, h in sizes]),
                        aspect_ratio=_summary([w / h for w, h in sizes]),
                        distinct_sizes=len(set(sizes)),
                        most_common=[dict(width=w, height=h, count=c)
                                     for (w, h), c in Counter(sizes).most_common(5)]),
        masks=dict(binary=kinds['binary'], zero_one=kinds['zero_one'], grey=kinds['grey'],
                   empty=empty, full=sum(f == 1 for f in fg),
                   foreground_fraction=_summary(fg), value_histogram=histogram.tolist()),
        issues=issues,
        recommendations=recommendations(len(pairs.pairs), sizes, good_masks, threshold))
    os.makedirs(out_dir, exist_ok=True)
    write_bytes_atomic(osp.join(out_dir, 'report.json'),
                       json.dumps(report, indent=1).encode())
    _plot(sizes, fg, histogram, osp.join(out_dir, 'histograms.png'))

    counts = report['counts']
    print(f'{counts["images"]} images, {counts["masks"]} masks, {counts["pairs"]} pairs')
    if sizes:
        width, height = report['image_size']['width'], report['image_size']['height']
        print(f'image sizes: width {width["min"]:g}-{width["max"]:g} (median '
              f'{width["median"]:g}), height {height["min"]:g}-{height["max"]:g} (median '
              f'{height["median"]:g}), {len(set(sizes))} distinct')
    if fg:
        share = report['masks']['foreground_fraction']
        print(f'masks: {kinds["binary"]} binary, {kinds["zero_one"]} 0/1, {kinds["grey"]} grey; '
              f'foreground {100 * share["min"]:.1f}-{100 * share["max"]:.1f}% of the pixels '
              f'(mean {100 * share["mean"]:.1f}%)')
    for title, lines in (('issues', issues), ('recommendations', report['recommendations'])):
        print(f'{title}:' if lines else f'{title}: none')
        for line in lines:
            print(f'  - {line}')
    print(f'report written to {osp.join(out_dir, "report.json")} and '
          f'{osp.join(out_dir, "histograms.png")}')
    return report


def _plot(sizes: List[Tuple[int, int]], fg: List[float], histogram: np.ndarray,
          path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    axes[0, 0].hist([[w for w, _ in sizes], [h for _, h in sizes]], bins=20,
                    label=['width', 'height'])
    axes[0, 0].set(title='image size', xlabel='pixels', ylabel='images')
    axes[0, 0].legend()
    axes[0, 1].hist([w / h for w, h in sizes], bins=20)
    axes[0, 1].set(title='aspect ratio (W/H)', ylabel='images')
    axes[1, 0].hist(fg, bins=20, range=(0, 1))
    axes[1, 0].set(title='foreground fraction', ylabel='masks')
    axes[1, 1].bar(np.arange(256), histogram, width=1.0)
    axes[1, 1].set(title='mask grey values', xlabel='value', ylabel='pixels', yscale='log')
    fig.tight_layout()
    write_figure_atomic(path, fig)


# --------------------------------------------------------------------------------------------
# validate (--fix-issues)
# --------------------------------------------------------------------------------------------
def check_output_dir(out_dir: str, inputs: Sequence[str]) -> None:
    """``UsageError`` unless ``out_dir`` is new or empty and not nested with any input folder
    (neither inside one nor holding one)."""
    out = osp.realpath(out_dir)
    for folder in inputs:
        source = osp.realpath(folder)
        if out == source or out.startswith(source + os.sep) or source.startswith(out + os.sep):
            raise UsageError(f'output dir {out_dir} must not be, be inside or hold an input '
                             f'folder ({folder}): originals are never written')
    if osp.exists(out_dir) and (not osp.isdir(out_dir) or os.listdir(out_dir)):
        raise UsageError(f'output dir {out_dir} exists and is not empty: choose a new one')


def fix_copy(img_dir: str, mask_dir: str, out_dir: str, pairs: FolderPairs, image_info: dict,
             mask_info: dict, threshold: int) -> dict:
    """Write the fixed copy to ``out_dir/{images,masks}`` and ``fix_report.json``.

    Images are copied byte for byte; masks are binarised (0/1 masks: value 1 is foreground;
    others: ``>= threshold``), resized to their image (nearest) and written as 0/255
    ``masks/<image stem>.png``. Each file is written to a temporary file and renamed.

    Returns:
        dict: the report (``written``, ``fixed`` with the changes per mask, ``left_out`` with a
        reason per file).
    """
    left_out = [dict(path=p, reason='image without a mask') for p in pairs.images_without_mask]
    left_out += [dict(path=p, reason='mask without an image') for p in pairs.masks_without_image]
    for image, masks in pairs.ambiguous:
        left_out += [dict(path=p, reason=f'ambiguous masks for image {image}')
                     for p in [image] + masks]
    for mask, images in pairs.shared:
        left_out += [dict(path=p, reason=f'mask {mask} is named by several images')
                     for p in [mask] + images]
    stems = Counter(osp.splitext(osp.relpath(i, img_dir))[0] for i, _ in pairs.pairs)
    todo = []
    for image, mask in pairs.pairs:
        errors = [f'unreadable {what}: {p}' for what, p, info in
                  (('image', image, image_info[image]), ('mask', mask, mask_info[mask]))
                  if 'error' in info]
        stem = osp.splitext(osp.relpath(image, img_dir))[0]
        if stems[stem] > 1:
            errors.append(f'another image has the stem {stem!r}: the masks would collide')
        if errors:
            left_out += [dict(path=p, reason='; '.join(errors)) for p in (image, mask)]
        else:
            todo.append((image, mask, stem))

    fixed = []
    bar = ProgressBar(len(todo)) if todo else None
    for image, mask, stem in todo:
        with open(image, 'rb') as f:
            write_bytes_atomic(osp.join(out_dir, 'images', osp.relpath(image, img_dir)),
                               f.read())
        info, size = mask_info[mask], image_info[image]
        grey = read_grey_mask(mask)
        changes = []
        if info['kind'] == 'zero_one':
            binary = grey >= 1
            changes.append('0/1 values written as 0/255')
        else:
            binary = grey >= threshold
            if info['kind'] == 'grey':
                changes.append(f'binarised at {threshold}')
        if binary.shape != (size['height'], size['width']):
            binary = cv2.resize(binary.astype(np.uint8), (size['width'], size['height']),
                                interpolation=cv2.INTER_NEAREST).astype(bool)
            changes.append(f'resized from {info["width"]}x{info["height"]} to '
                           f'{size["width"]}x{size["height"]} (nearest)')
        out_mask = osp.join(out_dir, 'masks', stem + '.png')
        if osp.relpath(mask, mask_dir) != stem + '.png':
            changes.append(f'renamed to {stem}.png')
        write_image_atomic(out_mask, binary.astype(np.uint8) * 255)
        if changes:
            fixed.append(dict(image=image, mask=mask, output=out_mask, changes=changes))
        bar.update()
    if bar is not None:
        print()
    report = dict(image_dir=img_dir, mask_dir=mask_dir, threshold=threshold,
                  written=len(todo), fixed=fixed, left_out=left_out)
    write_bytes_atomic(osp.join(out_dir, 'fix_report.json'), json.dumps(report, indent=1).encode())
    return report


def validate(img_dir: str, mask_dir: str, threshold: int, fix_dir: Optional[str]) -> int:
    """Print every problem; with ``fix_dir`` write the fixed copy. Returns 1 if problems."""
    if fix_dir is not None:
        check_output_dir(fix_dir, (img_dir, mask_dir))
    pairs, image_info, mask_info = scan(img_dir, mask_dir, threshold)
    problems = find_problems(pairs, image_info, mask_info, threshold)
    for line in problems:
        print(line)
    for path in pairs.not_images:
        print(f'note: not an image file, ignored: {path}')
    if problems:
        print(f'{len(problems)} problems found ({len(pairs.pairs)} pairs of '
              f'{len(image_info)} images and {len(mask_info)} masks)')
    else:
        print(f'the dataset is valid: {len(pairs.pairs)} pairs')
    if fix_dir is not None:
        report = fix_copy(img_dir, mask_dir, fix_dir, pairs, image_info, mask_info, threshold)
        print(f'fixed copy written to {fix_dir}: {report["written"]} pairs '
              f'({len(report["fixed"])} masks changed)')
        for entry in report['left_out']:
            print(f'left out: {entry["path"]} ({entry["reason"]})')
        print(f'details in {osp.join(fix_dir, "fix_report.json")}')
    return 1 if problems else 0


# --------------------------------------------------------------------------------------------
# organize, create-sample
# --------------------------------------------------------------------------------------------
def source_folders(source_dir: str) -> List[Tuple[str, str]]:
    """The ``(images, masks)`` folders of a dataset root in either layout."""
    flat = (osp.join(source_dir, 'images'), osp.join(source_dir, 'masks'))
    if all(osp.isdir(p) for p in flat):
        return [flat]
    split = [(osp.join(source_dir, s, 'images'), osp.join(source_dir, s, 'masks'))
             for s in ('train', 'val')]
    if all(osp.isdir(p) for folders in split for p in folders):
        return split
    raise UsageError(f'{source_dir} has neither images/ + masks/ nor '
                     'train/{images,masks}/ + val/{images,masks}/')


def organize(source_dir: str, out_dir: str, train_split: float, seed: int) -> int:
    """Copy the pairs of ``source_dir`` into ``out_dir/{train,val}/{images,masks}``."""
    if not 0 < train_split < 1:
        raise UsageError(f'--train-split must be in (0, 1), got {train_split}')
    folders = source_folders(source_dir)
    check_output_dir(out_dir, [source_dir])
    items, problems, seen = [], [], {}
    for img_dir, mask_dir in folders:
        pairs = pair_images_with_masks(img_dir, mask_dir)
        problems += pairs.ambiguity_messages() + pairs.missing_messages()
        for image, mask in pairs.pairs:
            rel = osp.relpath(image, img_dir)
            if rel in seen:
                problems.append(f'two images named {rel}: {seen[rel]}, {image}')
            seen[rel] = image
            items.append((rel, image, osp.relpath(mask, mask_dir), mask))
    if problems:
        for line in problems:
            print(line)
        print(f'{len(problems)} problems: nothing written (fix them or run --action validate '
              '--fix-issues first)')
        return 1
    if len(items) < 2:
        print(f'{source_dir} holds {len(items)} pair(s): cannot split into train and val')
        return 1
    items.sort()
    parts = dict(zip(('train', 'val'), split_pairs(items, round(1 - train_split, 10), seed)))
    bar = ProgressBar(len(items))
    for split, part in parts.items():
        for rel, image, mask_rel, mask in part:
            for src, dst in ((image, osp.join(out_dir, split, 'images', rel)),
                             (mask, osp.join(out_dir, split, 'masks', mask_rel))):
                with open(src, 'rb') as f:
                    write_bytes_atomic(dst, f.read())
            bar.update()
    print()
    for split in parts:  # an empty split still gets its folders
        for sub in ('images', 'masks'):
            os.makedirs(osp.join(out_dir, split, sub), exist_ok=True)
    split_info = dict(source_dir=source_dir, train_split=train_split, seed=seed,
                      **{split: [item[0] for item in part] for split, part in parts.items()})
    write_bytes_atomic(osp.join(out_dir, 'split.json'), json.dumps(split_info, indent=1).encode())
    print(f'{len(parts["train"])} train and {len(parts["val"])} val pairs copied to {out_dir} '
          f'(seed {seed}); the list is in {osp.join(out_dir, "split.json")}')
    return 0


def create_sample(out_dir: str, num_samples: int, image_size: int, seed: int) -> int:
    """``num_samples`` synthetic scenes as ``images/sample_NNNN.jpg`` + ``masks/*.png`` (0/255).

    Scene ``i`` is drawn from ``np.random.default_rng([seed, i])``; scenes whose foreground
    is outside :data:`FG_RANGE` of the image are redrawn.
    """
    if num_samples < 1 or image_size < 16:
        raise UsageError('--num-samples must be >= 1 and --image-size >= 16')
    check_output_dir(out_dir, [])
    bar = ProgressBar(num_samples)
    for index in range(num_samples):
        rng = np.random.default_rng([seed, index])
        while True:
            image, gt, _, _ = render_scene(rng, (image_size, image_size))
            if FG_RANGE[0] <= gt.mean() <= FG_RANGE[1]:
                break
        name = f'sample_{index:04d}'
        _, data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        write_bytes_atomic(osp.join(out_dir, 'images', name + '.jpg'), data.tobytes())
        write_image_atomic(osp.join(out_dir, 'masks', name + '.png'), gt * 255)
        bar.update()
    print(f'\n{num_samples} samples of {image_size}x{image_size} written to '
          f'{osp.join(out_dir, "images")} and {osp.join(out_dir, "masks")} (seed {seed})')
    return 0


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]] = None) -> Tuple[argparse.ArgumentParser,
                                                               argparse.Namespace]:
    parser = argparse.ArgumentParser(prog='prepare_data.py', description=__doc__.split('\n')[0])
    parser.add_argument('--action', required=True, choices=ACTIONS)
    parser.add_argument('--image-dir', help='image folder (analyze, validate)')
    parser.add_argument('--mask-dir', help='mask folder (analyze, validate)')
    parser.add_argument('--source-dir', help='dataset root to split (organize): images/ + '
                        'masks/ or train/ + val/')
    parser.add_argument('--output-dir', help='report folder (analyze, default ./analysis), '
                        'fixed copy (validate --fix-issues), split dataset (organize) or sample '
                        'dataset (create-sample, default ./sample_data); a new or empty folder '
                        'except for analyze')
    parser.add_argument('--train-split', type=float, default=0.8,
                        help='fraction of the pairs for training (organize; default 0.8)')
    parser.add_argument('--num-samples', type=int, default=50,
                        help='number of synthetic samples (create-sample; default 50)')
    parser.add_argument('--image-size', type=int, default=256,
                        help='side of the synthetic samples (create-sample; default 256)')
    parser.add_argument('--fix-issues', action='store_true',
                        help='write a fixed copy of the dataset to --output-dir (validate)')
    parser.add_argument('--threshold', type=int, default=128,
                        help='grey value from which a mask pixel is foreground (default 128, '
                        'as SegFolderDataset\'s mask_threshold)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the split (organize) or of the scenes (create-sample)')
    args = parser.parse_args(argv)
    if not 1 <= args.threshold <= 255:
        parser.error('--threshold must be in 1-255')
    if args.action in ('analyze', 'validate') and not (args.image_dir and args.mask_dir):
        parser.error(f'--action {args.action} needs --image-dir and --mask-dir')
    if args.action == 'validate' and args.fix_issues and not args.output_dir:
        parser.error('--fix-issues needs --output-dir (the fixed copy; originals are kept)')
    if args.action == 'organize' and not (args.source_dir and args.output_dir):
        parser.error('--action organize needs --source-dir and --output-dir')
    return parser, args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the tool; returns the exit status (see the module docstring)."""
    parser, args = parse_args(argv)
    try:
        if args.action == 'analyze':
            analyze(args.image_dir, args.mask_dir, args.output_dir or 'analysis', args.threshold)
            return 0
        if args.action == 'validate':
            return validate(args.image_dir, args.mask_dir, args.threshold,
                            args.output_dir if args.fix_issues else None)
        if args.action == 'organize':
            return organize(args.source_dir, args.output_dir, args.train_split, args.seed)
        return create_sample(args.output_dir or 'sample_data', args.num_samples,
                             args.image_size, args.seed)
    except (UsageError, ValueError) as error:
        print(f'{parser.prog}: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
