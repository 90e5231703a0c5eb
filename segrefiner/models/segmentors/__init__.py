from .refiner import Refiner
from .residual_refiner import ResidualRefiner

__all__ = ['Refiner', 'ResidualRefiner']
