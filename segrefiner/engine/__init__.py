from .hooks import InstanceResultsWriterHook, RefinedMaskWriterHook

__all__ = ['RefinedMaskWriterHook', 'InstanceResultsWriterHook']
