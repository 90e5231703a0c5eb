"""tools/infer.py on a DiffusionSegmentor trained for 2 iterations with the CPU config of
configs/diffseg/: one image, a folder (--batch), paths from stdin (--interactive),
--visualize-process and --num-samples; bad inputs; and plot_loss on the run's own log.

The tools' ``main()`` runs in this process (a subprocess would add only imports).
"""
import io
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image

from infer import frame_image, grid_image, main, mask_image
from segrefiner.apis import inference_segmentor, init_segmentor
from segrefiner.datasets.generators import generate_synthetic_dataset
from segrefiner.datasets.generators.scenes import render_scene
from train_utils import load_tool, train

ROOT = Path(__file__).resolve().parents[2]
CPU_CONFIGS = sorted((ROOT / 'configs' / 'diffseg').glob('*cpu*.py'))
SIZES = {'wide.jpg': (37, 90), 'square.png': (64, 64), 'sub/tall.bmp': (70, 26)}
FAST = ['--steps', '2', '--seed', '0']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, checkpoint, work dir): the CPU config trained for 2 iterations on 4 tiny
    scenes."""
    assert CPU_CONFIGS, 'no config with "cpu" in its name in configs/diffseg/'
    config = str(CPU_CONFIGS[0])
    folder = tmp_path_factory.mktemp('diffseg')
    data = folder / 'data'
    generate_synthetic_dataset(str(data), num_train=4, num_val=2, size=(48, 64), seed=1,
                               progress=False)
    options = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                                'test_dataloader')
               for key in (f'dataset.data_root={data}', 'num_workers=0',
                           'persistent_workers=False')]
    work_dir = folder / 'work'
    train(Path(config), work_dir, cfg_options=[
        *options, 'train_dataloader.batch_size=2', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'])
    return config, str(work_dir / 'iter_2.pth'), work_dir


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """A folder of scenes of three sizes (one in a sub-folder), a text file and a corrupt
    PNG."""
    folder = tmp_path_factory.mktemp('images')
    for index, (name, size) in enumerate(SIZES.items()):
        image, _, _, _ = render_scene(np.random.default_rng(index), size)
        (folder / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / name), image)
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 20)
    return folder


def run(trained, *args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, 'stdin', stdin)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main([*trained[:2], *map(str, args)])
    finally:
        torch.set_num_threads(threads)


def read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.dtype == np.uint8 and mask.ndim == 2, path
    assert set(np.unique(mask)) <= {0, 255}
    return mask


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob('*') if p.name.startswith('.tmp')]


def test_single_image_mask_of_its_size(trained, images, tmp_path, capsys):
    out = tmp_path / 'out'
    assert run(trained, '--input', images / 'wide.jpg', '--output', out, *FAST) == 0
    assert f'-> {out / "wide.png"}' in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ['wide.png']
    mask = read_mask(out / 'wide.png')
    assert mask.shape == SIZES['wide.jpg']
    model = init_segmentor(*trained[:2], cfg_options={'model.test_cfg.num_steps': 2,
                                                            'model.test_cfg.seed': 0})
    result = inference_segmentor(model, str(images / 'wide.jpg'))
    np.testing.assert_array_equal(mask > 0, result.pred_sem_seg.data[0].numpy() > 0)


def test_batch_folder(trained, images, tmp_path, capsys):
    out = tmp_path / 'out'
    assert run(trained, '--input', images, '--batch', '--output', out, *FAST) == 1
    captured = capsys.readouterr()
    assert '3 of 4 image(s)' in captured.out and '4/4' in captured.out  # the progress bar
    assert f'warning: {images / "notes.txt"}: not an image file' in captured.err
    assert f'{images / "broken.png"} is not a readable image' in captured.err
    written = sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())
    assert written == ['square.png', 'sub/tall.png', 'wide.png']
    for name, size in SIZES.items():
        assert read_mask(out / Path(name).with_suffix('.png')).shape == size
    assert no_temporary_files(out)


def test_interactive_reads_stdin_until_quit(trained, images, tmp_path, capsys, monkeypatch):
    out = tmp_path / 'out'
    lines = f'{images / "square.png"}\n\n"{images / "missing.jpg"}"\nquit\n' \
            f'{images / "wide.jpg"}\n'
    assert run(trained, '--interactive', '--output', out, *FAST, stdin=io.StringIO(lines),
               monkeypatch=monkeypatch) == 1
    assert f'image file not found: {images / "missing.jpg"}' in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ['square.png']  # nothing after "quit"
    assert read_mask(out / 'square.png').shape == SIZES['square.png']
    # end of input without "quit", then a folder path
    stdin = io.StringIO(f'{images / "wide.jpg"}\n')
    assert run(trained, '--interactive', '--output', out, *FAST, stdin=stdin,
               monkeypatch=monkeypatch) == 0
    assert (out / 'wide.png').is_file()


@pytest.mark.parametrize('stdin', [None, 'closed'])
def test_interactive_without_stdin_exits_cleanly(trained, tmp_path, capsys, monkeypatch,
                                                 stdin):
    if stdin == 'closed':
        stdin = io.StringIO()
        stdin.close()
    monkeypatch.setattr(sys, 'stdin', stdin)
    assert run(trained, '--interactive', '--output', tmp_path / 'out', *FAST) == 0
    assert 'stdin is closed' in capsys.readouterr().out


def test_visualize_process_and_uncertainty(trained, images, tmp_path):
    out = tmp_path / 'out'
    assert run(trained, '--input', images / 'sub' / 'tall.bmp', '--output', out, '--steps',
               '4', '--num-frames', '3', '--num-samples', '2', '--seed', '0',
               '--visualize-process') == 0
    assert sorted(p.name for p in out.iterdir()) == [
        'tall.png', 'tall_process.gif', 'tall_process.png', 'tall_uncertainty.png']
    height, width = SIZES['sub/tall.bmp']
    with Image.open(out / 'tall_process.gif') as gif:
        assert gif.n_frames == 3 and gif.size == (width, height)
    grid = cv2.imread(str(out / 'tall_process.png'), cv2.IMREAD_UNCHANGED)
    assert grid.shape == (height, 3 * width)
    uncertainty = cv2.imread(str(out / 'tall_uncertainty.png'), cv2.IMREAD_UNCHANGED)
    assert uncertainty.shape == (height, width) and uncertainty.dtype == np.uint8


def test_image_size_changes_the_model_input(trained, images, tmp_path):
    out = tmp_path / 'out'
    assert run(trained, '--input', images / 'wide.jpg', '--output', out, '--image-size', '32',
               *FAST) == 0
    assert read_mask(out / 'wide.png').shape == SIZES['wide.jpg']


def test_bad_inputs_name_the_file(trained, images, tmp_path, capsys):
    out = tmp_path / 'out'
    assert run(trained, '--input', images / 'missing.png', '--output', out, *FAST) == 1
    assert f'image file not found: {images / "missing.png"}' in capsys.readouterr().err
    assert run(trained, '--input', images / 'broken.png', '--output', out, *FAST) == 1
    assert f'{images / "broken.png"} is not a readable image' in capsys.readouterr().err
    assert run(trained, '--input', images / 'notes.txt', '--output', out, *FAST) == 1
    assert f'{images / "notes.txt"} is not a readable image' in capsys.readouterr().err
    assert not out.exists() or no_temporary_files(out) and not list(out.iterdir())
    assert run(trained, '--input', images, '--batch', '--output', images / 'masks') == 1
    assert 'is inside the input folder' in capsys.readouterr().err
    for args in (['--input', images], ['--input', images / 'wide.jpg', '--batch'], [],
                 ['--input', images / 'wide.jpg', '--steps', '0']):
        with pytest.raises(SystemExit) as exit_info:
            run(trained, *args, '--output', out)
        assert exit_info.value.code == 2


def test_bad_checkpoint(trained, images, tmp_path, capsys):
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(b'PK\x03\x04 truncated')
    assert main([trained[0], str(broken), '--input', str(images / 'wide.jpg'), '--output',
                 str(tmp_path / 'out')]) == 1
    assert f'checkpoint file {broken} is a truncated or corrupt zip' in capsys.readouterr().err


def test_output_images_of_binary_and_multi_class_results():
    labels = torch.tensor([[[0., 1.], [1., 0.]]])
    binary = SegDataSample(seg_logits=PixelData(data=torch.rand(1, 2, 2)),
                           pred_sem_seg=PixelData(data=labels))
    np.testing.assert_array_equal(mask_image(binary), [[0, 255], [255, 0]])
    classes = SegDataSample(seg_logits=PixelData(data=torch.rand(3, 2, 2)),
                            pred_sem_seg=PixelData(data=torch.tensor([[[0, 2], [1, 2]]])))
    np.testing.assert_array_equal(mask_image(classes), [[0, 2], [1, 2]])
    probs = np.array([[[0.2, 0.5]], [[0.8, 0.5]]], np.float32)  # (2, 1, 2): bg, fg
    np.testing.assert_array_equal(frame_image(probs[1:]), [[204, 128]])
    np.testing.assert_array_equal(frame_image(probs), [[204, 128]])
    np.testing.assert_array_equal(frame_image(np.concatenate([probs[:1], probs[1:] / 2,
                                                              probs[1:] / 2])), [[204, 128]])
    grid = grid_image([np.zeros((4, 6), np.uint8)] * 7)
    assert grid.shape == (8, 30) and (grid[4:, 12:] == 255).all() and not grid[:4].any()


def test_plot_loss_of_the_run(trained, tmp_path):
    out = tmp_path / 'loss.png'
    assert load_tool('analysis_tools/plot_loss').main([str(trained[2]), '--out', str(out)]) == 0
    assert cv2.imread(str(out)) is not None
