"""tools/misc/publish_model.py: weights alone and a self-contained model config."""
import importlib.util
from pathlib import Path

import torch
from mmengine.config import Config
from tiny_models import tiny_refiner_cfg

from segrefiner.apis import init_refiner
from segrefiner.model_zoo import file_sha256

ROOT = Path(__file__).resolve().parents[3]


def load_publish():
    spec = importlib.util.spec_from_file_location('publish_model',
                                                  ROOT / 'tools' / 'misc' / 'publish_model.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_writes_weights_and_config(tmp_path, capsys):
    config = tmp_path / 'tiny.py'
    Config(dict(default_scope='mmseg', model=tiny_refiner_cfg())).dump(str(config))
    torch.manual_seed(0)
    model = init_refiner(str(config))
    checkpoint = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1),
                    optimizer=dict(state={}, param_groups=[])), checkpoint)
    out = tmp_path / 'zoo' / 'tiny_published'
    assert load_publish().main([str(config), str(checkpoint), str(out)]) == 0
    printed = capsys.readouterr().out
    weights = Path(f'{out}.pth')
    assert f'sha256 {file_sha256(str(weights))}' in printed
    assert list(torch.load(weights, weights_only=True)) == ['state_dict']
    published = Config.fromfile(f'{out}.py')
    assert set(published.keys()) == {'default_scope', 'model'}
    loaded = init_refiner(f'{out}.py', str(weights))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_missing_checkpoint_is_an_error(tmp_path, capsys):
    config = tmp_path / 'tiny.py'
    Config(dict(model=tiny_refiner_cfg())).dump(str(config))
    assert load_publish().main([str(config), str(tmp_path / 'nope.pth'),
                                str(tmp_path / 'out')]) == 1
    assert 'nope.pth' in capsys.readouterr().err
    assert not list(tmp_path.glob('out*'))
