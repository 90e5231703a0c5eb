"""Sampling time and quality of a trained DiffusionSegmentor against steps and ensemble size.

Prints one table: for DDPM over all T steps, DDIM over 50 / 20 / 10 steps and DDIM ensembles of
3 and 5 samples, the sampling time per image (wall clock of ``predict`` on preprocessed
batches, data loading excluded), the foreground IoU and Dice pooled over the images (mmseg's
``IoUMetric`` counts: its per-class foreground value), the foreground boundary F at 2 px
(``BoundaryF1Metric``) and the mean ``uncertainty``. A baseline segmentor (e.g. the UNet of
``configs/diffseg/unet-*.py``) can add its row, measured the same way. Run::

    python benchmarks/bench_diffseg.py CONFIG CHECKPOINT \
        [--baseline-config CFG --baseline-checkpoint CKPT] [--num-images N] [--batch-size 8]

Every row is one seeded run (``--seed``) over the first ``--num-images`` images of the config's
test set.
"""
import argparse
import contextlib
import logging
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS

from segrefiner.apis import init_refiner
from segrefiner.evaluation import BoundaryF1Metric

#: (label, test_cfg overrides): the rows of the table, baseline first when given.
SETTINGS = [
    ('DDPM', dict(sampler='ddpm', num_steps=None, num_samples=1)),
    ('DDIM', dict(sampler='ddim', num_steps=50, num_samples=1)),
    ('DDIM', dict(sampler='ddim', num_steps=20, num_samples=1)),
    ('DDIM', dict(sampler='ddim', num_steps=10, num_samples=1)),
    ('DDIM ensemble', dict(sampler='ddim', num_steps=50, num_samples=3)),
    ('DDIM ensemble', dict(sampler='ddim', num_steps=50, num_samples=5)),
]


def load_batches(cfg, num_images: Optional[int], batch_size: int) -> List[dict]:
    """The config's test images through its test pipeline, as collated batches."""
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    count = len(dataset) if num_images is None else min(num_images, len(dataset))
    items = [dataset[i] for i in range(count)]
    return [pseudo_collate(items[i:i + batch_size]) for i in range(0, count, batch_size)]


@contextlib.contextmanager
def quiet_log():
    """Hold back mmengine's INFO messages (the metrics' per-class tables) for the block."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def evaluate(model: torch.nn.Module, batches: Sequence[dict],
             test_cfg: Optional[dict] = None) -> Dict[str, float]:
    """Seconds per image and the foreground scores of one pass over ``batches``.

    ``test_cfg`` (a DiffusionSegmentor's merged test config) is handed to ``predict``; None
    calls the model in ``'predict'`` mode with its own settings (the baseline).
    """
    iou = IoUMetric(iou_metrics=['mIoU'])
    boundary = BoundaryF1Metric(bound_th=2, class_ids=[1])
    for metric in (iou, boundary):
        metric.dataset_meta = dict(classes=('background', 'foreground'))
    seconds, images, uncertainty = 0.0, 0, []
    with torch.no_grad():
        for batch in batches:
            data = model.data_preprocessor(batch, False)
            start = time.perf_counter()
            if test_cfg is None:
                results = model(**data, mode='predict')
            else:
                results = model.predict(data['inputs'], data['data_samples'], test_cfg)
            seconds += time.perf_counter() - start
            images += len(results)
            outputs = [r.to_dict() for r in results]
            iou.process([], outputs)
            boundary.process([], outputs)
            uncertainty += [float(r.uncertainty.data.mean()) for r in results
                            if 'uncertainty' in r]
    inter, union, pred, label = (torch.stack([r[k] for r in iou.results]).sum(0)[1]
                                 for k in range(4))
    with quiet_log():
        bf = boundary.compute_metrics(boundary.results)['mBF']
    return dict(seconds=seconds / images,
                iou=100 * float(inter / union),
                dice=100 * float(2 * inter / (pred + label)),
                bf=bf,
                uncertainty=(sum(uncertainty) / len(uncertainty)) if uncertainty else None)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='DiffusionSegmentor config')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--baseline-config', help='a baseline segmentor config')
    parser.add_argument('--baseline-checkpoint', help='the baseline checkpoint')
    parser.add_argument('--num-images', type=int, help='first N test images (default all)')
    parser.add_argument('--batch-size', type=int, default=8, help='images per predict call')
    parser.add_argument('--seed', type=int, default=0, help='sampling seed of every row')
    parser.add_argument('--threads', type=int, help='torch intra-op threads')
    args = parser.parse_args(argv)
    if (args.baseline_config is None) != (args.baseline_checkpoint is None):
        parser.error('--baseline-config and --baseline-checkpoint go together')
    if args.threads:
        torch.set_num_threads(args.threads)

    model = init_refiner(args.config, args.checkpoint)
    batches = load_batches(model.cfg, args.num_images, args.batch_size)
    count = sum(len(b['inputs']) for b in batches)
    rows = []
    if args.baseline_config:
        baseline = init_refiner(args.baseline_config, args.baseline_checkpoint)
        rows.append(('baseline', '-', '-', evaluate(baseline, load_batches(
            baseline.cfg, args.num_images, args.batch_size))))
    for label, overrides in SETTINGS:
        cfg = model.merge_test_cfg(dict(overrides, seed=args.seed), model.test_cfg)
        steps = len(model.decode_head.reverse_timesteps(cfg.sampler, cfg.num_steps))
        rows.append((label, steps, cfg.num_samples, evaluate(model, batches, cfg)))
        print(f'{label} {steps} steps x {cfg.num_samples}: done', file=sys.stderr, flush=True)

    print(f'\n{args.config}, {count} images, batch {args.batch_size}, '
          f'{torch.get_num_threads()} thread(s), seed {args.seed} (one run per row)')
    print('| sampler | steps | samples | s / image | fg IoU | fg Dice | fg BF@2px | '
          'mean uncertainty |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    for label, steps, samples, m in rows:
        unc = '-' if m['uncertainty'] is None else f'{m["uncertainty"]:.4f}'
        print(f'| {label} | {steps} | {samples} | {m["seconds"]:.3f} | {m["iou"]:.2f} | '
              f'{m["dice"]:.2f} | {m["bf"]:.2f} | {unc} |')


if __name__ == '__main__':
    main()
