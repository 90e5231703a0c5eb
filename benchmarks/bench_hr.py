"""HR refinement ('hr' mode) of a 2048×1536 image: time, network evaluations, boundary length.

The number of patches depends on where the network is unsure, which a randomly initialised
network does not model. The patch decisions are therefore made by a *stand-in* denoiser that
behaves like a trained one: a confident copy of its mask input except within ``--band`` grid
pixels of the mask's edges (F stays low there). The real network runs on every input next to
it (its output is discarded), so the measured wall time is that of real inference with
realistic patch counts:

* ``demo net``: end-to-end seconds with the CPU demo denoiser (segrefiner_demo_cpu.py) at 256²;
* ``released net (est.)``: HR overhead (resizing, proposals, NMS, crops, merging; measured with
  the stand-in alone) plus evaluations × the released 118.6M denoiser's per-sample latency at
  256², measured in the same run (fp32, batch 1).

Rows: objects of growing boundary length (an ellipse, stars with more and more spikes, a
cluster of stars) with a coarse mask from a 1/16-resolution semantic head; the last row caps the
patches (``max_patches``). Evaluations = 5 global + 1 per patch (batched by ``batch_max``);
calls = denoiser calls. Patches grow with the boundary's extent: along a smooth outline one patch
covers ~138 px (the NMS spacing at ``iou_thr`` 0.3), a wiggly one packs more boundary into it.

    python benchmarks/bench_hr.py [--threads 2] [--released-repeats 2] [--max-patches 16]
"""
import argparse
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import nn

from segrefiner.apis import init_refiner
from segrefiner.datasets.transforms import resample_mask

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
HEIGHT, WIDTH = 1536, 2048
#: The HR settings of configs/segrefiner/segrefiner_hr.py.
HR_TEST_CFG = Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_hr.py')
                              ).model.test_cfg.to_dict()


class BoundaryStandIn(nn.Module):
    """Confident copy of the mask input except near its edges; optionally runs ``real`` too.

    Args:
        real (nn.Module, optional): denoiser run on the same inputs, for timing.
        band (int): half-width, in input pixels, of the unsure band around mask edges.
    """

    def __init__(self, real: Optional[nn.Module] = None, band: int = 2) -> None:
        super().__init__()
        self.real = real
        self.band = band
        self.batches: List[int] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        if self.real is not None:
            self.real(x, t)
        mask = x[:, 3:].float()
        size = 2 * self.band + 1
        dilated = F.max_pool2d(mask, size, 1, self.band)
        eroded = -F.max_pool2d(-mask, size, 1, self.band)
        edge = dilated - eroded
        return (mask - 0.5) * (40 * (1 - edge) + 0.2 * edge)


def star(mask: np.ndarray, centre, radius: float, spikes: int, depth: float = 0.45) -> None:
    """Draw a filled star (an ellipse-like blob for ``spikes=0``) into ``mask``."""
    theta = np.linspace(0, 2 * np.pi, max(4 * spikes, 360), endpoint=False)
    r = radius * (1 - depth * 0.5 * (1 + np.cos(spikes * theta))) if spikes else radius
    pts = np.stack([centre[0] + 1.3 * r * np.cos(theta), centre[1] + r * np.sin(theta)], 1)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)


