from .crop_paste import crop_resize, mask_box, paste_prob, paste_region

__all__ = ['crop_resize', 'mask_box', 'paste_prob', 'paste_region']
