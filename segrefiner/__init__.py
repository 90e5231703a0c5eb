"""segrefiner: model-agnostic segmentation refinement as an OpenMMLab (MMSegmentation) plugin.

Importing the package registers every component in MMSegmentation's registries
(``default_scope='mmseg'``) and the CPU-aware DDP wrapper in mmengine's, and changes nothing
else in the process: no checkpoint loader, numpy alias or warning filter. Configs load it with
``custom_imports = dict(imports=['segrefiner'], allow_failed_imports=False)``; the tools apply
the stack's shims for their run (:mod:`segrefiner.utils.compat`,
:mod:`segrefiner.utils.checkpoint`).
"""
from .utils import compat  # noqa: F401  (registers CPUAwareDistributedDataParallel)

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'datasets', 'engine', 'evaluation', 'models', 'visualization']