def scenes() -> Dict[str, np.ndarray]:
    """GT masks (H, W) uint8 of growing boundary length."""
    out = {}
    for name, spikes in (('ellipse', 0), ('star 12', 12), ('star 40', 40)):
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        star(mask, (WIDTH // 2, HEIGHT // 2), 520, spikes)
        out[name] = mask
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    for cx in (400, 1024, 1650):
        for cy in (380, 1150):
            star(mask, (cx, cy), 230, 24)
    out['6 stars 24'] = mask
    return out


def boundary_length(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return sum(cv2.arcLength(c, True) for c in contours)


def refine(model, denoiser: BoundaryStandIn, image: torch.Tensor, coarse: np.ndarray,
           max_patches: Optional[int]) -> float:
    """Seconds for one HR refinement of (image, coarse) (preprocessing included)."""
    model.decode_head.denoiser = denoiser
    sample = SegDataSample(metainfo=dict(img_shape=(HEIGHT, WIDTH), ori_shape=(HEIGHT, WIDTH)))
    sample.coarse_sem_seg = PixelData(data=torch.from_numpy(coarse[None].astype(np.int64)))
    test_cfg = dict(HR_TEST_CFG, max_patches=max_patches)
    start = time.perf_counter()
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        model.predict(data['inputs'], data['data_samples'], test_cfg=test_cfg,
                      generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - start


def released_latency(repeats: int) -> Optional[float]:
    """Median seconds of one 256² forward (batch 1, fp32) of the released denoiser."""
    if repeats < 1:
        return None
    model = init_refiner(Config.fromfile(osp.join(ROOT, 'configs/_base_/models/segrefiner.py')))
    net = model.decode_head.denoiser
    x, t = torch.randn(1, 4, 256, 256), torch.tensor([5])
    times = []
    with torch.no_grad():
        net(x, t)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            net(x, t)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--band', type=int, default=2,
                        help='stand-in unsure band half-width at the 256² grid (default 2)')
    parser.add_argument('--max-patches', type=int, default=16, help='cap of the last row')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs of the overhead (median; default 3)')
    parser.add_argument('--released-repeats', type=int, default=2,
                        help='timed forwards of the released denoiser (0: skip it)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = init_refiner(
        Config.fromfile(osp.join(ROOT, 'configs/segrefiner/segrefiner_demo_cpu.py')))
    demo_net = model.decode_head.denoiser
    image = torch.from_numpy(np.random.default_rng(0).integers(
        0, 256, (3, HEIGHT, WIDTH), dtype=np.uint8))
    rows = []
    runs = [(name, gt, None) for name, gt in scenes().items()]
    runs.append((runs[-1][0] + f', max_patches={args.max_patches}', runs[-1][1],
                 args.max_patches))
    for name, gt, cap in runs:
        coarse = resample_mask(gt, (HEIGHT // 16, WIDTH // 16))
        overheads = []
        for _ in range(args.repeats):
            stand_in = BoundaryStandIn(None, args.band)
            overheads.append(refine(model, stand_in, image, coarse, cap))
        overhead = statistics.median(overheads)
        with_demo = BoundaryStandIn(demo_net, args.band)
        demo_seconds = refine(model, with_demo, image, coarse, cap)
        batches = stand_in.batches
        assert with_demo.batches == batches
        rows.append((name, boundary_length(coarse), sum(batches) - 5, sum(batches),
                     len(batches), overhead, demo_seconds))

    latency = released_latency(args.released_repeats)
    print(f'{HEIGHT}x{WIDTH} (HxW) image, torch threads {args.threads}, stand-in band '
          f'{args.band}; released denoiser 256² fp32 batch 1: '
          + (f'{latency:.2f} s/forward' if latency else 'not measured'))
    header = (f'| {"object":<28} | {"boundary px":>11} | {"patches":>7} | {"px/patch":>8} | '
              f'{"evals":>5} | {"calls":>5} | {"overhead s":>10} | {"demo net s":>10} | '
              f'{"released net s (est.)":>21} |')
    print(header)
    print('|' + '|'.join('-' * (len(c)) for c in header.split('|')[1:-1]) + '|')
    for name, length, patches, evals, calls, overhead, demo_seconds in rows:
        released = f'{overhead + evals * latency:.0f}' if latency else '-'
        print(f'| {name:<28} | {length:>11.0f} | {patches:>7d} | {length / patches:>8.0f} | '
              f'{evals:>5d} | {calls:>5d} | {overhead:>10.2f} | {demo_seconds:>10.2f} | '
              f'{released:>21} |')


if __name__ == '__main__':
    main()
