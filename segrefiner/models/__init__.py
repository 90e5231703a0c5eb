"""Model components, registered in ``mmseg.registry.MODELS``."""
from .data_preprocessor import RefineDataPreProcessor
from .decode_heads.discrete_diffusion_head import DiscreteDiffusionHead
from .denoisers.denoise_unet import DenoiseUNet
from .diffusion import DiscreteDiffusion
from .losses.texture_l1_loss import TextureL1Loss
from .segmentors.refiner import Refiner

__all__ = [
    'DenoiseUNet', 'DiscreteDiffusion', 'DiscreteDiffusionHead', 'RefineDataPreProcessor',
    'Refiner', 'TextureL1Loss'
]
