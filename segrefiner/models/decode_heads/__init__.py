from .discrete_diffusion_head import DiscreteDiffusionHead
from .gaussian_diffusion_head import GaussianDiffusionHead
from .pixel_classifier_ensemble import PixelClassifierEnsemble

__all__ = ['DiscreteDiffusionHead', 'GaussianDiffusionHead']
__all__ += ['PixelClassifierEnsemble']
