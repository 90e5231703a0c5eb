"""Generate the synthetic refinement benchmark (images, GT masks, coarse masks).

Example::

    python scripts/gen_synthetic.py --out data/synthetic --num-train 200 --num-val 40 \
        --size 160 160 --seed 0

Writes ``<out>/{train,val}/{images,masks,coarse}/`` and ``<out>/{train,val}/meta.json``
(see :mod:`segrefiner.datasets.generators.writer`). Splits are written atomically; a complete
split with the same parameters is kept unless ``--force`` is given.
"""
import argparse
import sys
import time
from typing import List, Optional

from segrefiner.datasets.generators import generate_synthetic_dataset


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic', help='output root folder')
    parser.add_argument('--num-train', type=int, default=200, help='number of train images')
    parser.add_argument('--num-val', type=int, default=40, help='number of val images')
    parser.add_argument('--size', type=int, nargs=2, default=(160, 160), metavar=('H', 'W'),
                        help='image height and width')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--force', action='store_true',
                        help='regenerate splits that already exist')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(argv)
    start = time.perf_counter()
    written = generate_synthetic_dataset(
        args.out, num_train=args.num_train, num_val=args.num_val, size=tuple(args.size),
        seed=args.seed, force=args.force)
    if any(written.values()):
        print(f'done in {time.perf_counter() - start:.1f} s: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
