"""Segment images with a diffusion segmentor: one image, a folder, or paths read from stdin.

For each input image ``STEM.EXT`` it writes ``OUTPUT/STEM.png``, the mask at the image's own
size: 0/255 for a binary model, class indices (0..C-1) for a multi-class one. Images of a folder
(``--batch``, recursively, the extensions of ``SegFolderDataset``) keep their sub-folders under
``OUTPUT``. Also, per image:

- ``--num-samples N`` (N > 1): ``STEM_uncertainty.png``, the ensemble's per-pixel uncertainty
  (the entropy of the mean probability over log(classes), as grey 0-255);
- ``--visualize-process``: ``STEM_process.gif`` (the predicted foreground probability x̂0 along
  one reverse run, ``--num-frames`` frames at steps spread over the run, noisiest first, at
  the image's size, as grey 0-255) and ``STEM_process.png`` (the same frames as a grid, row by
  row, up to 5 per row).

Every file is written to a temporary file and renamed, so a failure leaves no partial output.
A missing, unreadable or non-image input is reported with its name; in a folder or in
interactive mode the other inputs are still processed (files of a folder without an image
extension are listed as skipped).

``--interactive`` reads one image (or folder) path per line from stdin until end of input or
a line ``quit`` (or ``exit``); a prompt is shown when stdin is a terminal; a closed stdin ends
the session at once.

The checkpoint is loaded with ``torch.load(weights_only=True)`` and an allow-list of what a
Runner checkpoint holds (``--trust-checkpoint`` lifts it for a file you trust), and must fit the
config's model.

Exit status: 0 when every input was segmented; 1 when some input failed (the others are
written) or the model cannot be loaded; 2 for bad arguments.

Examples:
    python tools/infer.py CONFIG CKPT --input image.jpg --output results
    python tools/infer.py CONFIG CKPT --input images/ --batch --output results --steps 20
    python tools/infer.py CONFIG CKPT --input image.jpg --num-samples 5 --visualize-process
    python tools/infer.py CONFIG CKPT --interactive --output results
"""
import argparse
import io
import math
import os.path as osp
import sys
from typing import List, Optional, Sequence, TextIO, Tuple

import numpy as np
import torch
from PIL import Image

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.utils import ProgressBar  # noqa: E402

from segrefiner.apis import init_segmentor, inference_segmentor, reverse_process  # noqa: E402
from segrefiner.datasets.seg_folder import list_image_files  # noqa: E402
from segrefiner.utils.checkpoint import CheckpointError  # noqa: E402
from segrefiner.utils.io import write_bytes_atomic, write_image_atomic  # noqa: E402

QUIT_WORDS = ('quit', 'exit')
GRID_COLUMNS = 5
GIF_FRAME_MS = 200


class InputError(Exception):
    """An input that cannot be segmented: the message names the file."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments (``parser.error`` exits with 2 on bad ones)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='DiffusionSegmentor config file')
    parser.add_argument('checkpoint', help='checkpoint file (tools/train.py)')
    parser.add_argument('--input', help='image file, or folder with --batch')
    parser.add_argument('--output', default='inference_results',
                        help='output folder (default: inference_results)')
    parser.add_argument('--batch', action='store_true', help='--input is a folder of images')
    parser.add_argument('--interactive', action='store_true',
                        help='read image paths from stdin until EOF or "quit"')
    parser.add_argument('--steps', type=int,
                        help='sampling steps (default: the config\'s test_cfg.num_steps)')
    parser.add_argument('--sampler', choices=('ddim', 'ddpm'),
                        help='reverse process (default: the config\'s test_cfg.sampler)')
    parser.add_argument('--image-size', type=int,
                        help='model input side (default: the config\'s; padded to the '
                        'model\'s size divisor)')
    parser.add_argument('--num-samples', type=int,
                        help='ensemble size; > 1 also writes the uncertainty map')
    parser.add_argument('--seed', type=int, help='seed of the sampling noise')
    parser.add_argument('--visualize-process', action='store_true',
                        help='also write the reverse process as a GIF and a PNG grid')
    parser.add_argument('--num-frames', type=int, default=10,
                        help='frames of --visualize-process (default: 10)')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu',
                        help='device (default: cpu)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load a checkpoint that needs types outside the allow-list '
                        '(weights_only=False: only for a file you trust)')
    args = parser.parse_args(argv)
    if args.interactive == (args.input is not None):
        parser.error('give --input IMAGE_OR_DIR or --interactive (one of them)')
    if args.input is not None:
        if args.batch and not osp.isdir(args.input):
            parser.error(f'--batch needs a folder, {args.input} is not one')
        if not args.batch and osp.isdir(args.input):
            parser.error(f'{args.input} is a folder: add --batch to segment its images')
    for name in ('steps', 'image_size', 'num_samples', 'num_frames'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if osp.exists(args.output) and not osp.isdir(args.output):
        parser.error(f'--output {args.output} is a file, not a folder')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    return args


def test_cfg_options(args: argparse.Namespace) -> dict:
    """The ``--cfg-options`` that the sampling flags stand for."""
    flags = dict(num_steps=args.steps, sampler=args.sampler, num_samples=args.num_samples,
                 seed=args.seed)
    return {f'model.test_cfg.{key}': value for key, value in flags.items() if value is not None}


# --------------------------------------------------------------------------------------------
# Output images
# --------------------------------------------------------------------------------------------
def mask_image(result) -> np.ndarray:
    """(H, W) uint8 mask of a ``SegDataSample``: 0/255 when the model has at most two classes
    (one probability channel, or background and foreground), else the class indices."""
    labels = result.pred_sem_seg.data[0].cpu().numpy()
    if result.seg_logits.data.shape[0] <= 2:
        return (labels > 0).astype(np.uint8) * 255
    return labels.astype(np.uint8)


def uncertainty_image(result) -> np.ndarray:
    """(H, W) uint8 ``round(255 · u)`` of a sample's ``uncertainty`` map ``u`` in [0, 1]."""
    values = result.uncertainty.data[0].float().cpu().numpy()
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)


