from .denoise_unet import DenoiseUNet, SinusoidalTimestepEmbedding
from .guided_diffusion_unet import GuidedDiffusionUNet
from .residual_unet import ResidualUNet

__all__ = ['DenoiseUNet', 'ResidualUNet', 'SinusoidalTimestepEmbedding']
__all__ += ['GuidedDiffusionUNet']
