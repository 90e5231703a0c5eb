"""Peak memory of the pixel-classifier training in the Horse-21 setting (30 images of 256², 8448
features per pixel), against the original's all-pixels-in-RAM design.

The segmentor of ``configs/ddpm_features/ddpm-features_*_horse-21-256x256.py`` trains on a
pixel pool per image batch (``train_cfg.max_pixels``, ``feature_dtype``). This script measures
the process's peak resident memory (``ru_maxrss``) while it builds the pools of one epoch
(15 batches of 2 images, or ``--batches``: every labelled pixel, fp16) and runs ``--steps``
pixel batches of the 10 MLPs on each, and prints it beside the original's peak computed from
its code (``X`` of N·D·H·W float32 and the permuted copy its reshape makes: 2·N·H·W·D·4 bytes).

By default the UNet is replaced by its activations: random tensors of the exact shapes the
released UNet gives (found by running the released-size extractor on the meta device), so the
measurement needs no checkpoint and no hour of CPU forward passes; ``--unet`` builds the
released-size UNet with random weights and runs it (GPU: ``--device cuda``, also timed, with
``--autocast float16``). Run::

    python benchmarks/bench_ddpm_features.py [--steps 50] [--max-pixels N] [--unet]
        [--device cuda --autocast float16]

One run; the numbers are those of this machine.
"""
import argparse
import resource
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from segrefiner.models.backbones.ddpm_feature_extractor import DDPMFeatureExtractor

ROOT_CONFIG = str(Path(__file__).resolve().parents[1] / 'configs' / 'ddpm_features' /
                  'ddpm-features_guided-unet-lsun-horse_1xb2-100e_horse-21-256x256.py')
NUM_IMAGES, SIZE, BATCH = 30, 256, 2
GB = 1e9  # decimal gigabytes


def peak_rss_gb() -> float:
    """The process's peak resident set size so far (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


def activation_shapes(cfg: Config) -> List[torch.Size]:
    """The (1, C, h, w) activation shapes of the released-size extractor (meta device)."""
    with torch.device('meta'):
        backbone = MODELS.build(dict(cfg.model.backbone, checkpoint=None, autocast_dtype=None))
        backbone.diffusion.to('meta')  # its schedule is made from numpy, on the CPU
        return [a.shape for a in backbone.extract(torch.zeros(1, 3, SIZE, SIZE))]


class StandInExtractor(nn.Module):
    """The released extractor's activations without its UNet: random (B, C, h, w) tensors of
    the given shapes; ``sample`` is :meth:`DDPMFeatureExtractor.sample`."""

    sample = staticmethod(DDPMFeatureExtractor.sample)

    def __init__(self, shapes: List[torch.Size]) -> None:
        super().__init__()
        self.shapes = shapes
        self.feature_channels = sum(s[1] for s in shapes)

    def extract(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        return [torch.randn((inputs.shape[0], *s[1:]), device=inputs.device)
                for s in self.shapes]


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=50,
                        help='pixel batches of the 10 MLPs run on each pool')
    parser.add_argument('--batches', type=int, default=NUM_IMAGES // BATCH,
                        help='image batches to run (default: one epoch, 15)')
    parser.add_argument('--max-pixels', type=int, default=None,
                        help='train_cfg.max_pixels (default: the config\'s, every pixel)')
    parser.add_argument('--unet', action='store_true',
                        help='build and run the released-size UNet (random weights)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--autocast', default=None, choices=['float16', 'bfloat16'])
    args = parser.parse_args(argv)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(ROOT_CONFIG)
    shapes = activation_shapes(cfg)
    dim = sum(s[1] for s in shapes)
    base = peak_rss_gb()
    train_cfg = dict(cfg.model.train_cfg)
    if args.max_pixels is not None:
        train_cfg['max_pixels'] = args.max_pixels
    model_cfg = dict(cfg.model, train_cfg=train_cfg)
    model_cfg['backbone'] = dict(cfg.model.backbone, checkpoint=None,
                                 autocast_dtype=args.autocast)
    if not args.unet:  # a 1-level stand-in UNet, replaced below by the released shapes
        model_cfg['backbone']['unet'] = dict(type='GuidedDiffusionUNet', image_size=32,
                                             num_channels=32, num_res_blocks=1,
                                             channel_mult='1', attention_resolutions='')
        model_cfg['backbone']['blocks'] = (0, )
        model_cfg['classifier'] = dict(cfg.model.classifier, in_channels=dim)
    model = MODELS.build(model_cfg).to(args.device)
    if not args.unet:
        model.backbone = StandInExtractor(shapes)
    after_build = peak_rss_gb()
    optimizer = torch.optim.Adam(model.classifier.parameters(), lr=1e-3)
    pool_gb, step_times, extract_times = 0.0, [], []
    for batch in range(args.batches):
        inputs = torch.rand(BATCH, 3, SIZE, SIZE, device=args.device) * 2 - 1
        samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(
            0, 21, (1, SIZE, SIZE), device=args.device))) for _ in range(BATCH)]
        start = time.perf_counter()
        features, labels = model.pixel_pool(inputs, samples)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        extract_times.append(time.perf_counter() - start)
        pool_gb = max(pool_gb, features.nbytes / GB)
        for step, indices in enumerate(model.classifier.batches(labels.numel())):
            if step == args.steps:
                break
            start = time.perf_counter()
            losses = model.classifier.loss(features, labels, indices.to(labels.device))
            optimizer.zero_grad()
            losses['loss_ce'].backward()
            optimizer.step()
            step_times.append(time.perf_counter() - start)
        del features, labels
        print(f'batch {batch + 1}/{args.batches}: peak RSS {peak_rss_gb():.2f} GB',
              file=sys.stderr)
    original = 2 * NUM_IMAGES * SIZE * SIZE * dim * 4 / GB
    print(f'Horse-21 setting: {NUM_IMAGES} images of {SIZE}x{SIZE}, D = {dim} features, '
          f'{args.batches} batches of {BATCH} images, max_pixels = {train_cfg["max_pixels"]}, '
          f'features in {train_cfg["feature_dtype"]}, UNet '
          f'{"run (random weights)" if args.unet else "replaced by its activation shapes"}, '
          f'device {args.device}')
    print('| quantity | value |')
    print('|---|---|')
    print(f'| peak RSS after imports | {base:.2f} GB |')
    print(f'| peak RSS after building the model | {after_build:.2f} GB |')
    print(f'| largest pixel pool (measured tensor) | {pool_gb:.2f} GB |')
    print(f'| peak RSS over the epoch (measured) | {peak_rss_gb():.2f} GB |')
    if args.device.startswith('cuda'):
        print(f'| peak CUDA memory | {torch.cuda.max_memory_allocated() / GB:.2f} GB |')
    print(f'| original: X + its permuted copy, 2·N·H·W·D·4 B (computed) | {original:.1f} GB |')
    print(f'| pool + pixel gathering per batch of {BATCH} images | '
          f'{sum(extract_times) / len(extract_times):.2f} s |')
    print(f'| one step of the 10 MLPs (64 pixels each) | '
          f'{1000 * sum(step_times) / len(step_times):.1f} ms |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
