"""Data transforms of segrefiner, registered in ``mmseg.registry.TRANSFORMS``."""
from .border_class import AddBorderClass, add_border_class, border_band
from .coarse_mask import (GenerateCoarseMask, GenerateLowResCoarseMask, degrade_polygons,
                          mask_bbox, mask_iou, perturb_mask, random_morphology, resample_mask)
from .crop import ObjectCrop
from .formatting import PackRefineInputs
from .instance import LoadCoarseInstances, LoadRandomInstanceMask, PackInstanceRefineInputs
from .label_loading import (LoadCheckedAnnotations, LoadCOCOHumansAnnotations,
                            coco_segmentation_to_mask)
from .loading import (LoadBinaryAnnotations, LoadCoarseMask, LoadRefineImageFromFile,
                      read_binary_mask)
from .multi_view import MultiViewPack
from .offline_coarse_mask import LoadOfflineCoarseMask
from .patch_crop import PatchCrop
from .random_object_crop import RandomObjectCrop
from .seg_loading import LoadThresholdedAnnotations, read_grey_mask  # noqa: F401

__all__ = [
    'LoadCoarseInstances', 'LoadRandomInstanceMask', 'PackInstanceRefineInputs',
    'GenerateCoarseMask', 'GenerateLowResCoarseMask', 'LoadBinaryAnnotations', 'LoadCoarseMask',
    'LoadRefineImageFromFile', 'ObjectCrop', 'PackRefineInputs', 'degrade_polygons',
    'mask_bbox', 'mask_iou', 'perturb_mask', 'random_morphology', 'read_binary_mask',
    'resample_mask', 'LoadOfflineCoarseMask', 'MultiViewPack', 'PatchCrop', 'RandomObjectCrop',
    'AddBorderClass', 'add_border_class', 'border_band', 'LoadCheckedAnnotations',
    'LoadCOCOHumansAnnotations', 'coco_segmentation_to_mask'
]
