"""The compatibility shims of the pinned stack that segrefiner's tools apply, in one place.

The working set (torch 2.14, mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0, mmseg 1.2.2, lvis 0.5.3)
has known snags. Importing :mod:`segrefiner` only registers components (here: the DDP wrapper
below); each shim is applied by the tool that needs it, not by the import:

1. mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 defaults to
   ``weights_only=True`` and refuses Runner checkpoints (they pickle the message hub), which breaks
   ``--resume``, ``load_from`` and ``tools/test.py``. ``tools/train.py``, ``tools/test.py`` and
   ``init_refiner`` load through :mod:`segrefiner.utils.checkpoint` instead: ``weights_only=True``
   with an allow-list of what a Runner checkpoint holds, installed for the run only.
2. PyPI ``lvis`` 0.5.3 uses ``np.float``, removed in numpy 1.24: the alias exists only around the
   lvis call (:mod:`segrefiner.evaluation.instance.lvis_eval`).
3. mmengine's ``--launcher pytorch`` calls ``torch.cuda.set_device`` unconditionally, and the
   Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only
   machine. :func:`patch_cpu_distributed` (called by :func:`~.run_config.load_run_config` for a
   distributed launch) makes the launcher and the DDP wrapper CPU (gloo) aware.
4. Deprecation warnings of the stack that say nothing about our code:
   :func:`filter_stack_warnings`, called by the tools (``pytest.ini`` filters them for the tests).
"""
import warnings

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

#: ``warnings.filterwarnings('ignore', message=...)`` patterns of :func:`filter_stack_warnings`.
STACK_WARNINGS = (
    r'.*torch\.jit\.script.*deprecated.*',
    r'.*torch\.cuda\.amp\..*deprecated.*',
    r'.*pkg_resources is deprecated.*',
    r".*__array__ implementation doesn't accept a copy keyword.*",
    r'.*On January 1, 2023, MMCV will release v2\.0\.0.*',
)


def filter_stack_warnings() -> None:
    """Ignore the stack's deprecation warnings (:data:`STACK_WARNINGS`) in this process.

    For the tools' ``main()``; a library import must not call it.
    """
    for message in STACK_WARNINGS:
        warnings.filterwarnings('ignore', message=message)


# Registered in mmengine's root registry: ``Runner.wrap_model`` looks wrappers up there.
@MODEL_WRAPPERS.register_module()
class CPUAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for a CPU module.

    The Runner passes ``device_ids=[LOCAL_RANK]`` to every DDP wrapper; torch's DDP rejects
    ``device_ids`` for a module whose parameters live on the CPU (gloo training).
    """

    def __init__(self, module: torch.nn.Module, device_ids=None, **kwargs) -> None:
        param = next(module.parameters(), None)
        if param is not None and param.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def patch_cpu_distributed(cfg) -> None:
    """Make ``--launcher pytorch`` work on a machine without a usable GPU.

    Switches the process-group backend to gloo, makes mmengine's launcher skip
    ``torch.cuda.set_device`` and selects :class:`CPUAwareDistributedDataParallel` as the model
    wrapper. Does nothing when CUDA is available.

    Args:
        cfg (mmengine.Config): the run's config, changed in place.
    """
    if torch.cuda.is_available():
        return
    import mmengine.dist.utils as dist_utils

    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper_cfg = cfg.get('model_wrapper_cfg') or {}
    wrapper_cfg['type'] = 'CPUAwareDistributedDataParallel'
    cfg['model_wrapper_cfg'] = wrapper_cfg

    if getattr(dist_utils._init_dist_pytorch, '_segrefiner_cpu', False):
        return

    def _init_dist_pytorch_cpu(backend, init_backend='torch', **kwargs) -> None:
        torch.distributed.init_process_group(backend='gloo', **kwargs)

    _init_dist_pytorch_cpu._segrefiner_cpu = True  # type: ignore[attr-defined]
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu
