from .discrete_diffusion_head import DiscreteDiffusionHead
from .gaussian_diffusion_head import GaussianDiffusionHead
from .query_decoder_head import QueryDecoderHead
from .pixel_classifier_ensemble import PixelClassifierEnsemble

__all__ = ['DiscreteDiffusionHead', 'GaussianDiffusionHead', 'QueryDecoderHead']
__all__ += ['PixelClassifierEnsemble']
