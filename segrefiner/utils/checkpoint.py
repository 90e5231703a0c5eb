"""Checkpoint loading that never executes a file and never leaves weights random.

A ``.pth`` file is a pickle, and unpickling may call any function the file names. Everything
segrefiner loads goes through :func:`load_checkpoint_file`:

* ``torch.load(weights_only=True)`` with an allow-list (:data:`SAFE_GLOBALS`) of exactly what a
  mmengine Runner checkpoint holds besides tensors and builtins: the message hub's
  ``HistoryBuffer`` (whose pickled statistics are ``getattr(HistoryBuffer, 'mean')`` & co.,
  allowed for those four names only) and numpy arrays, scalars and numeric dtypes. The list is
  active only during our own loads (a ``safe_globals``-style context), never process-wide.
* anything else is refused with :class:`UntrustedCheckpointError`, which names the types and the
  opt-in for a file the user trusts (``--trust-checkpoint``, ``trust_checkpoint=True``);
* an empty, truncated or foreign file is a :class:`CheckpointError` naming the file and the
  problem, not an unpickling traceback.

:func:`check_state_dict_fits` refuses a checkpoint whose keys or shapes differ from the model's
(a checkpoint of another config, or an unconverted original ``denoise_model.*`` one), which
mmengine's non-strict ``load_from`` would load with a warning, leaving random weights.

Nothing here changes global state at import. The tools install it for the run with
:class:`CheckpointGuard`::

    with CheckpointGuard(trust=args.trust_checkpoint) as guard:
        runner = Runner.from_cfg(cfg)
        runner.register_hook(guard)
        runner.test()
"""
import os.path as osp
import pickle
import re
import shlex
import zipfile
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader

try:  # numpy >= 2 pickles ``numpy._core``; numpy 1.26 has the alias and pickles ``numpy.core``
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy < 1.26
    from numpy.core import multiarray as _multiarray

# The statistics methods that ``HistoryBuffer.__getstate__`` pickles by name.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# Original (unconverted) SegRefiner checkpoints hold the UNet under this prefix.
ORIGINAL_PREFIX = 'denoise_model.'
TRUST_HINT = ('Load it only if you trust the file (a pickle can run code): pass '
              '--trust-checkpoint to tools/train.py or tools/test.py, or trust_checkpoint=True to '
              'segrefiner.apis.init_refiner.')


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded: unreadable, untrusted, or not fitting the model."""


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint that needs types outside :data:`SAFE_GLOBALS` to be unpickled."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose keys or shapes differ from the model's."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """``getattr`` as a Runner checkpoint uses it: ``HistoryBuffer.{min,max,current,mean}``."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(obj, name)
    where = f'{obj.__module__}.{obj.__qualname__}' if isinstance(obj, type) else type(obj).__name__
    raise pickle.UnpicklingError(f'Unsupported global: GLOBAL builtins.getattr({where}, {name!r})')


def _numeric_dtype_classes() -> List[type]:
    """``numpy.dtypes.*DType`` of bool and the fixed-size integer and float types."""
    return sorted({type(np.dtype(code)) for code in '?bBhHiIlLqQefd'}, key=lambda t: t.__name__)


