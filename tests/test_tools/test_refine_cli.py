"""tools/refine.py: the single and folder forms with a tiny saved checkpoint, masks from any
source, clear errors naming the file, atomic outputs that never replace an input."""
import hashlib
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

import refine as refine_cli
from segrefiner.apis import init_refiner
from tiny_models import tiny_refiner_cfg

H, W = 48, 64


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A tiny refiner's config file and checkpoint: ``['--config', CFG, '--checkpoint', PTH]``."""
    folder = tmp_path_factory.mktemp('tiny')
    config = folder / 'tiny_refiner.py'
    Config(dict(model=tiny_refiner_cfg(), default_scope='mmseg',
                custom_imports=dict(imports=['segrefiner'], allow_failed_imports=False))
           ).dump(str(config))
    torch.manual_seed(0)
    model = init_refiner(str(config))
    checkpoint = folder / 'tiny.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    return ['--config', str(config), '--checkpoint', str(checkpoint)]


def image(seed=0):
    return np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)


def foreground():
    mask = np.zeros((H, W), bool)
    mask[12:36, 16:44] = True
    return mask


def write(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


def digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def leftovers(folder: Path):
    return [p.name for p in folder.rglob('.tmp-*')]


def test_single_image_writes_the_mask_and_the_panel(tiny, tmp_path, capsys):
    img = write(tmp_path / 'in' / 'photo.jpg', image())
    mask = write(tmp_path / 'in' / 'photo_sam.png', foreground().astype(np.uint8) * 255)
    out, panel = tmp_path / 'out' / 'refined.png', tmp_path / 'out' / 'panel.png'
    assert refine_cli.main([str(img), str(mask), '-o', str(out), '--overlay', str(panel),
                            *tiny]) == 0
    refined = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert refined.shape == (H, W) and refined.dtype == np.uint8
    assert set(np.unique(refined)) <= {0, 255}
    assert cv2.imread(str(panel)).shape == (20 + H, 3 * W, 3)  # image | coarse | refined
    assert 'refined mask written to' in capsys.readouterr().out
    assert not leftovers(tmp_path)
    # the same seed, the same mask; modes and steps are passed through
    again = tmp_path / 'again.png'
    assert refine_cli.main([str(img), str(mask), '-o', str(again), *tiny]) == 0
    assert digest(again) == digest(out)
    for mode in ('crop', 'hr'):
        assert refine_cli.main([str(img), str(mask), '-o', str(tmp_path / f'{mode}.png'),
                                '--mode', mode, '--steps', '2', *tiny]) == 0


def test_single_image_errors_name_the_file_and_write_nothing(tiny, tmp_path, capsys):
    img = write(tmp_path / 'a.png', image())
    mask = write(tmp_path / 'a_mask.png', foreground().astype(np.uint8) * 255)
    out = tmp_path / 'out.png'
    (tmp_path / 'corrupt.png').write_bytes(b'\x89PNG not really')
    small = write(tmp_path / 'small.png', np.zeros((H, W - 8), np.uint8))
    empty = write(tmp_path / 'empty.png', np.zeros((H, W), np.uint8))
    cases = [
        ([str(tmp_path / 'missing.png'), str(mask)], 1, 'image file not found: .*missing.png'),
        ([str(tmp_path / 'corrupt.png'), str(mask)], 1, 'corrupt.png is not a readable image'),
        ([str(img), str(tmp_path / 'corrupt.png')], 1, 'corrupt.png is not a readable image'),
        ([str(img), str(small)], 1, r'coarse mask size \(48, 56\) differs from image size '
         r'\(48, 64\) \(image: .*a.png, mask: .*small.png\)'),
        ([str(img), str(empty)], 1, 'coarse mask .*empty.png is empty'),
    ]
    for inputs, status, message in cases:
        assert refine_cli.main(inputs + ['-o', str(out), *tiny]) == status
        assert re.search(message, capsys.readouterr().err), message
        assert not out.exists()
    # outputs never replace an input
    before = digest(mask)
    assert refine_cli.main([str(img), str(mask), '-o', str(mask), *tiny]) == 2
    assert 'would overwrite the input' in capsys.readouterr().err
    assert refine_cli.main([str(img), str(mask), '-o', str(out), '--overlay', str(img),
                            *tiny]) == 2
    assert digest(mask) == before and not out.exists()
    assert refine_cli.main([str(img), str(mask), '-o', str(tmp_path / 'out.jpg'), *tiny]) == 2
    assert 'must name a .png file' in capsys.readouterr().err


def test_argument_errors(tiny, tmp_path):
    for argv in (['a.png'], ['a.png', 'm.png'], ['a.png', 'm.png', '-o', 'o.png',
                                                  '--image-dir', 'x'],
                 ['--image-dir', 'x', '--mask-dir', 'y'],
                 ['a.png', 'm.png', '-o', 'o.png', '--checkpoint', 'c.pth'],
                 ['a.png', 'm.png', '-o', 'o.png', '--mode', 'whole']):
        with pytest.raises(SystemExit) as exit_info:
            refine_cli.main(argv)
        assert exit_info.value.code == 2


def test_without_config_the_bundled_refiner_is_used(tiny, tmp_path, monkeypatch):
    calls = []
    model = init_refiner(tiny[1], tiny[3])

    def bundled(**kwargs):
        calls.append(kwargs)
        return model

    monkeypatch.setattr(refine_cli, 'init_refiner', bundled)
    img = write(tmp_path / 'a.png', image())
    mask = write(tmp_path / 'm.png', foreground().astype(np.uint8))
    assert refine_cli.main([str(img), str(mask), '-o', str(tmp_path / 'o.png')]) == 0
    assert calls == [dict(device='cpu', cfg_options=None)]


def test_cfg_options_reach_the_model(tiny, tmp_path, monkeypatch, capsys):
    """``--cfg-options`` overrides the model config: an early exit at tol 0.99 runs two of
    the six steps (counted on the denoiser), and a misspelt test_cfg key is refused."""
    build, evals = refine_cli.build_model, []

    def counted(args):
        model = build(args)
        evals.append(0)
        model.decode_head.denoiser.register_forward_pre_hook(
            lambda module, inputs: evals.__setitem__(-1, evals[-1] + 1))
        return model

    monkeypatch.setattr(refine_cli, 'build_model', counted)
    img = write(tmp_path / 'a.png', image())
    mask = write(tmp_path / 'm.png', foreground().astype(np.uint8))
    argv = [str(img), str(mask), '-o', str(tmp_path / 'o.png'), '--mode', 'crop', *tiny]
    assert refine_cli.main(argv) == 0
    assert refine_cli.main(argv + ['--cfg-options', 'model.test_cfg.early_exit.tol=0.99']) == 0
    assert evals == [6, 2]
    capsys.readouterr()
    assert refine_cli.main(argv + ['--cfg-options', 'model.test_cfg.max_patch=0']) == 1
    assert "unknown test_cfg keys ['max_patch']" in capsys.readouterr().err


def test_folder_form_reads_any_mask_reports_bad_pairs_and_goes_on(tiny, tmp_path, capsys):
    images, masks, out = tmp_path / 'images', tmp_path / 'masks', tmp_path / 'out'
    fg = foreground()
    prob = np.where(fg, 0.9, 0.1)
    good = {
        'u8_255': ('u8_255.png', fg.astype(np.uint8) * 255),
        'u8_01': ('u8_01_mask.png', fg.astype(np.uint8)),
        'u16_prob': ('u16_prob.png', (prob * 65535).astype(np.uint16)),
        'float_prob': ('float_prob.tiff', prob.astype(np.float32)),
        'sam_rgb': ('sam_rgb.png', np.repeat(fg[..., None], 3, axis=2).astype(np.uint8) * 255),
        'sub/nested': ('sub/nested_gt.png', fg.astype(np.uint8) * 255),
    }
    for i, (stem, (mask_name, array)) in enumerate(good.items()):
        # a TIFF mask is named like its image (the suffixed mask names are PNGs)
        write(images / (stem + ('.tiff' if mask_name.endswith('.tiff') else '.jpg')), image(i))
        write(masks / mask_name, array)
    write(images / 'sam_palette.jpg', image(9))
    Image.fromarray(fg.astype(np.uint8), 'P').save(masks / 'sam_palette.png')  # 0/1 palette
    good['sam_palette'] = None
    # bad pairs: corrupt image, size mismatch, empty mask, an image and a mask without partner
    (images / 'corrupt.jpg').write_bytes(b'\xff\xd8 broken jpeg')
    write(masks / 'corrupt.png', fg.astype(np.uint8) * 255)
    write(images / 'mismatch.jpg', image())
    write(masks / 'mismatch.png', np.zeros((H - 4, W), np.uint8))
    write(images / 'empty.jpg', image())
    write(masks / 'empty.png', np.zeros((H, W), np.uint8))
    write(images / 'lonely.jpg', image())
    write(masks / 'orphan.png', fg.astype(np.uint8) * 255)
    before = {p: digest(p) for p in list(images.rglob('*')) + list(masks.rglob('*'))
              if p.is_file()}

    status = refine_cli.main(['--image-dir', str(images), '--mask-dir', str(masks),
                              '--out-dir', str(out), '--overlay-dir', str(tmp_path / 'panels'),
                              *tiny])
    captured = capsys.readouterr()
    assert status == 1
    for stem in good:
        refined = cv2.imread(str(out / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert refined.shape == (H, W) and set(np.unique(refined)) <= {0, 255}, stem
        assert (tmp_path / 'panels' / f'{stem}.png').is_file()
    assert sorted(p.stem for p in out.rglob('*.png')) == sorted(Path(s).name for s in good)
    err = captured.err
    assert 'corrupt.jpg' in err and 'not a readable image' in err
    assert 'mismatch.png' in err and 'differs from image size' in err
    assert 'empty.png is empty' in err
    assert 'image without a mask: ' in err and 'lonely.jpg' in err
    assert 'mask without an image: ' in err and 'orphan.png' in err
    assert '7 of 10 pairs refined' in captured.out and '3 failed, 2 files unpaired' in captured.out
    assert '10/10' in captured.out  # the progress bar
    assert {p: digest(p) for p in before} == before  # inputs untouched
    assert not leftovers(tmp_path)
    # a clean folder exits with 0; an output folder that is an input folder is refused
    clean_images, clean_masks = tmp_path / 'ci', tmp_path / 'cm'
    write(clean_images / 'a.png', image())
    write(clean_masks / 'a.png', fg.astype(np.uint8) * 255)
    assert refine_cli.main(['--image-dir', str(clean_images), '--mask-dir', str(clean_masks),
                            '--out-dir', str(tmp_path / 'co'), *tiny]) == 0
    assert refine_cli.main(['--image-dir', str(clean_images), '--mask-dir', str(clean_masks),
                            '--out-dir', str(clean_masks), *tiny]) == 2
    assert '--out-dir must differ from --mask-dir' in capsys.readouterr().err
