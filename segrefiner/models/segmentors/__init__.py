from .diffusion_segmentor import DiffusionSegmentor
from .refiner import Refiner
from .residual_refiner import ResidualRefiner

__all__ = ['DiffusionSegmentor', 'Refiner', 'ResidualRefiner']
