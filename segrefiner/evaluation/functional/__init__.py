"""Reference-exact, vectorised evaluation functions (see ``docs/metrics.md``).

All take masks as numpy arrays or torch tensors of shape (H, W) or (1, H, W), bool, 0/1 or 0–255,
binarised by :func:`binarize` (0–255 data: ``>= 128``; 0/1 data: ``>= 0.5``).
"""
from .boundary_fmeasure import (BoundaryCounts, BoundaryFScore, bound_pixels, boundary_f1,
                          boundary_f1_counts, f_measure, seg2bmap)
from .mask_boundary import (boundary_dilation, boundary_intersection_union, boundary_iou,
                           mask_to_boundary)
from .overlap import intersection_union, iou, mean_iou, pooled_iou
from .boundary_acc import Band, band_accuracies, boundary_accuracy, boundary_bands, mba, mba_radii
from .utils import binarize, disk_kernel, ellipse_kernel

__all__ = [
    'BoundaryCounts', 'BoundaryFScore', 'bound_pixels', 'boundary_f1', 'boundary_f1_counts',
    'f_measure', 'seg2bmap', 'boundary_dilation', 'boundary_intersection_union', 'boundary_iou',
    'mask_to_boundary', 'intersection_union', 'iou', 'mean_iou', 'pooled_iou', 'Band',
    'band_accuracies', 'boundary_accuracy', 'boundary_bands', 'mba', 'mba_radii', 'binarize',
    'disk_kernel', 'ellipse_kernel'
]
