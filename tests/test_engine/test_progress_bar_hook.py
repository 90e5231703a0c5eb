"""ProgressBarHook: a bar over the training iterations, interrupted by validation bars."""
import io
from types import SimpleNamespace

from mmseg.registry import HOOKS

from segrefiner.engine.hooks import ProgressBarHook


def test_training_bar_resumes_after_validation():
    stream = io.StringIO()
    hook = HOOKS.build(dict(type='ProgressBarHook', file=stream))
    assert isinstance(hook, ProgressBarHook)
    runner = SimpleNamespace(max_iters=4, iter=0, val_dataloader=[0, 1],
                             test_dataloader=[0, 1, 2])
    hook.before_train(runner)
    for i in range(2):
        hook.after_train_iter(runner, i)
    hook.before_val_epoch(runner)
    for i in range(2):
        hook.after_val_iter(runner, i)
    hook.after_val_epoch(runner)
    for i in range(2, 5):  # one call too many is ignored
        hook.after_train_iter(runner, i)
    hook.after_train(runner)
    hook.before_test_epoch(runner)
    for i in range(3):
        hook.after_test_iter(runner, i)
    hook.after_test_epoch(runner)
    text = stream.getvalue()
    assert text.startswith('training, 4 iterations\n')
    assert '2/4' in text and '4/4' in text and '5/4' not in text
    assert '\nvalidation\n' in text and '2/2' in text
    assert '\ntest\n' in text and '3/3' in text
    assert hook._bars == []
