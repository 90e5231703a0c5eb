"""The forward (noising) process of a Gaussian diffusion on one mask, as a PNG strip.

The binary mask becomes ``x0 = 2 · mask − 1`` in {−1, 1} and is noised in closed form with
:meth:`segrefiner.models.diffusion.GaussianDiffusion.corrupt`,
``x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε``, at each of ``--timesteps`` with one and the same ε
(drawn from ``--seed``), so the strip shows the signal fading under a fixed noise. Tiles show
``x_t`` clipped to [−1, 1] (black −1, white 1) under the timestep and its ᾱ; the first tile is
the clean mask.

The schedule is the ``GaussianDiffusion`` of ``--config`` (the first dict of that type in the
config's ``model``), or one built from ``--num-timesteps`` and ``--beta-schedule``. The mask is
``--mask`` (a 0/1 or 0/255 image) or a synthetic scene of the project's renderer.

Example (the image of docs/diffseg.md):
    python tools/analysis_tools/visualize_forward_process.py \\
        --out docs/images/forward_process.png
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

try:
    import segrefiner  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402

from segrefiner.datasets.generators.scenes import render_scene  # noqa: E402
from segrefiner.datasets.transforms.loading import read_binary_mask  # noqa: E402
from segrefiner.models.diffusion import GaussianDiffusion  # noqa: E402
from segrefiner.models.diffusion.gaussian import BETA_SCHEDULES  # noqa: E402
from segrefiner.utils.io import write_figure_atomic  # noqa: E402

#: Default timesteps as fractions of T (T = 1000: 0, 50, 100, 200, 300, 500, 999).
DEFAULT_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def find_diffusion_cfg(node) -> Optional[dict]:
    """The first dict of ``type='GaussianDiffusion'`` in a (nested) config node."""
    if isinstance(node, dict):
        if node.get('type') == 'GaussianDiffusion':
            return node
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = find_diffusion_cfg(child)
        if found is not None:
            return found
    return None


def diffusion_from_config(path: str) -> GaussianDiffusion:
    """The ``GaussianDiffusion`` that a config's model builds.

    Raises:
        FileNotFoundError: no such config.
        ValueError: the config's model has no ``GaussianDiffusion``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = find_diffusion_cfg(Config.fromfile(path).to_dict().get('model'))
    if cfg is None:
        raise ValueError(f'config {path} has no GaussianDiffusion in its model')
    kwargs = {key: value for key, value in cfg.items() if key != 'type'}
    return GaussianDiffusion(**kwargs)


def default_timesteps(diffusion: GaussianDiffusion) -> List[int]:
    """:data:`DEFAULT_FRACTIONS` of the schedule's noisiest timestep, without repeats."""
    top = diffusion.max_timestep
    return sorted({int(round(f * top)) for f in DEFAULT_FRACTIONS})


def synthetic_mask(size: int, seed: int) -> np.ndarray:
    """(size, size) uint8 {0, 1} foreground of one synthetic scene."""
    _, gt, _, _ = render_scene(np.random.default_rng(seed), (size, size))
    return gt


def forward_states(diffusion: GaussianDiffusion, mask: np.ndarray, timesteps: Sequence[int],
                   seed: int = 0) -> List[np.ndarray]:
    """``x_t`` of ``x0 = 2 · mask − 1`` at each timestep, with one shared ε.

    Args:
        diffusion (GaussianDiffusion): the schedule.
        mask (np.ndarray): (H, W) binary mask (nonzero is foreground).
        timesteps (Sequence[int]): timesteps in ``[0, diffusion.max_timestep]``.
        seed (int): seed of ε.

    Returns:
        list[np.ndarray]: one (H, W) float32 ``x_t`` per timestep (not clipped).

    Raises:
        ValueError: a timestep outside the schedule.
    """
    bad = [t for t in timesteps if not 0 <= t <= diffusion.max_timestep]
    if bad:
        raise ValueError(f'timesteps {bad} are outside [0, {diffusion.max_timestep}] of this '
                         f'schedule')
    x0 = torch.from_numpy((mask > 0).astype(np.float32) * 2 - 1)[None, None]
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=generator)
    states = []
    for t in timesteps:
        x_t = diffusion.corrupt(x0, torch.tensor([t]), target=noise)
        states.append(x_t[0, 0].numpy())
    return states


def draw_strip(diffusion: GaussianDiffusion, mask: np.ndarray, timesteps: Sequence[int],
               states: Sequence[np.ndarray], out: str) -> None:
    """The clean mask and each state as a row of tiles, written atomically to ``out``."""
    tiles = [(mask > 0).astype(np.float32) * 2 - 1, *states]
    titles = ['x0 (mask)'] + [f't = {t}\nᾱ = {diffusion.alpha_cumprod(t):.4f}'
                              for t in timesteps]
    fig, axes = plt.subplots(1, len(tiles), figsize=(1.7 * len(tiles), 2.1), squeeze=False)
    for ax, tile, title in zip(axes[0], tiles, titles):
        ax.imshow(np.clip(tile, -1, 1), cmap='gray', vmin=-1, vmax=1, interpolation='nearest')
        ax.set_title(title, fontsize=9)
        ax.axis('off')
    fig.suptitle(f'forward process q(x_t | x0): {diffusion.beta_schedule} betas, '
                 f'T = {diffusion.num_timesteps}', fontsize=10)
    fig.tight_layout()
    write_figure_atomic(out, fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='take the GaussianDiffusion of this config\'s model')
    parser.add_argument('--num-timesteps', type=int, default=1000,
                        help='T, without --config (default: 1000)')
    parser.add_argument('--beta-schedule', choices=BETA_SCHEDULES, default='linear',
                        help='betas, without --config (default: linear)')
    parser.add_argument('--timesteps', type=int, nargs='+',
                        help='timesteps to show (default: 0, 5, 10, 20, 30, 50 and 100 %% of T)')
    parser.add_argument('--mask', help='mask image (0/1 or 0/255); default: a synthetic scene')
    parser.add_argument('--size', type=int, default=96,
                        help='side of the synthetic mask (default: 96)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the synthetic scene and of the noise (default: 0)')
    parser.add_argument('--out', default='forward_process.png', help='output PNG')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the strip; 0 on success, 1 with a message for a bad config, mask or timestep."""
    args = parse_args(argv)
    try:
        if args.config:
            diffusion = diffusion_from_config(args.config)
        else:
            diffusion = GaussianDiffusion(num_timesteps=args.num_timesteps,
                                          beta_schedule=args.beta_schedule)
        if args.mask:
            mask = read_binary_mask(args.mask)
        else:
            mask = synthetic_mask(args.size, args.seed)
        timesteps = args.timesteps or default_timesteps(diffusion)
        states = forward_states(diffusion, mask, timesteps, args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    draw_strip(diffusion, mask, timesteps, states, args.out)
    print(f'forward process at t = {", ".join(map(str, timesteps))} written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
