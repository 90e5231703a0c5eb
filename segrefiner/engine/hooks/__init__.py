from .instance_results_writer_hook import InstanceResultsWriterHook
from .refined_mask_writer_hook import RefinedMaskWriterHook

__all__ = ['RefinedMaskWriterHook', 'InstanceResultsWriterHook']
