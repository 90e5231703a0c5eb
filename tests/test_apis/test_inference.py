"""segrefiner.apis: init_refiner and refine on one image + one mask of any size."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from segrefiner.apis import init_refiner, refine
from tiny_models import tiny_refiner_cfg

TINY_MODEL = tiny_refiner_cfg()


@pytest.fixture
def cfg():
    return Config(dict(model=TINY_MODEL, default_scope='mmseg'))


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    mask = np.zeros((70, 90), np.uint8)
    mask[30:40, 40:55] = 255
    cv2.imwrite(str(tmp_path / 'img.png'), image)
    cv2.imwrite(str(tmp_path / 'mask.png'), mask)
    return tmp_path, image, mask


def test_checkpoint_round_trip_and_refine(cfg, scene, tmp_path):
    torch.manual_seed(0)
    model = init_refiner(cfg)
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    loaded = init_refiner(cfg, str(ckpt))
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k
    folder, image, mask = scene
    out_paths = refine(loaded, str(folder / 'img.png'), str(folder / 'mask.png'), seed=0)
    out_arrays = refine(loaded, image, mask, seed=0)
    assert out_paths.shape == (70, 90) and out_paths.dtype == bool
    assert np.array_equal(out_paths, out_arrays)
    prob = refine(loaded, image, mask > 0, steps=2, seed=1, return_prob=True)
    assert prob.dtype == np.float32 and 0 <= prob.min() and prob.max() <= 1
    # outside the mask's box (rows 30..40, cols 40..55) plus the 20 px margin: background
    outside = np.ones_like(out_arrays)
    outside[10:60, 20:75] = False
    assert not out_arrays[outside].any()


def test_clear_errors(cfg, scene):
    model = init_refiner(cfg)
    folder, image, mask = scene
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        refine(model, str(folder / 'missing.jpg'), mask)
    (folder / 'corrupt.jpg').write_bytes(b'not an image at all')
    with pytest.raises(ValueError, match='corrupt.jpg.*not a readable image'):
        refine(model, str(folder / 'corrupt.jpg'), mask)
    with pytest.raises(ValueError, match=r'coarse mask size \(70, 80\) differs from image size'
                       r' \(70, 90\)'):
        refine(model, image, mask[:, :80])
    with pytest.raises(ValueError, match='empty'):
        refine(model, image, np.zeros_like(mask))
    with pytest.raises(FileNotFoundError, match='config file not found'):
        init_refiner(str(folder / 'nope.py'))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        init_refiner(cfg, str(folder / 'absent.pth'))