def frame_image(frame: np.ndarray) -> np.ndarray:
    """(h, w) uint8 grey of one reverse-process state: ``255 · p`` of the foreground
    probability (the only channel, the second of two, or 1 − background of more)."""
    if frame.shape[0] == 1:
        prob = frame[0]
    elif frame.shape[0] == 2:
        prob = frame[1]
    else:
        prob = 1 - frame[0]
    return np.round(np.clip(prob, 0, 1) * 255).astype(np.uint8)


def grid_image(frames: Sequence[np.ndarray], columns: int = GRID_COLUMNS) -> np.ndarray:
    """Frames (each (h, w) uint8) row by row, ``columns`` per row, empty tiles white."""
    height, width = frames[0].shape
    columns = min(columns, len(frames))
    rows = math.ceil(len(frames) / columns)
    grid = np.full((rows * height, columns * width), 255, np.uint8)
    for index, frame in enumerate(frames):
        row, col = divmod(index, columns)
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = frame
    return grid


def write_gif(path: str, frames: Sequence[np.ndarray]) -> None:
    """Frames (each (h, w) uint8) as a looping GIF, written atomically."""
    images = [Image.fromarray(frame) for frame in frames]  # uint8 (h, w): mode 'L'
    buffer = io.BytesIO()
    images[0].save(buffer, format='GIF', save_all=True, append_images=images[1:],
                   duration=GIF_FRAME_MS, loop=0)
    write_bytes_atomic(path, buffer.getvalue())


