"""SegRefiner's discrete diffusion between the coarse and the fine mask.

Each pixel is either *fine* (its value comes from the fine mask) or *coarse* (its value comes from
the coarse mask). ``alphas_cumprod[t]`` is the probability that a pixel is still fine at step
index ``t``; with the released schedule ``linspace(0.8, 0, 6)`` the last index is exactly the
coarse mask, so the reverse process starts from the given coarse mask
(``docs/segrefiner.md``, 'Discrete diffusion').

The vocabulary is the one every schedule of ``segrefiner.models.diffusion`` speaks:
:meth:`~DiscreteDiffusion.sample_timesteps` and :meth:`~DiscreteDiffusion.corrupt` for
training, :meth:`~DiscreteDiffusion.timesteps`, :meth:`~DiscreteDiffusion.step` and
:meth:`~DiscreteDiffusion.sample_loop` for inference.
"""
from typing import Callable, List, Optional, Sequence, Tuple

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
        >>> diffusion.timesteps(6)
        [5, 4, 3, 2, 1, 0]
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

    # ----------------------------------------------------------------- training
    def sample_timesteps(self, batch_size: int, device: torch.device,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """Uniform step indices, one per sample: (B,) int64 in [0, T)."""
        return torch.randint(0, self.num_timesteps, (batch_size, ), generator=generator,
                             device=device)

    def corrupt(self, x0: Tensor, t: Tensor, target: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Sample m_t ~ q(m_t | x0, target) in closed form.

        Each pixel is independently fine with probability ᾱ_t (then it takes the value of
        ``x0``), otherwise it takes the value of ``target``, the coarse mask.

        Args:
            x0 (Tensor): (B, 1, H, W) float 0/1 fine (GT) mask.
            t (Tensor): (B,) int64 step indices.
            target (Tensor): (B, 1, H, W) float 0/1 coarse mask, where the chain ends.
            generator (torch.Generator, optional): source of the uniform draws.

        Returns:
            Tensor: (B, 1, H, W) float 0/1 mixed mask.
        """
        alpha = self.alphas_cumprod.to(x0.dtype)[t].view(-1, 1, 1, 1)
        u = torch.rand(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return torch.where(u < alpha, x0, target)

    # ----------------------------------------------------------------- inference
    def timesteps(self, num_steps: int) -> List[int]:
        """The first ``num_steps`` indices of the full descending chain, e.g. 6 → [5, ..., 0].

        With fewer steps the run stops early and returns the prediction at index
        T − ``num_steps``, as SegRefiner's ``--step`` does.
        """
        if not 1 <= num_steps <= self.num_timesteps:
            raise ValueError(f'steps must lie in [1, {self.num_timesteps}], got {num_steps}')
        return list(range(self.num_timesteps - 1, -1, -1))[:num_steps]

    def step(self, model_output: Tensor, t: int, coarse: Tensor, fine_probs: Tensor,
             is_last: bool = False, generator: Optional[torch.Generator] = None
             ) -> Tuple[Tensor, Tensor, Tensor]:
        """One reverse update (``docs/segrefiner.md``, 'Reverse update').

        The confidence ``c = 2|σ(logits) − 0.5|`` modulates the per-step coarse→fine
        probability ``p = c (ᾱ_{t−1} − ᾱ_t) / (1 − c ᾱ_t)``; the cumulative fine probability
        becomes ``F + (1 − F) p``. Except at the last step, pixels drawn fine (u < F) take the
        current hard prediction and all others fall back to the coarse mask. The update does
        not read the current state: an undrawn pixel returns to the coarse mask, not to x_t
        (the paper's Algorithm 2), so unlike the Gaussian step there is no ``x_t`` argument.

        Args:
            model_output (Tensor): (B, 1, H, W) denoiser logits at step ``t``.
            t (int): the step index.
            coarse (Tensor): (B, 1, H, W) float 0/1 coarse mask.
            fine_probs (Tensor): (B, 1, H, W) cumulative fine probability F before the step.
            is_last (bool): whether this is the final step.
            generator (torch.Generator, optional): source of the uniform draws.

        Returns:
            tuple[Tensor, Tensor, Tensor]: the next mask (B, 1, H, W) (``σ(logits)`` at the last
            step, else float 0/1), the updated F, and ``σ(logits)``.
        """
        probs = model_output.float().sigmoid()
        confidence = 2 * (probs - 0.5).abs()
        alpha = float(self.alphas_cumprod[t])
        alpha_prev = float(self.alphas_cumprod_prev[t])
        step_probs = confidence * (alpha_prev - alpha) / (1 - confidence * alpha)
        fine_probs = fine_probs + (1 - fine_probs) * step_probs
        if is_last:
            return probs, fine_probs, probs
        u = torch.rand(probs.shape, generator=generator, device=probs.device)
        fine_map = u < fine_probs
        x_next = torch.where(fine_map, (model_output >= 0).to(probs.dtype),
                             coarse.to(probs.dtype))
        return x_next, fine_probs, probs

    @torch.no_grad()
    def sample_loop(self,
                    denoise_fn: Callable[[Tensor, Tensor], Tensor],
                    img: Tensor,
                    coarse: Tensor,
                    timesteps: Optional[Sequence[int]] = None,
                    fine_probs: Optional[Tensor] = None,
                    generator: Optional[torch.Generator] = None,
                    exit_tol: float = 0.0) -> Tuple[Tensor, Tensor]:
        """Run the reverse process from the coarse mask (sampling: no gradients are kept).

        Early exit (``exit_tol > 0``): after each step but the last two, a sample whose
        foreground decision (``σ(logits) >= 0.5``) changed on fewer than ``exit_tol`` of its
        pixels since the previous step (the first step: since the coarse mask, the state it
        started from) has saturated: the network's later predictions are taken to be this
        step's, so the skipped intermediate steps become their updates of F and of the state
        (:meth:`step` with this step's logits, the uniform draws included, no evaluation),
        and the last step index is evaluated on the state they leave (the last step's
        sharper prediction is the result of the full chain too). A sample costs two evaluations instead of ``len(timesteps)`` at the
        earliest. The other samples go on in a smaller batch, so their draws come from
        the generator in a different order. ``exit_tol=0`` runs every step on every sample
        (no sample can change on fewer than 0 of its pixels): the original chain, draw for
        draw.

        Args:
            denoise_fn (Callable): ``(x (B, C+1, H, W), t (B,)) -> logits (B, 1, H, W)``.
            img (Tensor): (B, C, H, W) normalised image.
            coarse (Tensor): (B, 1, H, W) float 0/1 coarse mask; the starting state.
            timesteps (Sequence[int], optional): descending step indices; default all,
                ``[T-1, ..., 0]`` (:meth:`timesteps`).
            fine_probs (Tensor, optional): (B, 1, H, W) initial F; zeros by default.
            generator (torch.Generator, optional): source of the uniform draws.
            exit_tol (float): fraction of pixels in [0, 1): a sample whose decision
                changed on fewer pixels in a step jumps to the last step; 0 disables early
                exit.

        Returns:
            tuple[Tensor, Tensor]: the foreground probability ``σ(logits)`` of each sample's
            last step (B, 1, H, W) and its cumulative fine probability F (B, 1, H, W).
        """
        if timesteps is None:
            timesteps = range(self.num_timesteps - 1, -1, -1)
        timesteps = list(timesteps)
        if not timesteps:
            raise ValueError('sample_loop needs at least one step index')
        if any(not 0 <= i < self.num_timesteps for i in timesteps):
            raise ValueError(f'step indices must lie in [0, {self.num_timesteps}), got '
                             f'{timesteps}')
        if not 0 <= exit_tol < 1:
            raise ValueError(f'exit_tol must lie in [0, 1), got {exit_tol}')
        coarse = coarse.float()
        if fine_probs is None:
            fine_probs = torch.zeros_like(coarse)
        probs_out = torch.empty_like(coarse)
        fine_out = torch.empty_like(coarse)
        last = timesteps[-1]
        active = torch.arange(img.shape[0], device=img.device)  # samples still in the chain
        img_active, coarse_active, x, previous = img, coarse, coarse, coarse >= 0.5
        for n, index in enumerate(timesteps):
            is_last = n == len(timesteps) - 1
            t = torch.full((active.numel(), ), index, dtype=torch.long, device=img.device)
            logits = denoise_fn(torch.cat([img_active, x.to(img.dtype)], dim=1), t)
            x, fine_probs, probs = self.step(logits, index, coarse_active, fine_probs, is_last,
                                             generator)
            decision = probs >= 0.5
            if is_last:
                probs_out[active] = probs
                fine_out[active] = fine_probs
                break
            if n == len(timesteps) - 2:  # the next step is the last one anyway
                previous = decision
                continue
            jump = (decision != previous).flatten(1).float().mean(1) < exit_tol
            previous = decision
            if bool(jump.any()):  # the saturated samples take the last step now
                # the skipped steps' updates of F and the state, with this step's logits
                # standing in for the network's (no evaluation), then the last step
                x_jump, fine_jump, coarse_jump = x[jump], fine_probs[jump], coarse_active[jump]
                logits_jump = logits[jump]
                for skipped in timesteps[n + 1:-1]:
                    x_jump, fine_jump, _ = self.step(logits_jump, skipped, coarse_jump,
                                                     fine_jump, False, generator)
                t = torch.full((int(jump.sum()), ), last, dtype=torch.long, device=img.device)
                logits = denoise_fn(torch.cat([img_active[jump], x_jump.to(img.dtype)], 1), t)
                _, fine_out[active[jump]], probs_out[active[jump]] = self.step(
                    logits, last, coarse_jump, fine_jump, True, generator)
                keep = ~jump
                active, img_active, coarse_active, x, fine_probs, previous = (
                    v[keep] for v in (active, img_active, coarse_active, x, fine_probs,
                                      previous))
                if active.numel() == 0:
                    break
        return probs_out, fine_out
