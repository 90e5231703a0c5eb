"""The refiner bundled with the package: files present, sha256 as published, strict loading."""
import re
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segrefiner import model_zoo
from segrefiner.apis import init_refiner, refine
from segrefiner.model_zoo import BUNDLED_SHA256, bundled_refiner_files, file_sha256
from segrefiner.models.segmentors import Refiner

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / 'README.md'
#: the config whose last checkpoint publish_model.py turned into the bundled files (README)
TRAINING_CONFIG = (ROOT / 'configs/segrefiner/'
                   'segrefiner_denoiseunet-w8_1xb8-3k+6k+5k_composite-multiscale-128x128-cpu.py')


def test_files_sha256_and_readme_agree():
    config, weights = bundled_refiner_files()
    assert Path(weights).stat().st_size <= 25 * 2**20
    assert file_sha256(weights) == BUNDLED_SHA256
    published = re.findall(r'sha256\s+`([0-9a-f]{64})`', README.read_text())
    assert published == [BUNDLED_SHA256]
    assert Path(config).suffix == '.py'


def test_bundled_model_is_the_training_configs():
    """The README's training commands reproduce the bundled model config, test_cfg included."""
    bundled = Config.fromfile(bundled_refiner_files(check_sha256=False)[0]).model.to_dict()
    assert bundled == Config.fromfile(str(TRAINING_CONFIG)).model.to_dict()
    assert bundled['test_cfg']['keep_native'] is True
    assert bundled['test_cfg']['early_exit'] == dict(tol=0.03)


def test_init_refiner_without_arguments_loads_the_bundled_weights():
    model = init_refiner()
    assert isinstance(model, Refiner) and not model.training
    state = torch.load(bundled_refiner_files()[1], weights_only=True)['state_dict']
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    image = torch.randint(0, 255, (40, 48, 3), dtype=torch.uint8).numpy()
    mask = torch.zeros(40, 48, dtype=torch.uint8).numpy()
    mask[10:30, 12:36] = 1
    assert refine(model, image, mask, steps=2).shape == (40, 48)


def test_damaged_or_missing_files_are_refused(tmp_path, monkeypatch):
    config, weights = bundled_refiner_files()
    shutil.copy(config, tmp_path / Path(config).name)
    damaged = tmp_path / Path(weights).name
    damaged.write_bytes(Path(weights).read_bytes()[:-10] + b'0123456789')
    monkeypatch.setattr(model_zoo, 'MODEL_ZOO_DIR', str(tmp_path))
    with pytest.raises(RuntimeError, match=f'{damaged}.*damaged or was replaced'):
        init_refiner()
    damaged.unlink()
    with pytest.raises(FileNotFoundError, match='missing from the package'):
        init_refiner()


def test_checkpoint_without_config_is_an_error():
    with pytest.raises(ValueError, match='needs its config'):
        init_refiner(checkpoint='x.pth')
