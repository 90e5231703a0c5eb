from .hooks import RefinedMaskWriterHook

__all__ = ['RefinedMaskWriterHook']
