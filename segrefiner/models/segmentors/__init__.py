from .ddpm_feature_segmentor import DDPMFeatureSegmentor
from .diffusion_segmentor import DiffusionSegmentor
from .refiner import Refiner
from .residual_refiner import ResidualRefiner

__all__ = ['DiffusionSegmentor', 'Refiner', 'ResidualRefiner']
__all__ += ['DDPMFeatureSegmentor']
