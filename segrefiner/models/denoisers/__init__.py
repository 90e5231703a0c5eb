from .denoise_unet import DenoiseUNet

__all__ = ['DenoiseUNet']
