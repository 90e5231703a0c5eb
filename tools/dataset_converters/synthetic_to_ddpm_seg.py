"""Write the synthetic benchmark in ddpm-segmentation's release layout (few labelled images).

Example::

    python tools/dataset_converters/synthetic_to_ddpm_seg.py data/synthetic \
        data/synthetic/ddpm_seg --num-train 10

Writes ``<out>/real/train/`` (the first ``--num-train`` train images, sorted by name) and
``<out>/real/test/`` (every val image): ``STEM.png`` and ``STEM.npy`` (uint8, 0 background,
1 object: the grey mask >= 128), the layout :class:`segrefiner.datasets.DDPMSegDataset` reads.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
from PIL import Image


def convert_split(src: str, dst: str, limit: Optional[int] = None) -> int:
    """Convert ``src/{images,masks}`` into ``dst``; returns the number of pairs written."""
    names = sorted(os.listdir(osp.join(src, 'images')))[:limit]
    os.makedirs(dst, exist_ok=True)
    for name in names:
        stem = osp.splitext(name)[0]
        mask_path = osp.join(src, 'masks', stem + '.png')
        if not osp.isfile(mask_path):
            raise FileNotFoundError(f'mask {mask_path} of image {name} not found')
        Image.open(osp.join(src, 'images', name)).convert('RGB').save(osp.join(dst, stem + '.png'))
        mask = np.asarray(Image.open(mask_path).convert('L')) >= 128
        np.save(osp.join(dst, stem + '.npy'), mask.astype(np.uint8))
    return len(names)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the synthetic root (python scripts/gen_synthetic.py)')
    parser.add_argument('out', help='output root: <out>/real/{train,test}/')
    parser.add_argument('--num-train', type=int, default=10, help='labelled training images')
    args = parser.parse_args(argv)
    train = convert_split(osp.join(args.src, 'train'), osp.join(args.out, 'real', 'train'),
                          args.num_train)
    test = convert_split(osp.join(args.src, 'val'), osp.join(args.out, 'real', 'test'))
    print(f'{args.out}: {train} train and {test} test pairs')
    return 0


if __name__ == '__main__':
    sys.exit(main())