#: What a Runner checkpoint needs besides torch's default allow-list (found by training a tiny
#: model with tools/train.py and loading its checkpoint with ``weights_only=True``). Entries are
#: objects or ``(object, 'module.name as pickled')`` pairs (``torch.serialization.safe_globals``).
SAFE_GLOBALS: List[Union[Callable, Tuple[Callable, str]]] = [
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
    np.ndarray,
    np.dtype,
    *_numeric_dtype_classes(),
    (_multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
    (_multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
    (_multiarray.scalar, 'numpy.core.multiarray.scalar'),
    (_multiarray.scalar, 'numpy._core.multiarray.scalar'),
]


def _allowed_names() -> set:
    names = set()
    for entry in SAFE_GLOBALS:
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f'{entry.__module__}.{entry.__qualname__}')
    return names


@contextmanager
def _safe_globals() -> Iterator[None]:
    """:data:`SAFE_GLOBALS` for the duration; the user's own safe globals are left as they were
    (``torch.serialization.safe_globals`` would remove entries the user had added too)."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals(SAFE_GLOBALS)
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)


def _check_container(filename: str) -> None:
    """Refuse an empty file, a truncated zip or a file that is not a torch checkpoint."""
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointError(f'checkpoint file {filename} is empty (0 bytes)')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK'):  # torch.save's zip format (torch >= 1.6)
        try:
            with zipfile.ZipFile(filename) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as exc:
            raise CheckpointError(
                f'checkpoint file {filename} is a truncated or corrupt zip archive ({size} bytes:'
                f' {exc}); copy or download it again') from None
        if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
            raise CheckpointError(f'checkpoint file {filename} is a zip archive but not a torch '
                                  f'checkpoint (no data.pkl among {names[:5]})')
    elif not head.startswith(b'\x80'):  # legacy torch.save: pickle protocol >= 2
        raise CheckpointError(
            f'checkpoint file {filename} is not a torch checkpoint: it is neither a zip archive '
            f'(torch.save since torch 1.6) nor a legacy torch pickle (it starts with {head!r})')


def _untrusted_error(filename: str, exc: Exception) -> UntrustedCheckpointError:
    """The error for a file that needs globals outside the allow-list, naming them."""
    names: List[str] = []
    try:
        allowed = _allowed_names()
        names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(filename)
                 if n not in allowed]
    except Exception:  # legacy format: only the first refused global is known
        pass
    match = re.search(r'Unsupported global: GLOBAL (\S+?\(.*?\)|\S+)', str(exc))
    if match:
        found = match.group(1)
        if '.' not in found.split('(')[0]:  # torch writes builtins.open as "open"
            found = f'builtins.{found}'
        if found not in names:
            names.append(found)
    if not names:
        match = re.search(r'but got (<class [^>]+>)', str(exc))
        names = [match.group(1) if match else str(exc).strip().splitlines()[-1]]
    return UntrustedCheckpointError(
        f'checkpoint file {filename} needs {", ".join(names)} to be unpickled, which segrefiner '
        f'does not load from an untrusted file (it allows tensors, builtins and what mmengine '
        f'Runner checkpoints hold). {TRUST_HINT}')


def _torch_reason(text: str) -> str:
    """The unpickler's own words from torch's long weights-only message."""
    match = re.search(r'WeightsUnpickler error:\s*(.*?)\s*(?:Check the documentation|$)', text,
                      re.S)
    return (match.group(1) if match else text).strip()[:300]


def load_checkpoint_file(filename: str, map_location: Any = None,
                         trust: bool = False) -> Any:
    """Load a local checkpoint without executing it.

    Args:
        filename (str): path of the file (``~`` is expanded).
        map_location: as in ``torch.load`` (``'cpu'``, a device, a callable or None).
        trust (bool): the user trusts the file: plain ``torch.load(weights_only=False)``, which
            runs whatever the pickle names. Off by default.

    Returns:
        The unpickled object: a Runner checkpoint dict or a bare state dict.

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the file needs types outside :data:`SAFE_GLOBALS`.
        CheckpointError: the file is empty, truncated, corrupt or not a torch checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    _check_container(filename)
    try:
        if trust:
            return torch.load(filename, map_location=map_location, weights_only=False)
        with _safe_globals():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if not trust and ('Unsupported global' in text or 'allowlisted' in text
                          or 'unrecognized function' in text):
            raise _untrusted_error(filename, exc) from None
        raise CheckpointError(f'checkpoint file {filename} is corrupt: it is not a valid '
                              f'pickle ({_torch_reason(text)})') from None
    except (RuntimeError, EOFError, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f'checkpoint file {filename} ({osp.getsize(filename)} bytes) cannot be read as a '
            f'torch checkpoint, it is truncated or corrupt: {type(exc).__name__}: {exc}') from None


def state_dict_of(checkpoint: Any, filename: str) -> Dict[str, Any]:
    """The model weights of a loaded checkpoint, as mmengine reads them.

    ``checkpoint['state_dict']`` when present, else the checkpoint itself; a ``module.`` prefix
    (a DDP-wrapped model) is dropped, like ``Runner.load_checkpoint``'s default ``revise_keys``.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'checkpoint file {filename} holds a {type(checkpoint).__name__}, '
                              f'not a state dict or a checkpoint dict')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise CheckpointError(f'checkpoint file {filename}: "state_dict" is a '
                              f'{type(state).__name__}, not a dict of tensors')
    return {re.sub(r'^module\.', '', key): value for key, value in state.items()}


def _some(keys: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def converter_command(filename: str) -> str:
    """The ``tools/convert_checkpoint.py`` command line for an original checkpoint."""
    stem = osp.splitext(osp.basename(filename))[0]
    target = osp.join(osp.dirname(filename), f'{stem}_converted.pth')
    return f'python tools/convert_checkpoint.py {shlex.quote(filename)} {shlex.quote(target)}'


def check_state_dict_fits(model: torch.nn.Module, state: Dict[str, Any], filename: str) -> None:
    """Refuse weights whose keys or shapes differ from ``model.state_dict()``'s.

    Args:
        model (nn.Module): the model to load into (not a DDP wrapper).
        state (dict): the checkpoint's weights (:func:`state_dict_of`).
        filename (str): the checkpoint's path, for the message.

    Raises:
        CheckpointMismatchError: naming a few missing, unexpected and mis-shaped keys with
            their counts, and for an original SegRefiner checkpoint (``denoise_model.*`` keys)
            the command that converts it.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f'{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model'
              for k, v in expected.items()
              if k in state and hasattr(state[k], 'shape') and hasattr(v, 'shape')
              and tuple(state[k].shape) != tuple(v.shape)]
    if not (missing or unexpected or shapes):
        return
    lines = [f'checkpoint file {filename} does not fit the model of this config '
             f'({type(model).__name__}, {len(expected)} tensors; the file has {len(state)}); '
             f'loading it would leave weights random:']
    if missing:
        lines.append(f'  {len(missing)} missing key(s): {_some(missing)}')
    if unexpected:
        lines.append(f'  {len(unexpected)} unexpected key(s): {_some(unexpected)}')
    if shapes:
        lines.append(f'  {len(shapes)} key(s) of another shape: {_some(shapes, 3)}')
    if any(k.startswith(ORIGINAL_PREFIX) for k in unexpected):
        lines.append(f'It is an original SegRefiner checkpoint ({ORIGINAL_PREFIX}* keys); '
                     f'convert it first:\n    {converter_command(filename)}')
    else:
        lines.append('Is it a checkpoint of another config?')
    raise CheckpointMismatchError('\n'.join(lines))


