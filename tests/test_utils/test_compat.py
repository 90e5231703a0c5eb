"""Importing segrefiner registers components and changes nothing else in the process; the
stack's warning filters are the tools' business (segrefiner.utils.compat)."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

from segrefiner.utils.compat import STACK_WARNINGS, filter_stack_warnings

ROOT = Path(__file__).resolve().parents[2]

#: In a fresh interpreter: imports the modules named on stdin (every module outside the
#: repository that this test process has imported, in import order), so that what the stack
#: itself does at import (scipy's warning filters, numpy submodules) happens before the
#: snapshot; then imports segrefiner and prints what changed.
PROBE = r'''
import importlib, json, sys, warnings
for name in json.load(sys.stdin):
    try:
        importlib.import_module(name)
    except Exception:
        pass
import numpy as np, torch
from mmengine.runner.checkpoint import CheckpointLoader

def state():
    return dict(filters=[repr(f) for f in warnings.filters], numpy=sorted(np.__dict__),
                loader=CheckpointLoader._schemes[''],
                safe_globals=sorted(map(repr, torch.serialization.get_safe_globals())))

before = state()
import segrefiner
after = state()
print(json.dumps(dict(
    new_filters=[f for f in after['filters'] if f not in before['filters']],
    filters_equal=after['filters'] == before['filters'],
    numpy_added=sorted(set(after['numpy']) - set(before['numpy'])),
    has_float='float' in np.__dict__,
    loader_same=after['loader'] is before['loader'],
    loader=getattr(after['loader'], '__module__', '?'),
    safe_globals_equal=after['safe_globals'] == before['safe_globals'])))
'''


def stack_modules() -> list:
    """The modules of this process (which imported segrefiner) that come from outside the
    repository, in import order: the stack, and segrefiner's dependencies."""
    inside = [str(ROOT / part) for part in ('segrefiner', 'tests', 'tools', 'scripts')]
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, '__file__', None) or ''
        if name.startswith('__') or any(path.startswith(folder) for folder in inside):
            continue
        names.append(name)
    return names


def test_import_changes_no_filters_numpy_or_checkpoint_loader():
    proc = subprocess.run([sys.executable, '-c', PROBE], input=json.dumps(stack_modules()),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    changes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert changes['filters_equal'], changes['new_filters']
    assert not changes['has_float'] and changes['numpy_added'] == []
    assert changes['loader_same'], f'mmengine\'s local loader replaced by {changes["loader"]}'
    assert changes['safe_globals_equal']


def test_filter_stack_warnings_adds_the_filters():
    with warnings.catch_warnings():
        warnings.resetwarnings()
        filter_stack_warnings()
        patterns = {f[1].pattern for f in warnings.filters if f[1] is not None}
        assert set(STACK_WARNINGS) <= patterns
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            filter_stack_warnings()
            warnings.warn('`torch.jit.script` is deprecated. Please switch to `torch.compile`',
                          DeprecationWarning)
            warnings.warn('our own warning', UserWarning)
        assert [str(w.message) for w in caught] == ['our own warning']
