"""A terminal progress bar per stage (training, validation, test)."""
import sys
from typing import List, Optional, TextIO

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """mmengine ``ProgressBar`` s on the terminal: one over the training iterations and one over
    each validation and test epoch (a validation bar interrupts the training bar, which then
    goes on), drawn on rank 0.

    A run that sends its logs to the work dir's log file only (the demo builds its runners
    with the terminal stream redirected, so that mmengine's console handler writes nowhere)
    shows these bars, warnings and errors on the terminal instead of per-iteration lines.

    Args:
        file (TextIO, optional): stream of the bars. Defaults to ``sys.stdout`` at the time a
            bar starts.
    """

    priority = 'VERY_LOW'

    def __init__(self, file: Optional[TextIO] = None) -> None:
        self.file = file
        self._bars: List[ProgressBar] = []

    def _start(self, total: int, stage: str) -> None:
        stream = self.file or sys.stdout
        if self._bars:  # the interrupted bar's line ends here
            stream.write('\n')
        stream.write(f'{stage}\n')
        self._bars.append(ProgressBar(total, file=stream))

    def _update(self) -> None:
        if self._bars and self._bars[-1].completed < self._bars[-1].task_num:
            self._bars[-1].update()

    def _finish(self) -> None:
        if self._bars:
            bar = self._bars.pop()
            bar.file.write('\n')
            bar.file.flush()

    @master_only
    def before_train(self, runner) -> None:
        self._start(runner.max_iters - runner.iter, f'training, {runner.max_iters} iterations')

    @master_only
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update()

    @master_only
    def after_train(self, runner) -> None:
        self._finish()

    @master_only
    def before_val_epoch(self, runner) -> None:
        self._start(len(runner.val_dataloader), 'validation')

    @master_only
    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update()

    @master_only
    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish()

    @master_only
    def before_test_epoch(self, runner) -> None:
        self._start(len(runner.test_dataloader), 'test')

    @master_only
    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update()

    @master_only
    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish()
