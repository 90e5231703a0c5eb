from .crop_paste import crop_resize, mask_box, paste_prob

__all__ = ['crop_resize', 'mask_box', 'paste_prob']
