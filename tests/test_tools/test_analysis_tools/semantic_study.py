"""A tiny baseline → refiner run shared by the tests of the semantic study scripts.

:func:`trained_study` trains, once per test process, the tiny CPU UNet baseline and the tiny
ResidualRefiner on a small synthetic dataset with ``tools/train.py`` (its ``main()``, in this
process), and writes a randomly initialised tiny SegRefiner checkpoint. Later calls return the cached run.
"""
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import List, Optional

import torch
from train_utils import train as train_in_process

from segrefiner.apis import init_refiner
from segrefiner.datasets import generate_synthetic_dataset

ROOT = Path(__file__).resolve().parents[3]
UNET_CONFIG = ROOT / 'configs/unet/unet-tiny-s5-d16_fcn_1xb8-600_synthetic-3cls-96x96-cpu.py'
REFINER_CONFIG = (ROOT / 'configs/residual_refiner/'
                  'residual-refiner_unet-tiny-s5-d16-fcn_1xb8-200_synthetic-3cls-96x96-cpu.py')
SEGREFINER_CONFIG = """
_base_ = ['{root}/configs/segrefiner/segrefiner_demo_cpu.py']
model = dict(
    decode_head=dict(denoiser=dict(model_channels=16, num_res_blocks=1, channel_mult=(1, 2),
                                   attention_strides=(2, ), num_heads=2, norm_groups=8)),
    test_cfg=dict(model_size=32, batch_max=4))
"""
_CACHE: dict = {}


def data_options(data_root: str) -> List[str]:
    """``--cfg-options`` pointing the tiny configs at ``data_root`` (48x48 images, so training
    batches are padded to 48x48), without worker processes."""
    options = ['model.data_preprocessor.size=(48,48)']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def train(config: Path, work_dir: Path, iters: int, options: List[str]) -> Path:
    """``tools/train.py`` (in this process) for ``iters`` iterations; the final checkpoint."""
    train_in_process(config, work_dir, cfg_options=[
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}', *options])
    checkpoint = work_dir / f'iter_{iters}.pth'
    assert checkpoint.is_file()
    return checkpoint


def trained_study(tmp_path_factory) -> dict:
    """The tiny run: data, baseline and refiner checkpoints, a tiny SegRefiner.

    Returns:
        dict: ``root``, ``data``, ``options`` (``--cfg-options`` for the refiner config),
        ``baseline`` and ``refiner`` checkpoints, ``segrefiner_config``,
        ``segrefiner_checkpoint``.
    """
    if _CACHE:
        return _CACHE
    root = tmp_path_factory.mktemp('semantic_study')
    data = root / 'data'
    generate_synthetic_dataset(str(data), num_train=8, num_val=4, size=(48, 48), seed=2,
                               progress=False)
    options = data_options(str(data))
    baseline = train(UNET_CONFIG, root / 'unet', 8, options)
    options.append(f'model.baseline.init_cfg.checkpoint={baseline}')
    refiner = train(REFINER_CONFIG, root / 'refiner', 8, options)
    segrefiner_config = root / 'segrefiner_tiny.py'
    segrefiner_config.write_text(SEGREFINER_CONFIG.format(root=ROOT))
    torch.manual_seed(0)
    segrefiner = init_refiner(str(segrefiner_config))
    segrefiner_checkpoint = root / 'segrefiner_tiny.pth'
    torch.save(dict(state_dict=segrefiner.state_dict(), meta=dict()), segrefiner_checkpoint)
    _CACHE.update(root=root, data=data, options=options, baseline=baseline, refiner=refiner,
                  segrefiner_config=segrefiner_config,
                  segrefiner_checkpoint=segrefiner_checkpoint)
    return _CACHE


def load_script(name: str) -> ModuleType:
    """Import ``tools/analysis_tools/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name,
                                                  ROOT / 'tools' / 'analysis_tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_table(path: Path) -> dict:
    """The rows of a Markdown table written by a study script: method → {column: cell}."""
    lines = path.read_text().strip().splitlines()
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def run_main(module: ModuleType, argv: List[str], capsys=None) -> Optional[str]:
    """``module.main(argv)``, asserting success; returns the captured stdout."""
    code = module.main([str(a) for a in argv])
    out = capsys.readouterr() if capsys is not None else None
    assert code == 0, out.err[-3000:] if out else code
    return out.out if out else None
