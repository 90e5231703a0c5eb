"""Evaluation: reference-exact boundary/region metrics as functions and as registered metrics."""
from . import functional, instance  # noqa: F401
from .instance import InstanceAPMetric
from .metrics import BoundaryF1Metric, BoundaryIoUMetric, RefineMetric

__all__ = ['functional', 'BoundaryF1Metric', 'BoundaryIoUMetric', 'RefineMetric', 'instance',
           'InstanceAPMetric']
