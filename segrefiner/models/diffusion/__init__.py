"""Diffusion schedules, one vocabulary: ``sample_timesteps``, ``corrupt``, ``timesteps``,
``step`` and ``sample_loop``."""
from .discrete import DiscreteDiffusion
from .gaussian import GaussianDiffusion

__all__ = ['DiscreteDiffusion', 'GaussianDiffusion']
