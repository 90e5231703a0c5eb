from .inference import init_refiner, refine

__all__ = ['init_refiner', 'refine']
