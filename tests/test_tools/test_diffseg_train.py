"""The CPU config of configs/diffseg/ through the tools: tools/train.py for 2 iterations (with the
validation at the end), tools/test.py on its checkpoint, and tools/dist_train.sh with 2 CPU gloo
processes. Tiny data (4 + 2 scenes) and 2 sampling steps keep it fast."""
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from segrefiner.datasets.generators import generate_synthetic_dataset
from train_utils import load_tool, train

ROOT = Path(__file__).resolve().parents[2]
CONFIG = next(p for p in sorted((ROOT / 'configs' / 'diffseg').glob('*.py')) if 'cpu' in p.name)


@pytest.fixture(scope='module')
def options(tmp_path_factory):
    """``--cfg-options`` putting the CPU config on 4 + 2 tiny scenes for 2 iterations."""
    data = tmp_path_factory.mktemp('diffseg_data')
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(48, 64), seed=1,
                               progress=False)
    loaders = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                                'test_dataloader')
               for key in (f'dataset.data_root={data}', 'num_workers=0',
                           'persistent_workers=False')]
    return [*loaders, 'train_dataloader.batch_size=2', 'train_cfg.max_iters=2',
            'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1', 'model.test_cfg.num_steps=2']


def newest_log(work_dir: Path) -> str:
    logs = sorted(work_dir.rglob('*.log'), key=lambda p: p.stat().st_mtime)
    assert logs, f'no log under {work_dir}'
    return logs[-1].read_text()


def test_train_then_test(options, tmp_path):
    work = tmp_path / 'work'
    train(CONFIG, work, cfg_options=options)
    log = newest_log(work)
    assert 'Iter(train) [2/2]' in log and 'loss_diffusion' in log
    # the validation at the end: mmseg's IoUMetric and the BoundaryF1Metric on predict()
    assert re.search(r'\| foreground \|', log) and 'mIoU' in log and 'mBF' in log
    checkpoint = work / 'iter_2.pth'
    assert checkpoint.is_file()

    test_work = tmp_path / 'test'
    argv = ['tools/test.py', str(CONFIG), str(checkpoint), '--work-dir', str(test_work),
            '--cfg-options', *options, 'experiment_name=diffseg_test',
            'visualizer.name=diffseg_test']
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(sys, 'argv', argv):
            load_tool('test').main()
    finally:
        torch.set_num_threads(threads)
    assert re.search(r'Iter\(test\) \[2/2\].*mIoU: [\d.]+.*mBF', newest_log(test_work))


def test_dist_train_two_gloo_processes(options, tmp_path):
    work = tmp_path / 'dist'
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(CONFIG), '2', '--work-dir', str(work),
         '--cfg-options', *options, 'train_cfg.val_interval=1000'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'PYTHON': sys.executable, 'PORT': '29547', 'OMP_NUM_THREADS': '1'})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log and 'GPU number: 2' in log, log[-3000:]
    assert (work / 'iter_2.pth').is_file()