# --------------------------------------------------------------------------------------------
# Segmenting
# --------------------------------------------------------------------------------------------
def segment(model: torch.nn.Module, image: str, out_stem: str,
            args: argparse.Namespace) -> List[str]:
    """Segment one image file and write its outputs (``out_stem`` + ``.png`` etc.).

    Returns:
        list[str]: the files written.

    Raises:
        InputError: the image is missing or unreadable, its mask would replace it, or an
            output cannot be written.
    """
    if osp.exists(image) and osp.exists(out_stem + '.png') and osp.samefile(
            image, out_stem + '.png'):
        raise InputError(f'{image}: its mask would overwrite it; choose another --output')
    try:
        result = inference_segmentor(model, image, args.image_size)
        frames = None
        if args.visualize_process:
            frames = [frame_image(f) for f in
                      reverse_process(model, image, args.num_frames, args.image_size)]
    except (FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    written = [out_stem + '.png']
    try:
        write_image_atomic(written[0], mask_image(result))
        if model.test_cfg.num_samples > 1:
            written.append(out_stem + '_uncertainty.png')
            write_image_atomic(written[-1], uncertainty_image(result))
        if frames is not None:
            written.extend([out_stem + '_process.gif', out_stem + '_process.png'])
            write_gif(written[-2], frames)
            write_image_atomic(written[-1], grid_image(frames))
    except OSError as error:
        raise InputError(f'{image}: cannot write {written[-1]} ({error})') from None
    return written


def report(error: Exception) -> None:
    """Print one failed input to stderr."""
    print(f'error: {error}', file=sys.stderr, flush=True)


def run_file(model: torch.nn.Module, image: str, args: argparse.Namespace) -> int:
    """One image to ``OUTPUT/STEM.png``; 0 on success, 1 (reported) on failure."""
    stem = osp.splitext(osp.basename(image))[0]
    try:
        written = segment(model, image, osp.join(args.output, stem), args)
    except InputError as error:
        report(error)
        return 1
    print(f'{image} -> {", ".join(written)}')
    return 0


def folder_jobs(folder: str,
                out_dir: str) -> Tuple[List[Tuple[str, str]], List[str], List[str]]:
    """The (image, output stem) pairs of a folder's images, and the files left out.

    Returns:
        tuple: the pairs; the files that are not images (by extension), skipped; the images
        whose output stem another image already has (``a.jpg`` and ``a.png``), not segmented.
    """
    images, others = list_image_files(folder)
    skipped = [osp.join(folder, rel) for rel in others]
    problems, jobs, owners = [], [], {}
    for rel in images:
        stem = osp.splitext(rel)[0]
        if stem in owners:
            problems.append(f'{osp.join(folder, rel)}: skipped, its mask would overwrite the '
                            f'one of {osp.join(folder, owners[stem])} (same name)')
            continue
        owners[stem] = rel
        jobs.append((osp.join(folder, rel), osp.join(out_dir, stem)))
    return jobs, skipped, problems


def run_folder(model: torch.nn.Module, folder: str, args: argparse.Namespace) -> int:
    """Every image of a folder, with a progress bar; 0 if all were segmented, else 1 (files
    that are not images are listed as skipped and do not count)."""
    root = osp.realpath(folder)
    if osp.commonpath([root, osp.realpath(args.output)]) == root:
        report(InputError(f'--output {args.output} is inside the input folder {folder}; '
                          f'choose another folder'))
        return 1
    jobs, skipped, problems = folder_jobs(folder, args.output)
    for path in skipped:
        print(f'warning: {path}: not an image file (by its extension), skipped',
              file=sys.stderr)
    for problem in problems:
        report(InputError(problem))
    if not jobs:
        report(InputError(f'{folder} holds no image file'))
        return 1
    failed = list(problems)
    done = 0
    bar = ProgressBar(len(jobs), file=sys.stdout)
    for image, out_stem in jobs:
        try:
            segment(model, image, out_stem, args)
            done += 1
        except InputError as error:
            print(file=sys.stdout)
            report(error)
            failed.append(str(error))
        bar.update()
    print(f'\n{done} of {len(jobs)} image(s) of {folder} segmented into {args.output}')
    if failed:
        print(f'{len(failed)} problem(s):\n  ' + '\n  '.join(failed), file=sys.stderr)
    return int(bool(failed))


def run_interactive(model: torch.nn.Module, args: argparse.Namespace,
                    stream: Optional[TextIO]) -> int:
    """Paths from ``stream`` (stdin), one per line, until EOF or ``quit``.

    Returns:
        int: 0 when every path was segmented (or none was given), 1 when one failed.
    """
    if stream is None or stream.closed:
        print('no input: stdin is closed; nothing to segment')
        return 0
    prompt = stream.isatty()
    if prompt:
        print(f'Image or folder path per line; "quit" or end of input (Ctrl-D) to stop. '
              f'Outputs go to {args.output}.')
    status = 0
    while True:
        if prompt:
            print('image> ', end='', flush=True)
        try:
            line = stream.readline()
        except KeyboardInterrupt:
            print()
            break
        except (OSError, ValueError):  # stdin closed or unreadable under us
            break
        if not line:
            if prompt:
                print()
            break
        path = line.strip().strip('\'"')
        if not path:
            continue
        if path.lower() in QUIT_WORDS:
            break
        if osp.isdir(path):
            status |= run_folder(model, path, args)
        else:
            status |= run_file(model, path, args)
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the model and segment the inputs; the exit status (see the module docstring)."""
    args = parse_args(argv)
    try:
        model = init_segmentor(args.config, args.checkpoint, device=args.device,
                               cfg_options=test_cfg_options(args),
                               trust_checkpoint=args.trust_checkpoint)
    except (CheckpointError, FileNotFoundError, TypeError) as error:
        report(error)
        return 1
    if args.interactive:
        return run_interactive(model, args, sys.stdin)
    if args.batch:
        return run_folder(model, args.input, args)
    return run_file(model, args.input, args)


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        sys.exit(130)
