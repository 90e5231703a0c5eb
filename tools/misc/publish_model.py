"""Publish a trained refiner: its weights alone (no optimizer, message hub or config text) and
its model config, self-contained, as MMSegmentation's ``tools/misc/publish_model.py`` does.

    python tools/misc/publish_model.py CONFIG work_dirs/x/iter_6000.pth OUT_DIR/NAME

writes ``OUT_DIR/NAME.pth`` (``{'state_dict': ...}``, fp32, loaded strictly by
``init_refiner``) and ``OUT_DIR/NAME.py`` (the resolved ``model`` and ``default_scope`` of
CONFIG, no ``_base_``), both atomically, and prints the weights' sha256. The bundled refiner
(:mod:`segrefiner.model_zoo`) is made this way.
"""
import argparse
import io
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmengine.config import Config

import segrefiner  # noqa: F401  (registration)
from segrefiner.apis import init_refiner
from segrefiner.model_zoo import file_sha256
from segrefiner.utils.checkpoint import CheckpointError
from segrefiner.utils.io import write_bytes_atomic


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Publish a trained refiner')
    parser.add_argument('config', help='the training config')
    parser.add_argument('checkpoint', help='a tools/train.py checkpoint')
    parser.add_argument('out', help='output path without extension: OUT.pth and OUT.py')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint with weights_only=False (a file you trust)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        model = init_refiner(args.config, args.checkpoint,
                             trust_checkpoint=args.trust_checkpoint)
    except (FileNotFoundError, CheckpointError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    cfg = Config.fromfile(args.config)
    published = Config(dict(default_scope=cfg.get('default_scope', 'mmseg'), model=cfg.model))
    state = {key: value.detach().cpu().float() if value.is_floating_point() else value.cpu()
             for key, value in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state), buffer)
    write_bytes_atomic(args.out + '.pth', buffer.getvalue())
    write_bytes_atomic(args.out + '.py', published.pretty_text.encode())
    size = osp.getsize(args.out + '.pth') / 2**20
    print(f'{args.out}.pth ({size:.1f} MiB, sha256 {file_sha256(args.out + ".pth")})')
    print(f'{args.out}.py')
    return 0


if __name__ == '__main__':
    sys.exit(main())
