"""Render held-out photo composites as a ``benchmarks/bench_real.py`` folder.

Example (the 16 composites at 854×480 that chose the bundled refiner's stage)::

    python tools/dataset_converters/render_composites.py data/composites_854x480

Writes ``cNN_image.png`` (BGR) and ``cNN_mask.png`` (the object, 0/255) for composite ``NN``
drawn by :func:`segrefiner.datasets.generators.composite.render_composite` with the random
source ``np.random.default_rng([seed, NN])`` and the generator's default scene mix. The
training data of the bundled refiner draws from other seeds (its dataset's ``seed``), so
with ``--seed 7`` these are held out. Every file is written atomically.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from segrefiner.datasets.generators.composite import render_composite
from segrefiner.utils.io import write_image_atomic


def render_folder(out_dir: str, num: int, size: Sequence[int], seed: int) -> List[str]:
    """Write ``num`` composites of ``size`` (H, W) into ``out_dir``; returns their names."""
    if num < 1:
        raise ValueError(f'--num must be >= 1, got {num}')
    if len(size) != 2 or min(size) < 32:
        raise ValueError(f'--size must be H W, both >= 32, got {list(size)}')
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for index in range(num):
        image, mask = render_composite(np.random.default_rng([seed, index]), tuple(size))
        name = f'c{index:02d}'
        write_image_atomic(osp.join(out_dir, f'{name}_image.png'), image)
        write_image_atomic(osp.join(out_dir, f'{name}_mask.png'), mask.astype(np.uint8) * 255)
        names.append(name)
    return names


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder (NAME_image.png / NAME_mask.png)')
    parser.add_argument('--num', type=int, default=16, help='number of composites')
    parser.add_argument('--size', type=int, nargs=2, default=(480, 854), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=7, help='first word of every seed')
    args = parser.parse_args(argv)
    names = render_folder(args.out_dir, args.num, args.size, args.seed)
    print(f'wrote {len(names)} composites of {args.size[0]}x{args.size[1]} to {args.out_dir}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
