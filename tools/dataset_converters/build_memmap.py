"""Write the memory-mapped training files of a split (images and masks resized, float16).

Example::

    python tools/dataset_converters/build_memmap.py \
        configs/query_seg/query-seg_darknet53_8xb20-50e_p3m10k-supervisely-640x640.py \
        --split train

The config names what to convert: ``memmap_sources[split]`` is a dataset config (e.g. the
``ConcatDataset`` of P3M-10k train and Supervisely Person) whose pipeline loads and resizes a
sample (image and ``gt_seg_map`` at ``memmap_size``), and ``memmap_root`` the output folder. The
run writes ``{split}_{size}_fp16_images.mmap``, ``{split}_{size}_fp16_masks.mmap`` and the header
``{split}_{size}_fp16.json`` (format in :mod:`segrefiner.datasets.memmap_seg`).

Resumable and atomic: the maps are written as ``*.mmap.partial`` with a progress sidecar
``{stem}.progress.json`` (the samples written, updated after each flush); a killed run is
continued by running the same command again. The maps get their names and the header is written
only once every sample is in; an existing complete set is kept unless ``--overwrite``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

from segrefiner.datasets.memmap_seg import MEMMAP_FORMAT, memmap_files, memmap_stem  # noqa: E402
from segrefiner.utils.compat import filter_stack_warnings  # noqa: E402
from segrefiner.utils.io import write_bytes_atomic  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with memmap_sources, memmap_root, memmap_size')
    parser.add_argument('--split', required=True, help='key of memmap_sources, e.g. train')
    parser.add_argument('--out-dir', help='output folder (default: the config\'s memmap_root)')
    parser.add_argument('--flush-every', type=int, default=64,
                        help='samples between flushes of the maps and the progress file')
    parser.add_argument('--overwrite', action='store_true',
                        help='rebuild a complete set of maps, or restart a partial one')
    return parser.parse_args(argv)


def write_json_atomic(path: str, data: dict) -> None:
    """``data`` as indented JSON, written atomically."""
    write_bytes_atomic(path, json.dumps(data, indent=1).encode('utf-8'))


def sample_arrays(results: dict, size, source: str):
    """The (H, W, 3) float16 RGB image in [0, 1] and the (H, W) float16 labels of a loaded and
    resized sample; ``ValueError`` naming ``source`` unless both have the size (H, W)."""
    img, label = results['img'], results['gt_seg_map']
    if img.shape[:2] != tuple(size) or label.shape != tuple(size):
        raise ValueError(f'{source}: the pipeline gave an image of {img.shape[:2]} and a mask '
                         f'of {label.shape}, not memmap_size {tuple(size)} (end the source '
                         f'pipeline with Resize(scale=(W, H), keep_ratio=False))')
    rgb = img[..., ::-1].astype(np.float32) / 255
    return rgb.astype(np.float16), label.astype(np.float16)


def build(dataset, out_dir: str, stem: str, size, flush_every: int = 64,
          overwrite: bool = False, file=None) -> str:
    """Convert every sample of ``dataset`` into the maps of ``stem`` (see the module docstring).

    Args:
        dataset: an mmseg dataset whose items are result dicts with ``img`` (H, W, 3) uint8 BGR
            and ``gt_seg_map`` (H, W) at ``size`` (a loading + resizing pipeline, no packing).
        out_dir (str): output folder.
        stem (str): file stem, e.g. ``train_640_fp16``.
        size (tuple[int, int]): (H, W) of the samples.
        flush_every (int): samples between flushes and progress updates.
        overwrite (bool): rebuild a complete set; restart a partial one.
        file: stream of the progress bar. Defaults to ``sys.stdout``.

    Returns:
        str: the header's path.

    Raises:
        ValueError: a partial run of other sources or shape is there (``overwrite`` restarts
            it), or a sample has the wrong size.
    """
    files = memmap_files(out_dir, stem)
    partial = {key: files[key] + '.partial' for key in ('images', 'masks')}
    progress_path = osp.join(out_dir, f'{stem}.progress.json')
    if osp.exists(files['header']) and not overwrite:
        print(f'{files["header"]} exists (complete); --overwrite rebuilds it', file=file)
        return files['header']
    os.makedirs(out_dir, exist_ok=True)
    num = len(dataset)
    height, width = size
    sources = [dict(img_path=dataset.get_data_info(i)['img_path'],
                    seg_map_path=dataset.get_data_info(i).get('seg_map_path'))
               for i in range(num)]
    shapes = dict(images=(num, height, width, 3), masks=(num, height, width))
    job = dict(stem=stem, shapes={k: list(v) for k, v in shapes.items()}, sources=sources)

    done = 0
    resumable = (not overwrite and osp.exists(progress_path)
                 and all(osp.exists(p) for p in partial.values()))
    if resumable:
        with open(progress_path, encoding='utf-8') as f:
            progress = json.load(f)
        if progress['job'] != job:
            raise ValueError(f'{progress_path}: a partial run of other sources or shape is in '
                             f'{out_dir}; --overwrite restarts it')
        done = progress['done']
    for path in (files['header'], progress_path) if not resumable else ():
        if osp.exists(path):
            os.remove(path)
    mode = 'r+' if resumable else 'w+'
    maps = {key: np.memmap(partial[key], dtype=np.float16, mode=mode, shape=shapes[key])
            for key in ('images', 'masks')}

    def checkpoint(count: int) -> None:
        for array in maps.values():
            array.flush()
        write_json_atomic(progress_path, dict(job=job, done=count))

    if done:
        print(f'resuming {stem} at sample {done}/{num}', file=file)
    bar = ProgressBar(num - done, file=file or sys.stdout)
    for i in range(done, num):
        results = dataset[i]
        maps['images'][i], maps['masks'][i] = sample_arrays(results, size, sources[i]['img_path'])
        bar.update()
        if (i + 1) % flush_every == 0:
            checkpoint(i + 1)
    checkpoint(num)
    del maps
    for key in ('masks', 'images'):
        os.replace(partial[key], files[key])
    header = dict(format=MEMMAP_FORMAT, num_samples=num, size=[height, width],
                  images=dict(file=osp.basename(files['images']), shape=list(shapes['images']),
                              dtype='float16', layout='NHWC', channel_order='rgb',
                              value_range=[0, 1]),
                  masks=dict(file=osp.basename(files['masks']), shape=list(shapes['masks']),
                             dtype='float16', values='class labels'),
                  classes=list(dataset.metainfo['classes']), sources=sources)
    write_json_atomic(files['header'], header)
    os.remove(progress_path)
    print(f'\nwrote {num} samples: {files["images"]}, {files["masks"]}, {files["header"]}',
          file=file)
    return files['header']


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    filter_stack_warnings()
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    for key in ('memmap_sources', 'memmap_root', 'memmap_size'):
        if key not in cfg:
            print(f'error: {args.config} has no {key}', file=sys.stderr)
            return 2
    if args.split not in cfg.memmap_sources:
        print(f'error: no memmap_sources[{args.split!r}] in {args.config} (has '
              f'{sorted(cfg.memmap_sources)})', file=sys.stderr)
        return 2
    size = tuple(cfg.memmap_size)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset = DATASETS.build(cfg.memmap_sources[args.split])
    build(dataset, args.out_dir or cfg.memmap_root, memmap_stem(args.split, size), size,
          args.flush_every, args.overwrite)
    return 0


if __name__ == '__main__':
    sys.exit(main())
