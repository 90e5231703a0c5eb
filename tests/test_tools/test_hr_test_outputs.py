"""tools/test.py with the BIG and DIS-5K configs (HR mode, tiny network): output names, metrics."""
import importlib.util
import itertools
import re
import sys
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from hr_layouts import DIS_SHAPES, write_big, write_dis

ROOT = Path(__file__).resolve().parents[2]
_RUNS = itertools.count()

TINY_CONFIG = """
_base_ = ['{root}/configs/segrefiner/segrefiner_{kind}.py']
model = dict(
    decode_head=dict(denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2),
                                   attention_strides=(2, ), num_heads=2, norm_groups=8)),
    test_cfg=dict(model_size=32, batch_max=4, max_patches=3))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{data}'{extra}))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""


def tiny_checkpoint(config: Path, path: Path) -> Path:
    cfg = Config.fromfile(str(config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def run_test(tmp_path: Path, kind: str, data: Path, extra: str = '') -> tuple:
    """``python tools/test.py CONFIG CKPT --out ... --work-dir ...``, in this process.

    One torch thread (a shared machine makes the default pool slow), and an experiment and
    visualizer name of its own, so that mmengine's global logger and visualizer of one run do
    not serve the next. Returns the output folder and the text of the run's log file.
    """
    config = tmp_path / f'tiny_{kind}.py'
    config.write_text(TINY_CONFIG.format(root=ROOT, kind=kind, data=data, extra=extra))
    ckpt = tiny_checkpoint(config, tmp_path / 'tiny.pth')
    out, work = tmp_path / 'refined', tmp_path / 'work'
    run_id = f'hr_test_outputs{next(_RUNS)}'
    argv = ['tools/test.py', str(config), str(ckpt), '--out', str(out), '--work-dir', str(work),
            '--cfg-options', f'experiment_name={run_id}', f'visualizer.name=vis_{run_id}']
    spec = importlib.util.spec_from_file_location(f'segrefiner_tools_test_{run_id}',
                                                  ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(sys, 'argv', argv):
            module.main()
    finally:
        torch.set_num_threads(threads)
    logs = sorted(work.rglob('*.log'), key=lambda p: p.stat().st_mtime)
    assert logs, f'no log under {work}'
    return out, logs[-1].read_text()


def check_mask(path: Path, shape) -> None:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None, f'{path} missing'
    assert mask.shape == tuple(shape) and set(np.unique(mask)) <= {0, 255}


def check_metrics(log: str) -> None:
    metrics = dict(re.findall(r'(?:^|\s)(\w*(?:IoU|mBA))\s*:\s*([\d.]+)', log))
    assert {'IoU', 'mBA', 'coarse_IoU', 'coarse_mBA'} <= set(metrics), log[-2000:]


@pytest.mark.parametrize('folder', ['big', 'dis_big'])
def test_big_writes_name_refine_png(tmp_path, folder):
    # 'dis_big': a BIG root whose path contains "dis" still gives BIG names (SegRefiner 9.1.7)
    data = tmp_path / folder
    arrays = write_big(data)
    out, log = run_test(tmp_path, 'big', data)
    assert sorted(p.name for p in out.iterdir()) == ['bus_refine.png', 'lion_refine.png']
    for name, masks in arrays.items():
        check_mask(out / f'{name}_refine.png', masks['gt'].shape)
    check_metrics(log)


def test_dis_writes_set_folders(tmp_path):
    data = tmp_path / 'dis'
    write_dis(data)
    out, log = run_test(tmp_path, 'dis', data, extra=", sets=('DIS-TE1', 'DIS-VD')")
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob('*.png'))
    expected = sorted(f'{dis_set}/{name}.png' for dis_set, names in DIS_SHAPES.items()
                      for name in names)
    assert written == expected
    for dis_set, names in DIS_SHAPES.items():
        for name, shape in names.items():
            check_mask(out / dis_set / f'{name}.png', shape)
    check_metrics(log)
