"""Per-component inference time, parameters and GFLOPs of the query segmenter (the seed's
timing script, test.py: backbone, FPN, decoder, and the post-processing).

Example::

    python benchmarks/bench_query_seg.py                       # CPU, 640x640, fp32
    python benchmarks/bench_query_seg.py --device cuda --amp   # GPU rows in fp32 and AMP

Prints one Markdown table: a row per component (and the whole model), with the median time of
``--repeats`` passes after ``--warmup`` passes (torch.no_grad, batch ``--batch``), the parameter
count and the forward GFLOPs (mmengine's ``FlopAnalyzer``; one multiply-add = one FLOP, the
convention of mmengine and fvcore). Progress goes to stderr. The weights are random: the time
does not depend on them.
"""
import argparse
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import segrefiner  # noqa: F401
from segrefiner.apis.query_seg import segment_class_on_image
from segrefiner.utils.compat import filter_stack_warnings

DEFAULT_CONFIG = 'configs/_base_/models/query_seg.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='config with the model')
    parser.add_argument('--size', type=int, default=640, help='input side (default 640)')
    parser.add_argument('--batch', type=int, default=1, help='images per pass')
    parser.add_argument('--repeats', type=int, default=5, help='timed passes')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes first')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--amp', action='store_true', help='also time under float16 autocast')
    parser.add_argument('--threads', type=int, help='torch intra-op threads (CPU)')
    return parser.parse_args(argv)


def median_ms(fn: Callable[[], object], repeats: int, warmup: int, device: str) -> float:
    """Median wall time of ``fn()`` in milliseconds (CUDA synchronised around each pass)."""
    times = []
    for i in range(warmup + repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def gflops(module: torch.nn.Module, inputs: tuple) -> float:
    """Forward GFLOPs (multiply-adds) of ``module(*inputs)``."""
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total() / 1e9


def params_m(module: torch.nn.Module) -> float:
    """Parameters in millions."""
    return sum(p.numel() for p in module.parameters()) / 1e6


class _Decoder(torch.nn.Module):
    """The head's forward and the bilinear up-sampling of the last layer's masks."""

    def __init__(self, model: torch.nn.Module, size: int) -> None:
        super().__init__()
        self.head = model.decode_head
        self.size = (size, size)

    def forward(self, feats):
        cls_scores, mask_preds = self.head(feats)
        return cls_scores[-1], self.head.upsample(mask_preds[-1], self.size)


def run(args: argparse.Namespace) -> List[Dict[str, object]]:
    """The table rows: component, precision, time (ms), params (M), GFLOPs."""
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(args.config).model).to(args.device).eval()
    x = torch.rand(args.batch, 3, args.size, args.size, device=args.device)
    decoder = _Decoder(model, args.size)
    image = np.zeros((args.size, args.size, 3), np.uint8)
    with torch.no_grad():
        feats = model.backbone(x)
        pyramid = model.neck(feats)
        pred_logits, pred_masks = decoder(pyramid)
        complexity = dict(backbone=(params_m(model.backbone), gflops(model.backbone, (x, ))),
                          fpn=(params_m(model.neck), gflops(model.neck, (feats, ))),
                          decoder=(params_m(decoder), gflops(decoder, (pyramid, ))))
    complexity['post-processing'] = (0.0, None)
    complexity['whole model'] = (params_m(model), sum(c[1] for c in complexity.values()
                                                      if c[1] is not None))
    steps = {
        'backbone': lambda: model.backbone(x),
        'fpn': lambda: model.neck(feats),
        'decoder': lambda: decoder(pyramid),
        'post-processing': lambda: segment_class_on_image(
            pred_logits[0].float().cpu(), pred_masks[0].float().cpu(), image, class_id=1),
        'whole model': lambda: model(x, mode='tensor'),
    }
    precisions = ['fp32'] + (['amp'] if args.amp else [])
    rows = []
    for precision in precisions:
        for name, fn in steps.items():
            print(f'timing {name} ({precision})', file=sys.stderr)
            autocast = torch.autocast(device_type=args.device.split(':')[0],
                                      dtype=torch.float16, enabled=precision == 'amp')
            with torch.no_grad(), autocast:
                ms = median_ms(fn, args.repeats, args.warmup, args.device)
            params, flops = complexity[name]
            rows.append(dict(component=name, precision=precision, ms=ms, params=params,
                             gflops=flops))
    return rows


def table(rows: List[Dict[str, object]], args: argparse.Namespace) -> str:
    """The Markdown table."""
    device = (torch.cuda.get_device_name(args.device) if args.device.startswith('cuda')
              else f'CPU, {torch.get_num_threads()} thread(s)')
    lines = [f'{args.size}x{args.size}, batch {args.batch}, {device}, median of {args.repeats}',
             '',
             '| component | precision | time (ms) | params (M) | GFLOPs |',
             '|---|---|---:|---:|---:|']
    for row in rows:
        flops = '—' if row['gflops'] is None else f'{row["gflops"]:.2f}'
        lines.append(f'| {row["component"]} | {row["precision"]} | {row["ms"]:.1f} | '
                     f'{row["params"]:.2f} | {flops} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    filter_stack_warnings()
    args = parse_args(argv)
    if args.amp and not args.device.startswith('cuda'):
        print('error: --amp times float16 autocast on a GPU (--device cuda)', file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    print(table(run(args), args))
    return 0


if __name__ == '__main__':
    sys.exit(main())
