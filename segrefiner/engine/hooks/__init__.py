from .refined_mask_writer_hook import RefinedMaskWriterHook

__all__ = ['RefinedMaskWriterHook']
