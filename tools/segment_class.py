"""Cut one class out of an image with a query segmentor (the seed's ``segment_class_on_image``).

Writes the image with every pixel outside the class's mask black (``--out``) and, with
``--mask-out``, the mask as a 0/255 PNG, both at the image's size. The kept queries are those
predicted as ``--class-id`` with a probability >= ``--score-thr``; their masks are combined by
max and thresholded at ``--mask-thr`` (:func:`segrefiner.apis.query_seg.segment_class_on_image`).
Files are written to a temporary file and renamed: a failure leaves no partial output.

Exit status: 0 on success; 1 when the image or the model cannot be read; 2 for bad arguments.

Example:
    python tools/segment_class.py CONFIG CKPT photo.jpg --out person.png --class-id 1 \\
        --score-thr 0.5 --mask-out person_mask.png
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.apis import init_refiner  # noqa: E402
from segrefiner.apis.inference import load_image  # noqa: E402
from segrefiner.apis.query_seg import query_outputs, segment_class_on_image  # noqa: E402
from segrefiner.models import QuerySegmentor  # noqa: E402
from segrefiner.utils.checkpoint import CheckpointError  # noqa: E402
from segrefiner.utils.compat import filter_stack_warnings  # noqa: E402
from segrefiner.utils.io import write_image_atomic  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of a QuerySegmentor')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('image', help='input image')
    parser.add_argument('--out', required=True, help='output cut-out image (PNG)')
    parser.add_argument('--mask-out', help='also write the 0/255 mask here (PNG)')
    parser.add_argument('--class-id', type=int, required=True, help='class to cut out')
    parser.add_argument('--score-thr', type=float, default=0.5,
                        help='least class probability of a kept query (default 0.5)')
    parser.add_argument('--mask-thr', type=float, default=0.5,
                        help='mask probability threshold (default 0.5)')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('H', 'W'),
                        help="model input size (default: the config's test resize)")
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:1'...")
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint with weights_only=False (a file you trust)')
    args = parser.parse_args(argv)
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    if osp.abspath(args.out) == osp.abspath(args.image):
        parser.error('--out would overwrite the input image')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    filter_stack_warnings()
    args = parse_args(argv)
    try:
        image = load_image(args.image)
        model = init_refiner(args.config, args.checkpoint, args.device,
                             trust_checkpoint=args.trust_checkpoint)
    except (FileNotFoundError, ValueError, CheckpointError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    if not isinstance(model, QuerySegmentor):
        print(f'error: {args.config} builds a {type(model).__name__}, not a QuerySegmentor',
              file=sys.stderr)
        return 1
    num_classes = model.decode_head.num_classes
    if not 0 <= args.class_id < num_classes:
        print(f'error: --class-id must be in [0, {num_classes}), got {args.class_id}',
              file=sys.stderr)
        return 2
    pred_logits, pred_masks = query_outputs(model, image, args.image_size)
    cutout, mask = segment_class_on_image(pred_logits, pred_masks, image, args.class_id,
                                          args.score_thr, args.mask_thr)
    write_image_atomic(args.out, cutout)
    if args.mask_out:
        write_image_atomic(args.mask_out, mask.astype(np.uint8) * 255)
    print(f'{args.out}: {int(mask.sum())} of {mask.size} pixels kept (class {args.class_id})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
