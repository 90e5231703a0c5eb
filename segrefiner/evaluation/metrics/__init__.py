"""Registered MMEngine metrics (``mmseg.registry.METRICS``)."""
from .boundary_f1_metric import BoundaryF1Metric
from .boundary_iou_metric import BoundaryIoUMetric
from .refine_metric import RefineMetric

__all__ = ['BoundaryF1Metric', 'BoundaryIoUMetric', 'RefineMetric']
