"""segrefiner: model-agnostic segmentation refinement as an OpenMMLab (MMSegmentation) plugin.

Importing the package applies the stack's compatibility shims and registers every component in
MMSegmentation's registries (``default_scope='mmseg'``), so configs load it with
``custom_imports = dict(imports=['segrefiner'], allow_failed_imports=False)``.
"""
from .utils import compat

compat.apply_all()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models', 'visualization']
