"""Gaussian noise on a class-probability map: cosine schedule, corruption and DDIM step.

The diffused state of :class:`~segrefiner.models.segmentors.ResidualRefiner` is a
probability map rescaled to [-1, 1], ``x0 = 2 p - 1``. Noise levels are the integers
``t = 0..T``; ``ᾱ_t = f(t) / f(0)`` with ``f(t) = cos²(π/2 · (t/T + s) / (1 + s))`` and
``s = 0.008`` (the cosine schedule of Nichol & Dhariwal, 2021), so ``ᾱ_0 = 1`` (clean) and
``ᾱ_T = 0`` (pure noise). With T = 300: ᾱ_50 ≈ 0.93, ᾱ_100 ≈ 0.74, ᾱ_150 ≈ 0.49.
"""
import math
from typing import List, Optional

import numpy as np
import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class GaussianDiffusion(nn.Module):
    """Cosine noise schedule with closed-form corruption and the deterministic DDIM update.

    Args:
        num_timesteps (int): T, the highest noise level. Defaults to 300.
        cosine_offset (float): the schedule's offset s. Defaults to 0.008.

    Example:
        >>> diffusion = GaussianDiffusion(num_timesteps=300)
        >>> diffusion.step_levels(t_level=100, num_steps=5)
        [100, 80, 60, 40, 20]
    """

    def __init__(self, num_timesteps: int = 300, cosine_offset: float = 0.008) -> None:
        super().__init__()
        if num_timesteps < 1:
            raise ValueError(f'num_timesteps must be >= 1, got {num_timesteps}')
        self.num_timesteps = num_timesteps
        t = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        f = torch.cos((t + cosine_offset) / (1 + cosine_offset) * math.pi / 2)**2
        alphas_cumprod = (f / f[0]).clamp(0.0, 1.0)
        alphas_cumprod[-1] = 0.0
        self.register_buffer('alphas_cumprod', alphas_cumprod, persistent=False)

    def sample_timesteps(self, batch_size: int, device: torch.device,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """Uniform noise levels, one per sample: (B,) int64 in [0, T]."""
        return torch.randint(0, self.num_timesteps + 1, (batch_size, ), generator=generator,
                             device=device)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε``.

        Args:
            x0 (Tensor): (B, C, H, W) clean state.
            t (Tensor): (B,) int64 noise levels.
            noise (Tensor): (B, C, H, W) standard normal ε.

        Returns:
            Tensor: (B, C, H, W) noisy state.
        """
        alpha = self.alphas_cumprod[t].to(x0.dtype).view(-1, 1, 1, 1)
        return alpha.sqrt() * x0 + (1 - alpha).sqrt() * noise

    def step_levels(self, t_level: int, num_steps: int) -> List[int]:
        """The ``num_steps`` noise levels visited from ``t_level`` towards 0.

        ``round(linspace(t_level, 0, num_steps + 1))`` without its final 0: each step predicts
        the clean state, so the last step ends at level 0.

        Args:
            t_level (int): starting level in [0, T].
            num_steps (int): network evaluations, 1 <= num_steps <= max(t_level, 1).

        Returns:
            list[int]: strictly decreasing levels.
        """
        if not 0 <= t_level <= self.num_timesteps:
            raise ValueError(f't_level must be in [0, {self.num_timesteps}], got {t_level}')
        if not 1 <= num_steps <= max(t_level, 1):
            raise ValueError(f'num_steps must be in [1, max(t_level, 1)] = '
                             f'[1, {max(t_level, 1)}] so that every step has its own noise '
                             f'level, got {num_steps}')
        levels = np.linspace(t_level, 0, num_steps + 1)[:-1]
        return [int(v) for v in np.round(levels)]

    def ddim_step(self, x_t: Tensor, x0_pred: Tensor, t: int, t_next: int) -> Tensor:
        """Deterministic DDIM update (η = 0) from level ``t`` to ``t_next < t``.

        The noise implied by the prediction, ``ε̂ = (x_t - sqrt(ᾱ_t) x̂0) / sqrt(1 - ᾱ_t)``, is
        recombined with ``x̂0`` at the lower level: ``sqrt(ᾱ_next) x̂0 + sqrt(1 - ᾱ_next) ε̂``.

        Args:
            x_t (Tensor): (B, C, H, W) state at level ``t``.
            x0_pred (Tensor): (B, C, H, W) predicted clean state.
            t (int): current level, >= 1.
            t_next (int): next level, 0 <= t_next < t.

        Returns:
            Tensor: (B, C, H, W) state at level ``t_next``.
        """
        if not 0 <= t_next < t <= self.num_timesteps:
            raise ValueError(f'a DDIM step needs 0 <= t_next < t <= {self.num_timesteps}, got '
                             f't={t}, t_next={t_next}')
        alpha, alpha_next = (float(self.alphas_cumprod[i]) for i in (t, t_next))
        eps = (x_t - math.sqrt(alpha) * x0_pred) / math.sqrt(1 - alpha)
        return math.sqrt(alpha_next) * x0_pred + math.sqrt(1 - alpha_next) * eps
