"""Mask AP and boundary AP of instance results (COCO results JSON) against an LVIS-format GT.

SegRefiner's ``scripts/eval_json.py`` (``docs/metrics.md``, 'Mask AP and boundary AP'), without
its pitfalls: the
default GT is the file ``scripts/lvis2coco.py`` writes, nothing is cached (no ``--dt_out``), and
detections whose image or category is not in the GT are reported (how many, which ids) before
they are skipped.

* mask AP (``--iou-type segm``): the ``lvis`` package's ``LVISEval``;
* boundary AP (``--iou-type boundary``): the LVIS challenge 2021 definition, matching on
  ``min(mask IoU, boundary IoU)`` with boundaries of width ``--dilation-ratio`` × image diagonal
  (:class:`segrefiner.evaluation.instance.LVISInstanceEval`).

A detection's area (APs/APm/APl) is, as in the LVIS API, the area ``w·h`` of its ``bbox``
(``--det-area box``, the default; the mask area for a detection without one) or the area of its
mask (``--det-area mask``).

Usage::

    python scripts/eval_json.py --dt work_dirs/maskrcnn_refined.segm.json \\
        [--gt data/lvis/annotations/lvis_v1_val_cocofied.json] [--iou-type segm boundary] \\
        [--max-dets 300] [--dilation-ratio 0.02] [--det-area box] [--json metrics.json]

Exit status: 0 on success, 2 when an input cannot be evaluated (the message says why).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Optional, Sequence

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import segrefiner  # noqa: F401

from segrefiner.evaluation.instance import IOU_TYPES, ap_table, evaluate_instances  # noqa: E402
from segrefiner.evaluation.instance.lvis_eval import DET_AREAS  # noqa: E402
from segrefiner.utils.io import write_bytes_atomic  # noqa: E402

DEFAULT_GT = 'data/lvis/annotations/lvis_v1_val_cocofied.json'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='LVIS mask AP / boundary AP of a COCO results JSON')
    parser.add_argument('--gt', default=DEFAULT_GT,
                        help=f'LVIS-format GT annotations (default: {DEFAULT_GT}, written by '
                        'scripts/lvis2coco.py)')
    parser.add_argument('--dt', required=True,
                        help='detections in the COCO results format (e.g. tools/test.py '
                        '--out-prefix NAME writes NAME.segm.json)')
    parser.add_argument('--iou-type', '--iou_type', dest='iou_types', nargs='+',
                        choices=IOU_TYPES, default=list(IOU_TYPES),
                        help='segm (mask AP) and/or boundary (boundary AP); default both')
    parser.add_argument('--dilation-ratio', type=float, default=0.02,
                        help='boundary width as a fraction of the image diagonal')
    parser.add_argument('--max-dets', type=int, default=300,
                        help='detections kept per image, by score (LVIS: 300)')
    parser.add_argument('--det-area', choices=DET_AREAS, default='box',
                        help="a detection's area for APs/APm/APl: box (w*h of its bbox, the "
                        'mask area without one; the LVIS API rule) or mask')
    parser.add_argument('--json', help='also write the metrics to this JSON file')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        evaluated = evaluate_instances(args.gt, args.dt, args.iou_types, args.dilation_ratio,
                                       args.max_dets, det_area=args.det_area)
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'GT: {args.gt}\ndetections: {args.dt}')
    print(ap_table(evaluated))
    if args.json:
        write_bytes_atomic(args.json, json.dumps(evaluated, indent=2).encode('utf-8'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
