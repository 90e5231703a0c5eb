from .discrete_diffusion_head import DiscreteDiffusionHead

__all__ = ['DiscreteDiffusionHead']
