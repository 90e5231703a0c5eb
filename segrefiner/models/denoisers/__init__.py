from .denoise_unet import DenoiseUNet, SinusoidalTimestepEmbedding
from .residual_unet import ResidualUNet

__all__ = ['DenoiseUNet', 'ResidualUNet', 'SinusoidalTimestepEmbedding']
