"""tools/convert_checkpoint.py: original SegRefiner checkpoint → segrefiner checkpoint."""
import os.path as osp
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convert_checkpoint import convert_state_dict, load_source
from reference_unet import reference_forward
from segrefiner.apis import init_refiner

ROOT = Path(__file__).resolve().parents[2]
LISTING = ROOT.parent / 'shared' / 'design' / 'segrefiner_unet_state_dict.txt'
SOBEL_X = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]) / 4


def _listing():
    if not LISTING.is_file():
        pytest.skip(f'{LISTING} not present')
    rows = [ln.split('\t') for ln in LISTING.read_text().splitlines() if not ln.startswith('#')]
    return {k: eval(shape) for k, shape in rows}


def _original_checkpoint(path, seed=0):
    """An original-format checkpoint with random weights in the released key layout."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in _listing().items():
        fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
        scale = 1 / fan_in**0.5 if len(shape) > 1 else 0.1
        state['denoise_model.' + key] = torch.randn(shape, generator=gen) * scale
        if key.endswith('norm.weight') or '.0.weight' in key and len(shape) == 1:
            state['denoise_model.' + key] += 1
    state['loss_texture.sobel.conv_x.weight'] = SOBEL_X[None, None].clone()
    state['loss_texture.sobel.conv_y.weight'] = SOBEL_X.t()[None, None].clone()
    torch.save({'meta': {'mmdet_version': '2.28.1'}, 'state_dict': state}, path)
    return state


def _convert(src, dst):
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'convert_checkpoint.py'),
                           str(src), str(dst)], capture_output=True, text=True, cwd=ROOT)


def test_converted_network_matches_the_original(tmp_path):
    src, dst = tmp_path / 'segrefiner_lr_latest.pth', tmp_path / 'converted.pth'
    state = _original_checkpoint(src)
    proc = _convert(src, dst)
    assert proc.returncode == 0, proc.stderr
    model = init_refiner(ROOT / 'configs' / '_base_' / 'models' / 'segrefiner.py',
                         str(dst), cfg_options=dict(custom_imports=dict(imports=['segrefiner'])))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 64, 64, generator=gen)
    x[:, 3] = (x[:, 3] > 0).float()
    t = torch.tensor([5, 0])
    with torch.no_grad():
        ours = model.decode_head(x, t)
        theirs = reference_forward(state, x, t)
    assert ours.shape == (2, 1, 64, 64)
    assert theirs.abs().max() > 1e-2  # a non-trivial output
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_rejects_foreign_and_incomplete_checkpoints(tmp_path):
    state = _original_checkpoint(tmp_path / 'orig.pth')
    bad_sobel = dict(state)
    bad_sobel['loss_texture.sobel.conv_x.weight'] = torch.ones(1, 1, 3, 3)
    with pytest.raises(ValueError, match='Sobel'):
        convert_state_dict(bad_sobel)
    with pytest.raises(ValueError, match='out.2.weight'):
        convert_state_dict({k: v for k, v in state.items() if 'out.2' not in k})
    with pytest.raises(ValueError, match='unexpected keys'):
        convert_state_dict({**state, 'backbone.conv.weight': torch.zeros(1)})
    torch.save({'state_dict': {'backbone.conv.weight': torch.zeros(1)}}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='not a SegRefiner checkpoint'):
        load_source(str(tmp_path / 'other.pth'))

    proc = _convert(tmp_path / 'absent.pth', tmp_path / 'out.pth')
    assert proc.returncode != 0 and 'absent.pth' in proc.stderr
    assert not osp.exists(tmp_path / 'out.pth')
