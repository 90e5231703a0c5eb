"""Refine coarse masks of images with SegRefiner: one image, or a folder of them.

Single image::

    python tools/refine.py IMAGE MASK -o OUT.png [--overlay PANEL.png]

Folder (images and masks paired by the naming rules of ``SegFolderDataset``: the mask of
``REL/STEM.EXT`` is ``REL/STEM.png``, ``REL/STEM_mask.png``, ``REL/STEM_gt.png`` or
``REL/STEM.EXT``; the refined mask goes to ``OUT_DIR/REL/STEM.png``)::

    python tools/refine.py --image-dir IMAGES --mask-dir MASKS --out-dir OUT [--overlay-dir DIR]

The model is the bundled default refiner (``init_refiner()``), or ``--config`` with an optional
``--checkpoint`` (loaded with the safe loader; ``--trust-checkpoint`` for a file that needs
the full pickle). ``--mode`` picks ``refine()``'s mode: ``auto`` (default), ``crop`` or ``hr``
(``docs/segrefiner.md``, 'Single-image API'). ``--cfg-options KEY=VALUE ...`` overrides the
model config as in ``tools/test.py``, e.g. the speed switches of the refiner's ``test_cfg``:
``--cfg-options model.test_cfg.early_exit=None`` for the full reverse chain, which the bundled
refiner's config shortens (``docs/segrefiner.md``, 'Inference').

Masks may come from any source (:func:`segrefiner.apis.inference.load_mask`): 0/255 or 0/1
PNGs, 8- or 16-bit or float (TIFF) probability maps, SAM's PNGs (grey, RGB or 0/1 palette);
in the single form also ``.npy`` arrays. The refined mask is written as a 0/255 PNG, the
overlay as an image | coarse | refined panel drawn by ``RefineLocalVisualizer``. Outputs are
written through a temporary file and a rename (never half-written) and never replace an input.

Bad input (missing or unreadable file, image/mask size mismatch, empty mask, unpaired or
ambiguous names) gets an error naming the file. The folder form reports each bad pair after
its progress bar and goes on with the others.

Exit status: 0 success; 1 a pair failed (or the model could not be loaded); 2 bad arguments.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence, Set, Tuple

import numpy as np
from mmengine.config import DictAction
from mmengine.utils import ProgressBar
from torch import nn

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from segrefiner.apis import init_refiner, refine  # noqa: E402
from segrefiner.apis.inference import REFINE_MODES, load_pair  # noqa: E402
from segrefiner.datasets.seg_folder import NAMING_RULES, pair_images_with_masks  # noqa: E402
from segrefiner.utils.io import write_image_atomic  # noqa: E402
from segrefiner.visualization import draw_refine_panel  # noqa: E402


class UsageError(ValueError):
    """Arguments that cannot work together (exit status 2)."""


def parse_args(argv: Optional[Sequence[str]] = None
               ) -> Tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description='Refine coarse masks with SegRefiner (one image, or a folder).')
    parser.add_argument('image', nargs='?', help='image file (single form)')
    parser.add_argument('mask', nargs='?', help='coarse mask file (single form)')
    parser.add_argument('-o', '--out', help='refined mask, a .png file (single form)')
    parser.add_argument('--overlay', help='image | coarse | refined panel (single form)')
    parser.add_argument('--image-dir', help='folder of images (folder form)')
    parser.add_argument('--mask-dir', help='folder of coarse masks (folder form)')
    parser.add_argument('--out-dir', help='folder for the refined masks (folder form)')
    parser.add_argument('--overlay-dir', help='folder for the panels (folder form)')
    parser.add_argument('--config', help='model config (default: the bundled refiner)')
    parser.add_argument('--checkpoint', help='checkpoint of --config')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load the checkpoint with the full pickle (runs code in it): '
                        'only for a file you trust')
    parser.add_argument('--mode', default='auto', choices=REFINE_MODES,
                        help='refine() mode (default: auto)')
    parser.add_argument('--steps', type=int, default=6, help='reverse steps, 1..6')
    parser.add_argument('--seed', type=int, default=0, help='seed of the reverse process')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:1', ...")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the model config, xxx=yyy '
                        '(e.g. model.test_cfg.max_patches=0)')
    args = parser.parse_args(argv)
    single = args.image is not None or args.mask is not None
    folder = any(v is not None for v in (args.image_dir, args.mask_dir, args.out_dir))
    if single == folder:
        parser.error('give either IMAGE MASK -o OUT.png or --image-dir, --mask-dir and '
                     '--out-dir')
    if single and (args.mask is None or args.out is None):
        parser.error('the single form needs IMAGE, MASK and -o OUT.png')
    if single and args.overlay_dir is not None:
        parser.error('--overlay-dir belongs to the folder form; use --overlay PANEL.png')
    if folder and None in (args.image_dir, args.mask_dir, args.out_dir):
        parser.error('the folder form needs --image-dir, --mask-dir and --out-dir')
    if folder and (args.out is not None or args.overlay is not None):
        parser.error('-o and --overlay belong to the single form; use --out-dir and '
                     '--overlay-dir')
    if args.checkpoint is not None and args.config is None:
        parser.error('--checkpoint needs --config (the bundled refiner has its own weights)')
    return parser, args


def build_model(args: argparse.Namespace) -> nn.Module:
    """The bundled refiner, or ``--config`` with ``--checkpoint``."""
    if args.config is None:
        return init_refiner(device=args.device, cfg_options=args.cfg_options)
    return init_refiner(args.config, args.checkpoint, device=args.device,
                        cfg_options=args.cfg_options, trust_checkpoint=args.trust_checkpoint)


def _same_file(a: str, b: str) -> bool:
    return osp.exists(a) and osp.exists(b) and osp.samefile(a, b)


def check_output(path: str, inputs: Sequence[str], what: str) -> None:
    """Refuse an output that would replace one of the ``inputs``."""
    for source in inputs:
        if osp.realpath(path) == osp.realpath(source) or _same_file(path, source):
            raise UsageError(f'{what} {path} would overwrite the input {source}')


def refine_pair(model: nn.Module, image_path: str, mask_path: str, out_path: str,
                overlay_path: Optional[str], args: argparse.Namespace) -> None:
    """Refine one image/mask pair and write the 0/255 mask (and the panel) atomically.

    Raises:
        FileNotFoundError, ValueError: bad input (the message names the file); nothing is
            written then.
    """
    image, coarse = load_pair(image_path, mask_path)
    refined = refine(model, image, coarse, steps=args.steps, seed=args.seed, mode=args.mode)
    write_image_atomic(out_path, refined.astype(np.uint8) * 255)
    if overlay_path is not None:
        write_image_atomic(overlay_path, draw_refine_panel(image, coarse, refined))


def run_single(model: nn.Module, args: argparse.Namespace) -> int:
    """The single form: exit status 0, or 1 with the error on stderr."""
    refine_pair(model, args.image, args.mask, args.out, args.overlay, args)
    print(f'refined mask written to {args.out}' +
          (f', panel to {args.overlay}' if args.overlay else ''))
    return 0


def folder_pairs(args: argparse.Namespace) -> Tuple[List[Tuple[str, str, str]], List[str]]:
    """(image, mask, relative output name) of every pair, and one line per file that could
    not be paired (unpaired or ambiguous names)."""
    pairing = pair_images_with_masks(args.image_dir, args.mask_dir)
    unpaired = pairing.missing_messages() + pairing.ambiguity_messages()
    jobs = []
    for image_path, mask_path in pairing.pairs:
        rel = osp.relpath(image_path, args.image_dir)
        jobs.append((image_path, mask_path, osp.splitext(rel)[0] + '.png'))
    return jobs, unpaired


def run_folder(model: nn.Module, args: argparse.Namespace) -> int:
    """The folder form: every pair refined, bad ones reported; exit status 0 or 1."""
    outs = [(args.out_dir, '--out-dir'), (args.overlay_dir, '--overlay-dir')]
    for folder, flag in ((args.image_dir, '--image-dir'), (args.mask_dir, '--mask-dir')):
        if not osp.isdir(folder):
            raise UsageError(f'{flag} {folder} is not a folder')
        for out, out_flag in outs:
            if out is not None and osp.realpath(out) == osp.realpath(folder):
                raise UsageError(f'{out_flag} must differ from {flag} (inputs are never '
                                 f'overwritten): {out}')
    jobs, unpaired = folder_pairs(args)
    inputs: Set[str] = {osp.realpath(p) for job in jobs for p in job[:2]}
    failed: List[str] = []
    bar = ProgressBar(len(jobs), file=sys.stdout) if jobs else None
    for image_path, mask_path, rel in jobs:
        out_path = osp.join(args.out_dir, rel)
        overlay = None if args.overlay_dir is None else osp.join(args.overlay_dir, rel)
        try:
            for path in filter(None, (out_path, overlay)):
                if osp.realpath(path) in inputs:
                    raise UsageError(f'output {path} would overwrite an input')
            refine_pair(model, image_path, mask_path, out_path, overlay, args)
        except (FileNotFoundError, ValueError) as error:
            failed.append(f'skipped {image_path}: {error}')
        bar.update()
    if bar is not None:
        sys.stdout.write('\n')
    for line in failed + unpaired:
        print(line, file=sys.stderr)
    if any(line.startswith('image without a mask') for line in unpaired):
        print(f'({NAMING_RULES})', file=sys.stderr)
    print(f'{len(jobs) - len(failed)} of {len(jobs)} pairs refined into {args.out_dir}; '
          f'{len(failed)} failed, {len(unpaired)} files unpaired')
    return 1 if failed or unpaired else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the tool; returns the exit status (see the module docstring)."""
    parser, args = parse_args(argv)
    try:
        if args.image is not None:
            if not args.out.lower().endswith('.png'):
                raise UsageError(f'-o must name a .png file (masks are stored losslessly), '
                                 f'got {args.out}')
            check_output(args.out, (args.image, args.mask), '-o')
            if args.overlay is not None:
                check_output(args.overlay, (args.image, args.mask, args.out), '--overlay')
        model = build_model(args)
        if args.image is not None:
            return run_single(model, args)
        return run_folder(model, args)
    except UsageError as error:
        print(f'{parser.prog}: error: {error}', file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:  # also CheckpointError
        print(f'{parser.prog}: error: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
