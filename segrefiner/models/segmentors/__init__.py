from .refiner import Refiner

__all__ = ['Refiner']
