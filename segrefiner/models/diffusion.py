"""SegRefiner's discrete diffusion between the coarse and the fine mask.

Each pixel is either *fine* (its value comes from the fine mask) or *coarse* (its value comes from
the coarse mask). ``alphas_cumprod[t]`` is the probability that a pixel is still fine at step
index ``t``; with the released schedule ``linspace(0.8, 0, 6)`` the last index is exactly the
coarse mask, so the reverse process starts from the given coarse mask
(``docs/segrefiner.md``, 'Discrete diffusion').
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class DiscreteDiffusion(nn.Module):
    """Schedule, closed-form training corruption and the confidence-driven reverse process.

    Args:
        num_timesteps (int): T, the number of step indices (0..T-1).
        start (float): ᾱ at index 0.
        stop (float): ᾱ at index T-1 (0 makes the last state the coarse mask).

    Example:
        >>> diffusion = DiscreteDiffusion()
        >>> diffusion.alphas_cumprod
        tensor([0.8000, 0.6400, 0.4800, 0.3200, 0.1600, 0.0000], dtype=torch.float64)
    """

    def __init__(self, num_timesteps: int = 6, start: float = 0.8, stop: float = 0.0) -> None:
        super().__init__()
        if num_timesteps < 1:
            raise ValueError(f'num_timesteps must be >= 1, got {num_timesteps}')
        self.num_timesteps = num_timesteps
        alphas_cumprod = torch.linspace(start, stop, num_timesteps, dtype=torch.float64)
        alphas_cumprod_prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        self.register_buffer('alphas_cumprod', alphas_cumprod, persistent=False)
        self.register_buffer('alphas_cumprod_prev', alphas_cumprod_prev, persistent=False)

    def sample_timesteps(self, batch_size: int, device: torch.device,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """Uniform step indices, one per sample: (B,) int64 in [0, T)."""
        return torch.randint(0, self.num_timesteps, (batch_size, ), generator=generator,
                             device=device)

    def q_sample(self, fine: Tensor, coarse: Tensor, t: Tensor,
                 generator: Optional[torch.Generator] = None) -> Tensor:
        """Sample m_t ~ q(m_t | fine, coarse) in closed form.

        Each pixel is independently fine with probability ᾱ_t (then it takes the fine value),
        otherwise it takes the coarse value.

        Args:
            fine (Tensor): (B, 1, H, W) float 0/1 fine (GT) mask.
            coarse (Tensor): (B, 1, H, W) float 0/1 coarse mask.
            t (Tensor): (B,) int64 step indices.
            generator (torch.Generator, optional): source of the uniform draws.

        Returns:
            Tensor: (B, 1, H, W) float 0/1 mixed mask.
        """
        alpha = self.alphas_cumprod.to(fine.dtype)[t].view(-1, 1, 1, 1)
        u = torch.rand(fine.shape, generator=generator, device=fine.device, dtype=fine.dtype)
        return torch.where(u < alpha, fine, coarse)

    def p_sample(self, logits: Tensor, coarse: Tensor, fine_probs: Tensor, index: int,
                 is_last: bool, generator: Optional[torch.Generator] = None
                 ) -> Tuple[Tensor, Tensor, Tensor]:
        """One reverse update (``docs/segrefiner.md``, 'Reverse update').

        The confidence ``c = 2|σ(logits) − 0.5|`` modulates the per-step coarse→fine
        probability ``p = c (ᾱ_{i−1} − ᾱ_i) / (1 − c ᾱ_i)``; the cumulative fine probability
        becomes ``F + (1 − F) p``. Except at the last step, pixels drawn fine (u < F) take the
        current hard prediction and all others fall back to the coarse mask.

        Args:
            logits (Tensor): (B, 1, H, W) denoiser output at step ``index``.
            coarse (Tensor): (B, 1, H, W) float 0/1 coarse mask.
            fine_probs (Tensor): (B, 1, H, W) cumulative fine probability F before the step.
            index (int): the step index i.
            is_last (bool): whether this is the final step.
            generator (torch.Generator, optional): source of the uniform draws.

        Returns:
            tuple[Tensor, Tensor, Tensor]: the next mask (B, 1, H, W) (``σ(logits)`` at the last
            step, else float 0/1), the updated F, and ``σ(logits)``.
        """
        probs = logits.float().sigmoid()
        confidence = 2 * (probs - 0.5).abs()
        alpha = float(self.alphas_cumprod[index])
        alpha_prev = float(self.alphas_cumprod_prev[index])
        step_probs = confidence * (alpha_prev - alpha) / (1 - confidence * alpha)
        fine_probs = fine_probs + (1 - fine_probs) * step_probs
        if is_last:
            return probs, fine_probs, probs
        u = torch.rand(probs.shape, generator=generator, device=probs.device)
        fine_map = u < fine_probs
        x_next = torch.where(fine_map, (logits >= 0).to(probs.dtype), coarse.to(probs.dtype))
        return x_next, fine_probs, probs

    @torch.no_grad()
    def p_sample_loop(self,
                      denoise_fn: Callable[[Tensor, Tensor], Tensor],
                      img: Tensor,
                      coarse: Tensor,
                      indices: Optional[Sequence[int]] = None,
                      fine_probs: Optional[Tensor] = None,
                      generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """Run the reverse process from the coarse mask (sampling: no gradients are kept).

        Args:
            denoise_fn (Callable): ``(x (B, C+1, H, W), t (B,)) -> logits (B, 1, H, W)``.
            img (Tensor): (B, C, H, W) normalised image.
            coarse (Tensor): (B, 1, H, W) float 0/1 coarse mask; the starting state.
            indices (Sequence[int], optional): descending step indices; default all,
                ``[T-1, ..., 0]``.
            fine_probs (Tensor, optional): (B, 1, H, W) initial F; zeros by default.
            generator (torch.Generator, optional): source of the uniform draws.

        Returns:
            tuple[Tensor, Tensor]: the foreground probability ``σ(logits)`` of the last step
            (B, 1, H, W) and the cumulative fine probability F (B, 1, H, W).
        """
        if indices is None:
            indices = range(self.num_timesteps - 1, -1, -1)
        indices = list(indices)
        if not indices:
            raise ValueError('p_sample_loop needs at least one step index')
        if any(not 0 <= i < self.num_timesteps for i in indices):
            raise ValueError(f'step indices must lie in [0, {self.num_timesteps}), got {indices}')
        coarse = coarse.float()
        x = coarse
        if fine_probs is None:
            fine_probs = torch.zeros_like(coarse)
        for n, index in enumerate(indices):
            t = torch.full((img.shape[0], ), index, dtype=torch.long, device=img.device)
            logits = denoise_fn(torch.cat([img, x.to(img.dtype)], dim=1), t)
            x, fine_probs, probs = self.p_sample(logits, coarse, fine_probs, index,
                                                 n == len(indices) - 1, generator)
        return probs, fine_probs

    def step_indices(self, steps: int) -> list:
        """The first ``steps`` indices of the full descending chain, e.g. 6 → [5, ..., 0].

        With fewer steps the run stops early and returns the prediction at index T − steps,
        as SegRefiner's ``--step`` does.
        """
        if not 1 <= steps <= self.num_timesteps:
            raise ValueError(f'steps must lie in [1, {self.num_timesteps}], got {steps}')
        return list(range(self.num_timesteps - 1, -1, -1))[:steps]
