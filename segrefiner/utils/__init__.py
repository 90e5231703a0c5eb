from . import compat

__all__ = ['compat']
