"""segrefiner.apis: init_refiner and refine on one image + one mask of any size."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from segrefiner.apis import init_refiner, refine
from segrefiner.apis.inference import load_mask
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


@pytest.fixture
def model(cfg):
    torch.manual_seed(0)
    return init_refiner(cfg)


def test_modes_route_through_the_refiner(model, monkeypatch):
    """Model size 32, margin 20: a 1-px mask's box is 21 px (crop), a 10×15 one's 50×55 (hr)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    small = np.zeros((70, 90), bool)
    small[0, 0] = True
    large = np.zeros((70, 90), bool)
    large[30:40, 40:55] = True
    calls = []
    for name in ('crop_inference', 'hr_inference'):
        method = getattr(model, name)

        def spy(inputs, samples, cfg, generator=None, name=name, method=method):
            calls.append((name, cfg.get('global_view')))
            return method(inputs, samples, cfg, generator)

        monkeypatch.setattr(model, name, spy)
    for mask, mode in ((small, 'crop'), (large, 'hr')):
        auto = refine(model, image, mask, seed=0, return_prob=True)
        forced = refine(model, image, mask, seed=0, return_prob=True, mode=mode)
        np.testing.assert_array_equal(auto, forced)
    assert calls == [('crop_inference', 'box'), ('crop_inference', 'box'),
                     ('hr_inference', 'box'), ('hr_inference', 'box')]  # hr on the box
    calls.clear()
    refine(model, image, small, mode='hr')
    refine(model, image, large, mode='crop')
    assert [name for name, _ in calls] == ['hr_inference', 'crop_inference']


def test_hr_keeps_background_outside_the_box_and_honours_steps(model):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[40:80, 50:110] = True
    prob = refine(model, image, mask, mode='hr', seed=0, return_prob=True)
    outside = np.ones_like(mask)
    outside[20:100, 30:130] = False  # the box plus the 20 px margin
    assert prob.shape == (120, 160) and prob[outside].max() <= 1e-6
    # at most global_steps (5) steps: the chain ends in the global pass, without random draws
    # at one step
    one = refine(model, image, mask, mode='hr', steps=1, seed=3, return_prob=True)
    np.testing.assert_array_equal(one, refine(model, image, mask, mode='hr', steps=1, seed=4,
                                              return_prob=True))


def test_mode_and_steps_are_validated(model, scene):
    _, image, mask = scene
    with pytest.raises(ValueError, match=r"mode must be one of \['auto', 'crop', 'hr'\], "
                       r"got 'whole'"):
        refine(model, image, mask, mode='whole')
    for steps in (0, 7):
        with pytest.raises(ValueError, match=r'steps must lie in \[1, 6\]'):
            refine(model, image, mask, steps=steps)


def test_masks_from_any_source(tmp_path):
    """0/255, 0/1, bool, 8-bit, 16-bit and float probabilities, RGB and palette PNGs, .npy."""
    fg = np.zeros((20, 30), bool)
    fg[5:15, 8:20] = True
    prob = np.where(fg, 0.8, 0.2).astype(np.float32)
    files = {
        'u8_255.png': fg.astype(np.uint8) * 255,
        'u8_01.png': fg.astype(np.uint8),
        'u8_prob.png': (prob * 255).astype(np.uint8),
        'u16_prob.png': (prob * 65535).astype(np.uint16),
        'u16_255.png': fg.astype(np.uint16) * 255,
        'float.tiff': prob,
        'rgb.png': np.repeat(fg.astype(np.uint8)[..., None] * 255, 3, axis=2),
    }
    for name, array in files.items():
        cv2.imwrite(str(tmp_path / name), array)
    Image.fromarray(fg.astype(np.uint8), 'P').save(tmp_path / 'palette.png')  # SAM-style 0/1
    np.save(tmp_path / 'prob.npy', prob)
    for path in sorted(tmp_path.iterdir()):
        np.testing.assert_array_equal(load_mask(path), fg, err_msg=path.name)
    for array in list(files.values())[:6] + [fg, prob.astype(np.float64)]:
        np.testing.assert_array_equal(load_mask(array), fg)
    assert load_mask(fg[..., None]).shape == (20, 30)
    with pytest.raises(ValueError, match=r'2-D \(H, W\) array'):
        load_mask(np.zeros((20, 30, 3)))
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG garbage')
    with pytest.raises(ValueError, match='bad.png is not a readable image'):
        load_mask(tmp_path / 'bad.png')
    with pytest.raises(FileNotFoundError, match='coarse mask file not found: .*nope.png'):
        load_mask(tmp_path / 'nope.png')
