"""tools/analysis_tools/visualize_forward_process.py: x_t of a mask under GaussianDiffusion.corrupt
and the PNG strip."""
import math

import cv2
import numpy as np
import pytest

from segrefiner.models.diffusion import GaussianDiffusion
from visualize_forward_process import (default_timesteps, diffusion_from_config,
                                       forward_states, main)


def square_mask(size=64):
    mask = np.zeros((size, size), np.uint8)
    mask[16:48, 8:40] = 1
    return mask


def test_states_follow_the_closed_form():
    diffusion = GaussianDiffusion(num_timesteps=1000)
    mask = square_mask()
    x0 = mask.astype(np.float32) * 2 - 1
    first, again, noisy = forward_states(diffusion, mask, [0, 0, 999], seed=3)
    np.testing.assert_array_equal(first, again)  # one shared noise
    root = math.sqrt(diffusion.alpha_cumprod(0))
    noise = (first - root * x0) / math.sqrt(1 - diffusion.alpha_cumprod(0))
    assert abs(noise.mean()) < 0.1 and noise.std() == pytest.approx(1, abs=0.1)
    assert noisy.std() == pytest.approx(1, abs=0.1)  # ᾱ_999 ≈ 4e-5: noise only
    assert abs(np.corrcoef(noisy.ravel(), x0.ravel())[0, 1]) < 0.1
    assert np.corrcoef(first.ravel(), x0.ravel())[0, 1] > 0.99


def test_default_timesteps_span_the_schedule():
    assert default_timesteps(GaussianDiffusion(num_timesteps=1000)) == [
        0, 50, 100, 200, 300, 500, 999]
    assert default_timesteps(GaussianDiffusion(num_timesteps=20))[-1] == 19


def test_strip_png(tmp_path, capsys):
    mask = tmp_path / 'mask.png'
    cv2.imwrite(str(mask), square_mask() * 255)
    out = tmp_path / 'strip.png'
    assert main(['--mask', str(mask), '--num-timesteps', '100', '--beta-schedule', 'cosine',
                 '--timesteps', '0', '10', '99', '--out', str(out)]) == 0
    assert 't = 0, 10, 99' in capsys.readouterr().out
    strip = cv2.imread(str(out))
    assert strip.shape[1] > 3 * strip.shape[0]  # four tiles in a row
    assert main(['--size', '32', '--out', str(out)]) == 0  # the synthetic default mask


def test_schedule_from_a_config(tmp_path):
    config = tmp_path / 'config.py'
    config.write_text("model = dict(type='X', decode_head=dict(type='Y', diffusion=dict("
                      "type='GaussianDiffusion', num_timesteps=50, beta_schedule='cosine')))\n")
    diffusion = diffusion_from_config(str(config))
    assert (diffusion.num_timesteps, diffusion.beta_schedule) == (50, 'cosine')
    config.write_text("model = dict(type='X')\n")
    with pytest.raises(ValueError, match='has no GaussianDiffusion'):
        diffusion_from_config(str(config))


def test_errors(tmp_path, capsys):
    out = tmp_path / 'strip.png'
    assert main(['--num-timesteps', '100', '--timesteps', '100', '--out', str(out)]) == 1
    assert 'timesteps [100] are outside [0, 99]' in capsys.readouterr().err
    assert main(['--mask', str(tmp_path / 'nope.png'), '--out', str(out)]) == 1
    assert 'nope.png' in capsys.readouterr().err
    assert main(['--config', str(tmp_path / 'nope.py'), '--out', str(out)]) == 1
    assert 'config file not found' in capsys.readouterr().err
    assert not out.exists()
