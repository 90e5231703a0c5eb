"""Model components, registered in ``mmseg.registry.MODELS``."""
from .backbones.ddpm_feature_extractor import DDPMFeatureExtractor
from .data_preprocessor import RefineDataPreProcessor
from .decode_heads.discrete_diffusion_head import DiscreteDiffusionHead
from .decode_heads.gaussian_diffusion_head import GaussianDiffusionHead
from .decode_heads.pixel_classifier_ensemble import PixelClassifierEnsemble
from .decode_heads.query_decoder_head import QueryDecoderHead
from .denoisers.denoise_unet import DenoiseUNet
from .denoisers.guided_diffusion_unet import GuidedDiffusionUNet
from .denoisers.residual_unet import ResidualUNet
from .diffusion import DiscreteDiffusion, GaussianDiffusion
from .generative.image_ddpm import ImageDDPM
from .losses.texture_l1_loss import TextureL1Loss
from .segmentors.ddpm_feature_segmentor import DDPMFeatureSegmentor
from .segmentors.diffusion_segmentor import DiffusionSegmentor
from .segmentors.query_segmentor import QuerySegmentor
from .segmentors.refiner import Refiner
from .segmentors.residual_refiner import ResidualRefiner

__all__ = [
    'DenoiseUNet', 'DiffusionSegmentor', 'DiscreteDiffusion', 'DiscreteDiffusionHead',
    'GaussianDiffusionHead', 'RefineDataPreProcessor', 'Refiner', 'TextureL1Loss',
    'GaussianDiffusion', 'ResidualRefiner', 'ResidualUNet', 'QueryDecoderHead', 'QuerySegmentor'
]
__all__ += ['DDPMFeatureExtractor', 'DDPMFeatureSegmentor', 'GuidedDiffusionUNet', 'ImageDDPM',
            'PixelClassifierEnsemble']
