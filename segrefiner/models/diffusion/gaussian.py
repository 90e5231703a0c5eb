"""Gaussian diffusion: beta schedules, closed-form corruption, DDPM and DDIM reverse steps.

One object owns the schedule and its loop, in the vocabulary every schedule of
``segrefiner.models.diffusion`` speaks: :meth:`~GaussianDiffusion.sample_timesteps` and
:meth:`~GaussianDiffusion.corrupt` for training, :meth:`~GaussianDiffusion.timesteps`,
:meth:`~GaussianDiffusion.step` and :meth:`~GaussianDiffusion.sample_loop` for inference.

**Schedules** (``beta_schedule``), as guided-diffusion / improved-DDPM define them:

* ``'linear'``: ``β = linspace(s · 1e-4, s · 0.02, T)`` in float64 with ``s = 1000 / T``
  (``get_named_beta_schedule('linear', T)``);
* ``'cosine'``: ``β_i = min(1 − ᾱ((i + 1) / T) / ᾱ(i / T), max_beta)`` with
  ``ᾱ(τ) = cos²((τ + s) / (1 + s) · π / 2)``, ``s = 0.008`` (Nichol & Dhariwal, 2021).

**Timestep conventions** (``timestep_convention``):

* ``'ddpm'`` (guided-diffusion): timesteps ``t = 0..T−1`` with ``ᾱ_t = ∏_{s≤t} (1 − β_s)``;
  the clean state precedes ``t = 0``, so the reverse step at ``t = 0`` returns x̂0.
* ``'levels'`` (the residual refiner's): noise levels ``t = 0..T``; level 0 is the clean state
  (``ᾱ_0 = 1``) and level ``t`` has the ᾱ of ddpm timestep ``t − 1``. With the cosine
  schedule ᾱ is the closed form ``ᾱ(t / T) / ᾱ(0)`` and the last level is pure noise
  (``ᾱ_T = 0``): with T = 300, ᾱ_50 ≈ 0.93, ᾱ_100 ≈ 0.74, ᾱ_150 ≈ 0.49.

In both, the timestep ``-1`` (:data:`CLEAN`) names the clean state (ᾱ = 1), where the last
reverse step of a loop lands.

**Spacing** of the ``K`` visited timesteps (``timestep_spacing``), counted on positions
``p = 1..S`` above the clean state (``p = t + 1`` for ddpm, ``p = t`` for levels; ``S`` the
start's position):

* ``'leading'``: guided-diffusion's ``ddimK`` respacing, ``range(0, S, stride)`` with the
  smallest stride giving exactly K steps (T = 1000, K = 50: 980, 960, ..., 0);
* ``'trailing'``: ``round(linspace(S, 0, K + 1))[:-1]``, the residual refiner's levels
  (from level 100 in 5 steps: 100, 80, 60, 40, 20).
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

BETA_SCHEDULES = ('linear', 'cosine')
PREDICTION_TYPES = ('epsilon', 'x0', 'v')
TIMESTEP_CONVENTIONS = ('ddpm', 'levels')
TIMESTEP_SPACINGS = ('leading', 'trailing')
SAMPLERS = ('ddim', 'ddpm')
#: The timestep of the clean state (ᾱ = 1) in both conventions.
CLEAN = -1


def linear_betas(num_timesteps: int) -> np.ndarray:
    """guided-diffusion's linear schedule: (T,) float64 from ``scale · 1e-4`` to ``scale · 0.02``,
    ``scale = 1000 / T``."""
    scale = 1000 / num_timesteps
    return np.linspace(scale * 0.0001, scale * 0.02, num_timesteps, dtype=np.float64)


def cosine_alpha_bar(tau: float, offset: float = 0.008) -> float:
    """improved-DDPM's continuous ``ᾱ(τ) = cos²((τ + s) / (1 + s) · π / 2)``, τ in [0, 1]."""
    return math.cos((tau + offset) / (1 + offset) * math.pi / 2)**2


