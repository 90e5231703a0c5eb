from .refiner import INFERENCE_MODES, Refiner, register_inference_mode

__all__ = ['INFERENCE_MODES', 'Refiner', 'register_inference_mode']
