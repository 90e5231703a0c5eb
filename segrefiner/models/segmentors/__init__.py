from .hr_inference import HR_DEFAULTS, global_local_inference, propose_patches
from .instance_inference import instance_inference, paste_mask
from .refiner import INFERENCE_MODES, Refiner, register_inference_mode
from .residual_refiner import ResidualRefiner

__all__ = [
    'INFERENCE_MODES', 'Refiner', 'register_inference_mode', 'HR_DEFAULTS',
    'global_local_inference', 'propose_patches', 'instance_inference', 'paste_mask',
    'ResidualRefiner'
]
