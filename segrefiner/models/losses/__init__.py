from .texture_l1_loss import TextureL1Loss

__all__ = ['TextureL1Loss']
