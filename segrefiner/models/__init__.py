"""Model components, registered in ``mmseg.registry.MODELS``."""
from .data_preprocessor import RefineDataPreProcessor
from .decode_heads.discrete_diffusion_head import DiscreteDiffusionHead
from .decode_heads.gaussian_diffusion_head import GaussianDiffusionHead
from .denoisers.denoise_unet import DenoiseUNet
from .denoisers.residual_unet import ResidualUNet
from .diffusion import DiscreteDiffusion, GaussianDiffusion
from .losses.texture_l1_loss import TextureL1Loss
from .segmentors.diffusion_segmentor import DiffusionSegmentor
from .segmentors.refiner import Refiner
from .segmentors.residual_refiner import ResidualRefiner

__all__ = [
    'DenoiseUNet', 'DiffusionSegmentor', 'DiscreteDiffusion', 'DiscreteDiffusionHead',
    'GaussianDiffusionHead', 'RefineDataPreProcessor', 'Refiner', 'TextureL1Loss',
    'GaussianDiffusion', 'ResidualRefiner', 'ResidualUNet'
]