def cosine_betas(num_timesteps: int, offset: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """improved-DDPM's ``betas_for_alpha_bar``: (T,) float64, each at most ``max_beta``."""
    betas = [
        min(1 - cosine_alpha_bar((i + 1) / num_timesteps, offset) /
            cosine_alpha_bar(i / num_timesteps, offset), max_beta) for i in range(num_timesteps)
    ]
    return np.array(betas, dtype=np.float64)


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f'{name} must be one of {list(choices)}, got {value!r}')
    return value


@MODELS.register_module()
class GaussianDiffusion(nn.Module):
    """A Gaussian noise schedule with its training corruption and its reverse process.

    ``x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε``; the reverse step turns the model output into x̂0
    (``prediction_type``), optionally clips it to [-1, 1], and moves to the previous timestep by
    the DDPM posterior (ancestral, 'fixed_small' variance) or by DDIM with η.

    Args:
        num_timesteps (int): T. Defaults to 1000.
        beta_schedule (str): ``'linear'`` or ``'cosine'`` (see the module docstring).
            Defaults to 'linear'.
        timestep_convention (str): ``'ddpm'`` (t = 0..T−1) or ``'levels'`` (t = 0..T, 0 clean).
            Defaults to 'ddpm'.
        prediction_type (str): what the denoiser predicts: ``'epsilon'`` (the noise),
            ``'x0'`` (the clean state) or ``'v'`` (``sqrt(ᾱ) ε − sqrt(1 − ᾱ) x0``).
            Defaults to 'epsilon'.
        clip_sample (bool): clip x̂0 to [-1, 1] in :meth:`step`. Defaults to True.
        timestep_spacing (str): ``'leading'`` or ``'trailing'`` for :meth:`timesteps`.
            Defaults to 'leading'.
        cosine_offset (float): the cosine schedule's s. Defaults to 0.008.
        max_beta (float): the cosine betas' upper bound (ddpm convention). Defaults to 0.999.

    Example:
        >>> ddpm = GaussianDiffusion(num_timesteps=1000, beta_schedule='linear')
        >>> ddpm.timesteps(50)[:3], ddpm.timesteps(50)[-1]
        ([980, 960, 940], 0)
        >>> refiner = GaussianDiffusion(num_timesteps=300, beta_schedule='cosine',
        ...                             timestep_convention='levels', prediction_type='x0',
        ...                             clip_sample=False, timestep_spacing='trailing')
        >>> refiner.timesteps(5, start=100)
        [100, 80, 60, 40, 20]
    """

    def __init__(self,
                 num_timesteps: int = 1000,
                 beta_schedule: str = 'linear',
                 timestep_convention: str = 'ddpm',
                 prediction_type: str = 'epsilon',
                 clip_sample: bool = True,
                 timestep_spacing: str = 'leading',
                 cosine_offset: float = 0.008,
                 max_beta: float = 0.999) -> None:
        super().__init__()
        if num_timesteps < 1:
            raise ValueError(f'num_timesteps must be >= 1, got {num_timesteps}')
        self.num_timesteps = num_timesteps
        self.beta_schedule = _choice('beta_schedule', beta_schedule, BETA_SCHEDULES)
        self.timestep_convention = _choice('timestep_convention', timestep_convention,
                                           TIMESTEP_CONVENTIONS)
        self.prediction_type = _choice('prediction_type', prediction_type, PREDICTION_TYPES)
        self.timestep_spacing = _choice('timestep_spacing', timestep_spacing,
                                        TIMESTEP_SPACINGS)
        self.clip_sample = clip_sample

        if beta_schedule == 'linear':
            ddpm_betas = linear_betas(num_timesteps)
        else:
            ddpm_betas = cosine_betas(num_timesteps, cosine_offset, max_beta)
        if not ((ddpm_betas > 0).all() and (ddpm_betas <= 1).all()):
            raise ValueError(f'the {beta_schedule} schedule with num_timesteps={num_timesteps} '
                             f'has betas outside (0, 1] (max {ddpm_betas.max():.3g}); the '
                             f'linear one needs num_timesteps >= 20')
        if timestep_convention == 'ddpm':
            betas = torch.from_numpy(ddpm_betas)
            alphas_cumprod = torch.from_numpy(np.cumprod(1.0 - ddpm_betas, axis=0))
        else:
            if beta_schedule == 'cosine':  # closed form, pure noise at level T
                t = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
                f = torch.cos((t + cosine_offset) / (1 + cosine_offset) * math.pi / 2)**2
                alphas_cumprod = (f / f[0]).clamp(0.0, 1.0)
                alphas_cumprod[-1] = 0.0
            else:
                alphas_cumprod = torch.from_numpy(
                    np.concatenate([[1.0], np.cumprod(1.0 - ddpm_betas, axis=0)]))
            betas = torch.cat([alphas_cumprod.new_zeros(1),
                               1 - alphas_cumprod[1:] / alphas_cumprod[:-1]])
        # (N,) float64, N = T (ddpm) or T + 1 (levels); not saved in checkpoints
        self.register_buffer('betas', betas, persistent=False)
        self.register_buffer('alphas_cumprod', alphas_cumprod, persistent=False)

    # ----------------------------------------------------------------- schedule
    @property
    def max_timestep(self) -> int:
        """The noisiest timestep: T − 1 (ddpm) or T (levels)."""
        return self.alphas_cumprod.numel() - 1

    def alpha_cumprod(self, t: int) -> float:
        """ᾱ at timestep ``t`` (:data:`CLEAN` = -1 gives 1.0), as a float64 Python float."""
        if not CLEAN <= t <= self.max_timestep:
            raise ValueError(f'timestep must be in [{CLEAN}, {self.max_timestep}], got {t}')
        return 1.0 if t == CLEAN else float(self.alphas_cumprod[t])

    def _alpha(self, t: Union[int, Tensor], like: Tensor) -> Union[float, Tensor]:
        """ᾱ_t as a float (int ``t``) or a (B, 1, ..., 1) tensor of ``like``'s dtype
        ((B,) ``t``), cast before any arithmetic."""
        if isinstance(t, Tensor):
            return self.alphas_cumprod[t].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))
        return self.alpha_cumprod(t)

    @staticmethod
    def _sqrt(value: Union[float, Tensor]) -> Union[float, Tensor]:
        return value.sqrt() if isinstance(value, Tensor) else math.sqrt(value)

    # ----------------------------------------------------------------- training
    def sample_timesteps(self, batch_size: int, device: torch.device,
                         generator: Optional[torch.Generator] = None) -> Tensor:
        """Uniform training timesteps, one per sample: (B,) int64 in [0, N), N = T (ddpm) or
        T + 1 (levels)."""
        return torch.randint(0, self.max_timestep + 1, (batch_size, ), generator=generator,
                             device=device)

    def corrupt(self, x0: Tensor, t: Tensor, target: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """``x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε`` in closed form (guided-diffusion's
        ``q_sample``).

        ᾱ_t is cast to ``x0``'s dtype before the square roots (the arithmetic of the residual
        refiner's first version, kept bit for bit; guided-diffusion rounds float64 roots to
        float32, which differs by at most one ulp per coefficient).

        Args:
            x0 (Tensor): (B, ...) clean state, e.g. (B, C, H, W) in [-1, 1].
            t (Tensor): (B,) int64 timesteps in [0, N).
            target (Tensor, optional): (B, ...) the standard normal noise ε; drawn from
                ``generator`` when None.
            generator (torch.Generator, optional): source of ε when ``target`` is None.

        Returns:
            Tensor: (B, ...) noisy state ``x_t``.
        """
        if target is None:
            target = torch.randn(x0.shape, generator=generator, device=x0.device,
                                 dtype=x0.dtype)
        alpha = self._alpha(t, x0)
        return alpha.sqrt() * x0 + (1 - alpha).sqrt() * target

    def prediction_target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """What the denoiser should output for ``corrupt(x0, t, noise)``: ε, x0 or
        ``v = sqrt(ᾱ_t) ε − sqrt(1 − ᾱ_t) x0`` by ``prediction_type``.

        Args:
            x0 (Tensor): (B, ...) clean state.
            noise (Tensor): (B, ...) the ε given to :meth:`corrupt`.
            t (Tensor): (B,) int64 timesteps.

        Returns:
            Tensor: (B, ...) the regression target.
        """
        if self.prediction_type == 'epsilon':
            return noise
        if self.prediction_type == 'x0':
            return x0
        alpha = self._alpha(t, x0)
        return alpha.sqrt() * noise - (1 - alpha).sqrt() * x0

    # ----------------------------------------------------------------- model output
    def predict_x0(self, model_output: Tensor, t: Union[int, Tensor], x_t: Tensor) -> Tensor:
        """x̂0 from the model output (by ``prediction_type``), clipped if ``clip_sample``.

        ε: ``sqrt(1 / ᾱ) x_t − sqrt(1 / ᾱ − 1) ε̂``; v: ``sqrt(ᾱ) x_t − sqrt(1 − ᾱ) v̂``.

        Args:
            model_output (Tensor): (B, ...) denoiser output.
            t (int | Tensor): the timestep, shared (int) or per sample ((B,) int64).
            x_t (Tensor): (B, ...) the state the model saw.

        Returns:
            Tensor: (B, ...) x̂0.
        """
        if self.prediction_type == 'x0':
            x0 = model_output
        else:
            alpha = self._alpha(t, x_t)
            if self.prediction_type == 'epsilon':
                x0 = self._sqrt(1 / alpha) * x_t - self._sqrt(1 / alpha - 1) * model_output
            else:
                x0 = self._sqrt(alpha) * x_t - self._sqrt(1 - alpha) * model_output
        return x0.clamp(-1, 1) if self.clip_sample else x0

    def predict_eps(self, x_t: Tensor, t: Union[int, Tensor], x0: Tensor) -> Tensor:
        """The noise implied by x̂0: ``ε̂ = (x_t − sqrt(ᾱ_t) x̂0) / sqrt(1 − ᾱ_t)`` (ᾱ_t < 1).

        Args:
            x_t (Tensor): (B, ...) state at ``t``.
            t (int | Tensor): the timestep, shared (int) or per sample ((B,) int64).
            x0 (Tensor): (B, ...) x̂0.

        Returns:
            Tensor: (B, ...) ε̂.
        """
        alpha = self._alpha(t, x_t)
        return (x_t - self._sqrt(alpha) * x0) / self._sqrt(1 - alpha)

    # ----------------------------------------------------------------- inference
    def timesteps(self, num_steps: Optional[int] = None, start: Optional[int] = None) -> List[int]:
        """The descending timesteps a reverse run visits, ``timestep_spacing`` apart.

        Each step predicts x̂0 and moves to the next timestep of the list; after the last one
        the state is clean. A full DDPM run is ``timesteps(T)`` (ddpm: T − 1, ..., 0); DDIM
        takes K < T; the residual refiner starts part-way, ``timesteps(K, start=t_level)``.

        Args:
            num_steps (int, optional): K, the number of network evaluations,
                1 <= K <= max(S, 1) with S the start's position (``start + 1`` for ddpm,
                ``start`` for levels). Defaults to every timestep from ``start``.
            start (int, optional): the first timestep, in [0, ``max_timestep``]. Defaults to
                ``max_timestep`` (pure noise, or nearly).

        Returns:
            list[int]: K strictly decreasing timesteps, the first being ``start`` for
            'trailing'.
        """
        if start is None:
            start = self.max_timestep
        if not 0 <= start <= self.max_timestep:
            raise ValueError(f'start must be in [0, {self.max_timestep}], got {start}')
        offset = 1 if self.timestep_convention == 'ddpm' else 0
        size = start + offset  # positions 1..size lie above the clean state
        limit = max(size, 1)
        if num_steps is None:
            num_steps = limit
        if not 1 <= num_steps <= limit:
            raise ValueError(f'num_steps must be in [1, max(start position, 1)] = [1, {limit}] '
                             f'so that every step has its own timestep, got {num_steps}')
        if size == 0:  # levels from the clean level: one step at level 0
            return [0]
        if self.timestep_spacing == 'trailing':
            positions = np.round(np.linspace(size, 0, num_steps + 1))[:-1]
        else:
            stride = next((s for s in range(1, size + 1) if len(range(0, size, s)) == num_steps),
                          None)
            if stride is None:
                raise ValueError(
                    f'no stride gives exactly {num_steps} steps over {size} timesteps '
                    f"(guided-diffusion's ddimK rule, timestep_spacing='leading'): choose "
                    f"another number of steps or timestep_spacing='trailing'")
            positions = np.arange(0, size, stride)[::-1] + 1
        return [int(p) - offset for p in positions]

    def step(self,
             model_output: Tensor,
             t: int,
             x_t: Tensor,
             prev_t: Optional[int] = None,
             sampler: str = 'ddim',
             eta: float = 0.0,
             generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """One reverse update from timestep ``t`` to ``prev_t < t``.

        * ``'ddim'``: ``x_prev = sqrt(ᾱ_prev) x̂0 + sqrt(1 − ᾱ_prev − σ²) ε̂ + σ z`` with
          ``σ = η sqrt((1 − ᾱ_prev) / (1 − ᾱ_t)) sqrt(1 − ᾱ_t / ᾱ_prev)``; η = 0 is
          deterministic.
        * ``'ddpm'``: ancestral sampling from the posterior q(x_prev | x_t, x̂0) as in
          guided-diffusion, mean ``β' sqrt(ᾱ_prev) / (1 − ᾱ_t) x̂0 +
          (1 − ᾱ_prev) sqrt(α') / (1 − ᾱ_t) x_t`` and variance ('fixed_small')
          ``β' (1 − ᾱ_prev) / (1 − ᾱ_t)``, where ``α' = 1 − β' = ᾱ_t / ᾱ_prev`` (β_t itself for
          adjacent ddpm timesteps).

        Landing on the clean state (ᾱ_prev = 1) both return x̂0; no noise is drawn then.

        Args:
            model_output (Tensor): (B, ...) denoiser output at ``t``.
            t (int): the current timestep, shared by the batch.
            x_t (Tensor): (B, ...) the current state.
            prev_t (int, optional): the timestep to move to, :data:`CLEAN` (-1) for the clean
                state. Defaults to ``t − 1``.
            sampler (str): ``'ddim'`` or ``'ddpm'``. Defaults to 'ddim'.
            eta (float): DDIM's η (0 deterministic, 1 the DDPM variance). Defaults to 0.
            generator (torch.Generator, optional): source of the noise z.

        Returns:
            tuple[Tensor, Tensor]: (B, ...) ``x_prev`` and x̂0.
        """
        _choice('sampler', sampler, SAMPLERS)
        if sampler == 'ddpm' and eta != 0:
            raise ValueError(f"eta applies to sampler='ddim', got eta={eta} with 'ddpm'")
        if prev_t is None:
            prev_t = t - 1
        if not CLEAN <= prev_t < t <= self.max_timestep:
            raise ValueError(f'a step needs {CLEAN} <= prev_t < t <= {self.max_timestep}, got '
                             f't={t}, prev_t={prev_t}')
        x0 = self.predict_x0(model_output, t, x_t)
        alpha, alpha_prev = self.alpha_cumprod(t), self.alpha_cumprod(prev_t)
        if alpha_prev == 1.0:
            return x0, x0
        if sampler == 'ddim':
            eps = self.predict_eps(x_t, t, x0)
            sigma = (eta * math.sqrt((1 - alpha_prev) / (1 - alpha)) *
                     math.sqrt(1 - alpha / alpha_prev))
            x_prev = math.sqrt(alpha_prev) * x0 + math.sqrt(1 - alpha_prev - sigma**2) * eps
        else:
            if self.timestep_convention == 'ddpm' and prev_t == t - 1:
                beta = float(self.betas[t])
                step_alpha = 1.0 - beta
            else:
                step_alpha = alpha / alpha_prev
                beta = 1.0 - step_alpha
            coef_x0 = beta * math.sqrt(alpha_prev) / (1.0 - alpha)
            coef_xt = (1.0 - alpha_prev) * math.sqrt(step_alpha) / (1.0 - alpha)
            x_prev = coef_x0 * x0 + coef_xt * x_t
            sigma = math.sqrt(beta * (1.0 - alpha_prev) / (1.0 - alpha))
        if sigma > 0:
            noise = torch.randn(x_t.shape, generator=generator, device=x_t.device,
                                dtype=x_t.dtype)
            x_prev = x_prev + sigma * noise
        return x_prev, x0

    @torch.no_grad()
    def sample_loop(self,
                    denoise_fn: Callable[[Tensor, Tensor], Tensor],
                    x_T: Union[Tensor, Sequence[int]],
                    timesteps: Optional[Sequence[int]] = None,
                    sampler: str = 'ddim',
                    eta: float = 0.0,
                    generator: Optional[torch.Generator] = None,
                    callback: Optional[Callable[[int, Tensor, Tensor], None]] = None,
                    device: Optional[torch.device] = None) -> Tensor:
        """Run the reverse process (sampling: no gradients are kept).

        Args:
            denoise_fn (Callable): ``(x_t (B, ...), t (B,) int64) -> model output (B, ...)`` in
                this schedule's ``prediction_type``; conditioning is the caller's closure.
            x_T (Tensor | Sequence[int]): the starting state (B, ...) at ``timesteps[0]`` (e.g.
                :meth:`corrupt` of a prediction, as the residual refiner starts), or its shape
                to start from standard normal noise drawn from ``generator``.
            timesteps (Sequence[int], optional): strictly decreasing timesteps; defaults to
                :meth:`timesteps` (all of them). After the last one the state is clean.
            sampler (str): ``'ddim'`` or ``'ddpm'`` (:meth:`step`). Defaults to 'ddim'.
            eta (float): DDIM's η. Defaults to 0.
            generator (torch.Generator, optional): source of the starting and step noise.
            callback (Callable, optional): ``callback(t, x_prev, x0_pred)`` after every step
                (e.g. to record the reverse process).
            device (torch.device, optional): where to draw ``x_T`` from a shape; defaults to
                this module's.

        Returns:
            Tensor: (B, ...) the final state, the last step's x̂0.
        """
        if isinstance(x_T, Tensor):
            x = x_T
        else:
            x = torch.randn(tuple(x_T), generator=generator,
                            device=device if device is not None else self.alphas_cumprod.device)
        timesteps = list(self.timesteps() if timesteps is None else timesteps)
        if not timesteps:
            raise ValueError('sample_loop needs at least one timestep')
        if any(not 0 <= t <= self.max_timestep for t in timesteps) or any(
                a <= b for a, b in zip(timesteps, timesteps[1:])):
            raise ValueError(f'timesteps must decrease strictly within [0, {self.max_timestep}]'
                             f', got {timesteps}')
        for i, t in enumerate(timesteps):
            prev_t = timesteps[i + 1] if i + 1 < len(timesteps) else CLEAN
            output = denoise_fn(x, x.new_full((x.shape[0], ), t, dtype=torch.long))
            x, x0 = self.step(output, t, x, prev_t, sampler, eta, generator)
            if callback is not None:
                callback(t, x, x0)
        return x
