from .crop_paste import (Box, change_weight, crop_resize, mask_box, paste_mask, paste_prob,
                         paste_region, paste_residual)
from .hr_patches import (confident_patches, crop_patch, merge_patches, mixed_patches,
                         propose_patches, resize_global, upsample_prob)
from .samples import stack_field

__all__ = [
    'Box', 'change_weight', 'crop_resize', 'mask_box', 'paste_mask', 'paste_prob',
    'paste_region', 'paste_residual', 'confident_patches', 'crop_patch',
    'merge_patches', 'mixed_patches', 'propose_patches', 'resize_global', 'upsample_prob',
    'stack_field'
]
