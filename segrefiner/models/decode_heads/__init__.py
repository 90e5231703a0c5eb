from .discrete_diffusion_head import DiscreteDiffusionHead
from .gaussian_diffusion_head import GaussianDiffusionHead

__all__ = ['DiscreteDiffusionHead', 'GaussianDiffusionHead']
