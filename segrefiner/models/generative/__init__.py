from .image_ddpm import ImageDDPM

__all__ = ['ImageDDPM']
