from .instance_results_writer_hook import InstanceResultsWriterHook
from .progress_bar_hook import ProgressBarHook
from .refined_mask_writer_hook import RefinedMaskWriterHook
from .rng_state_hook import TorchRNGStateHook

__all__ = [
    'RefinedMaskWriterHook', 'InstanceResultsWriterHook', 'ProgressBarHook', 'TorchRNGStateHook'
]
