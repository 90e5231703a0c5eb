"""Every compatibility shim of the pinned stack, in one place.

The working set (torch 2.14, mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0, mmseg 1.2.2, lvis 0.5.3)
has known snags (``../shared/design/openmmlab.md`` §3). Importing :mod:`segrefiner` applies the
shims below once; each is idempotent and names the problem it solves.

1. mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 defaults to
   ``weights_only=True`` and refuses Runner checkpoints (they pickle the message hub), which breaks
   ``--resume``, ``load_from`` and ``tools/test.py``. The local-file checkpoint loader is
   re-registered to load trusted local files with ``weights_only=False``.
2. PyPI ``lvis`` 0.5.3 uses ``np.float``, removed in numpy 1.24.
3. mmengine's ``--launcher pytorch`` calls ``torch.cuda.set_device`` unconditionally, and the
   Runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only
   machine. :func:`patch_cpu_distributed` makes the launcher and the DDP wrapper CPU (gloo) aware.
4. Deprecation warnings of the stack that say nothing about our code are filtered.
"""
import os
import warnings

import numpy as np
import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.registry import MODEL_WRAPPERS

_APPLIED = False


def _load_from_local(filename: str, map_location=None):
    """Local checkpoint loader of mmengine, with ``weights_only=False``.

    Runner checkpoints pickle ``mmengine.logging.HistoryBuffer`` and numpy scalars, which
    torch's safe unpickler rejects. Only local files, which the user chose, take this path.
    """
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return torch.load(filename, map_location=map_location, weights_only=False)


def _register_local_loader() -> None:
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)


def _patch_numpy_aliases() -> None:
    # ``lvis/eval.py`` calls ``.astype(np.float)``; numpy >= 1.24 removed the alias.
    if 'float' not in np.__dict__:
        np.float = float  # type: ignore[attr-defined]


def _filter_warnings() -> None:
    for message in (r'.*torch\.jit\.script.*deprecated.*',
                    r'.*torch\.cuda\.amp\..*deprecated.*',
                    r'.*pkg_resources is deprecated.*',
                    r".*__array__ implementation doesn't accept a copy keyword.*",
                    r'.*On January 1, 2023, MMCV will release v2\.0\.0.*'):
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


def apply_all() -> None:
    """Apply the import-time shims (1, 2 and 4 above) once."""
    global _APPLIED
    if _APPLIED:
        return
    _register_local_loader()
    _patch_numpy_aliases()
    _filter_warnings()
    _APPLIED = True