def load_weights(model: torch.nn.Module, filename: str, trust: bool = False) -> Any:
    """Load a checkpoint file into ``model``, strictly (see :func:`check_state_dict_fits`).

    Returns:
        The loaded checkpoint (for its ``meta``).
    """
    checkpoint = load_checkpoint_file(filename, map_location='cpu', trust=trust)
    state = state_dict_of(checkpoint, filename)
    check_state_dict_fits(model, state, filename)
    model.load_state_dict(state, strict=True)
    return checkpoint


class CheckpointGuard(Hook):
    """A tool's checkpoint policy for one run of a mmengine Runner.

    As a context manager, it makes mmengine load local files (``load_from``, ``--resume``,
    ``init_cfg`` ``Pretrained``) through :func:`load_checkpoint_file`, and puts mmengine's own
    loader back on exit. Registered as a hook of the runner, it refuses a checkpoint that does
    not fit the model (:func:`check_state_dict_fits`) before the Runner's non-strict load.

    Args:
        trust (bool): load files with ``weights_only=False`` (``--trust-checkpoint``).
    """

    priority = 'LOWEST'  # after hooks that rewrite the checkpoint (EMAHook)

    def __init__(self, trust: bool = False) -> None:
        self.trust = trust
        self.last_file: Optional[str] = None
        self._saved: List[Optional[Callable]] = []

    def load_from_safe_local(self, filename: str, map_location: Any = None) -> Any:
        """mmengine's local-scheme loader (the name makes its log read "by safe_local
        backend")."""
        self.last_file = filename
        return load_checkpoint_file(filename, map_location=map_location, trust=self.trust)

    def __enter__(self) -> 'CheckpointGuard':
        self._saved.append(CheckpointLoader._schemes.get(''))
        CheckpointLoader.register_scheme(prefixes='', loader=self.load_from_safe_local, force=True)
        return self

    def __exit__(self, *exc_info) -> None:
        original = self._saved.pop()
        if original is None:
            CheckpointLoader._schemes.pop('', None)
        else:
            CheckpointLoader.register_scheme(prefixes='', loader=original, force=True)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):  # as mmengine loads
            model = model.module
        filename = self.last_file or 'checkpoint'
        check_state_dict_fits(model, state_dict_of(checkpoint, filename), filename)
