from . import checkpoint, compat

__all__ = ['checkpoint', 'compat']
