from .diffusion_segmentor import DiffusionSegmentor
from .query_segmentor import QuerySegmentor
from .refiner import Refiner
from .residual_refiner import ResidualRefiner
from .ddpm_feature_segmentor import DDPMFeatureSegmentor

__all__ = ['DiffusionSegmentor', 'QuerySegmentor', 'Refiner', 'ResidualRefiner']
__all__ += ['DDPMFeatureSegmentor']
