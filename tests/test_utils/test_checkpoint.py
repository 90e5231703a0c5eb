"""segrefiner.utils.checkpoint: weights_only loading with an allow-list, clear errors for
untrusted, corrupt and foreign files, strict key checks, and no global state left behind."""
import pathlib

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS
from mmengine.runner.checkpoint import CheckpointLoader

from segrefiner.apis import init_refiner
from segrefiner.utils.checkpoint import (SAFE_GLOBALS, CheckpointError, CheckpointGuard,
                                         CheckpointMismatchError, UntrustedCheckpointError,
                                         load_checkpoint_file)
from tiny_models import TINY_DENOISER, tiny_refiner_cfg


class CreatesFile:
    """Unpickling this object creates ``path`` (what a malicious checkpoint could do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture(scope='module')
def model():
    return MODELS.build(tiny_refiner_cfg())


def runner_like_checkpoint(model) -> dict:
    """What ``Runner.save_checkpoint`` writes: meta, weights, the message hub (HistoryBuffers
    of float64 values and int64 counts, a numpy float64 ``eta``), AdamW and scheduler state."""
    hub = MessageHub.get_instance('test_checkpoint_hub')
    for step in range(3):
        hub.update_scalar('train/loss', 0.5 / (step + 1))
        hub.update_scalar('train/lr', np.float32(2e-3))
    hub.update_info('eta', np.float64(12.5))
    hub.update_info('dataset_meta', dict(classes=('background', 'foreground')))
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.AdamW([param], lr=2e-3)
    param.sum().backward()
    optimizer.step()  # exp_avg, exp_avg_sq and step tensors in the state
    return dict(meta=dict(epoch=0, iter=3, seed=0, cfg='x = 1', experiment_name='tiny',
                          mmengine_version='0.10.7', dataset_meta={'classes': ('a', 'b')}),
                state_dict=model.state_dict(), message_hub=hub.state_dict(),
                optimizer=optimizer.state_dict(),
                param_schedulers=[dict(factor=1.0, base_values=[2e-3], last_step=2)])


def test_runner_checkpoint_loads_weights_only(model, tmp_path):
    path = tmp_path / 'runner.pth'
    torch.save(runner_like_checkpoint(model), path)
    before = set(torch.serialization.get_safe_globals())
    checkpoint = load_checkpoint_file(str(path), map_location='cpu')
    assert set(torch.serialization.get_safe_globals()) == before  # the allow-list was scoped
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert history.mean() == pytest.approx((0.5 + 0.25 + 0.5 / 3) / 3)
    assert checkpoint['message_hub']['runtime_info']['eta'] == 12.5
    assert checkpoint['state_dict'].keys() == model.state_dict().keys()


def test_allow_list_is_scoped_and_keeps_the_users_entries(tmp_path):
    class Mine:
        pass

    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([Mine])
    try:
        path = tmp_path / 'plain.pth'
        torch.save({'x': torch.ones(1)}, path)
        load_checkpoint_file(str(path))
        assert set(torch.serialization.get_safe_globals()) == {*before, Mine}
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    for entry in SAFE_GLOBALS:  # nothing of ours is left after a load
        assert entry not in torch.serialization.get_safe_globals()


def test_checkpoint_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': CreatesFile(target)}, path)
    with pytest.raises(UntrustedCheckpointError) as info:
        load_checkpoint_file(str(path))
    message = str(info.value)
    assert str(path) in message and 'open' in message
    assert '--trust-checkpoint' in message and 'trust_checkpoint=True' in message
    assert not target.exists()
    # the legacy (pre-zip) format goes through the same unpickler
    torch.save({'meta': CreatesFile(target)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(UntrustedCheckpointError, match='open'):
        load_checkpoint_file(str(path))
    assert not target.exists()


def test_getattr_is_allowed_for_history_buffer_statistics_only(tmp_path):
    from mmengine.logging import HistoryBuffer

    class Reaches:
        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    path = tmp_path / 'getattr.pth'
    torch.save({'x': Reaches()}, path)
    with pytest.raises(UntrustedCheckpointError, match=r"getattr\(.*HistoryBuffer, '__init__'\)"):
        load_checkpoint_file(str(path))


def test_extra_type_needs_trust(tmp_path):
    path = tmp_path / 'extra.pth'
    torch.save({'state_dict': {}, 'meta': {'data': pathlib.PurePosixPath('/data')}}, path)
    with pytest.raises(UntrustedCheckpointError, match='pathlib.PurePosixPath'):
        load_checkpoint_file(str(path))
    loaded = load_checkpoint_file(str(path), trust=True)
    assert loaded['meta']['data'] == pathlib.PurePosixPath('/data')


def test_truncated_and_random_files_are_clear_errors(model, tmp_path):
    real = tmp_path / 'real.pth'
    torch.save(runner_like_checkpoint(model), real)
    data = real.read_bytes()
    for name, content, expected in (
            ('truncated.pth', data[:len(data) // 2], 'truncated or corrupt zip archive'),
            ('cut_head.pth', data[:100], 'truncated or corrupt zip archive'),
            ('random.pth', np.random.default_rng(0).bytes(4096), 'is not a torch checkpoint'),
            ('empty.pth', b'', 'is empty'),
            ('text.pth', b'version https://git-lfs.github.com/spec/v1\n', 'not a torch checkpoint'),
            ('bad_pickle.pth', b'\x80\x02' + np.random.default_rng(1).bytes(512), 'corrupt')):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint_file(str(path))
        assert str(path) in str(info.value) and expected in str(info.value), str(info.value)
        assert 'invalid literal' not in str(info.value)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_guard_installs_the_safe_loader_for_its_duration_only(tmp_path):
    original = CheckpointLoader._schemes['']
    target = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'meta': CreatesFile(target)}, path)
    with CheckpointGuard() as guard:
        assert CheckpointLoader._schemes[''] != original
        with pytest.raises(UntrustedCheckpointError):
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
        assert guard.last_file == str(path)
    assert CheckpointLoader._schemes[''] is original
    assert not target.exists()


def test_init_refiner_refuses_code_and_loads_with_trust(model, tmp_path):
    cfg = dict(model=tiny_refiner_cfg())
    from mmengine.config import Config
    target = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': CreatesFile(target)}, evil)
    with pytest.raises(UntrustedCheckpointError, match='trust_checkpoint=True'):
        init_refiner(Config(cfg), str(evil))
    assert not target.exists()

    runner = tmp_path / 'runner.pth'
    torch.save(runner_like_checkpoint(model), runner)
    loaded = init_refiner(Config(cfg), str(runner))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)

    extra = tmp_path / 'extra.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'root': pathlib.PurePosixPath('/d')}},
               extra)
    with pytest.raises(UntrustedCheckpointError, match='pathlib.PurePosixPath'):
        init_refiner(Config(cfg), str(extra))
    init_refiner(Config(cfg), str(extra), trust_checkpoint=True)


def test_init_refiner_refuses_other_configs_and_original_layout(model, tmp_path):
    from mmengine.config import Config
    other = MODELS.build(tiny_refiner_cfg())
    other.decode_head.denoiser = MODELS.build(dict(TINY_DENOISER, channel_mult=(1, 2, 2)))
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        init_refiner(Config(dict(model=tiny_refiner_cfg())), str(path))
    message = str(info.value)
    assert str(path) in message and 'unexpected key(s)' in message
    assert 'decode_head.denoiser.' in message and 'convert_checkpoint' not in message

    original = {'denoise_model.' + k: v for k, v in model.decode_head.denoiser.state_dict().items()}
    path = tmp_path / 'segrefiner_lr_latest.pth'
    torch.save({'state_dict': original}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        init_refiner(Config(dict(model=tiny_refiner_cfg())), str(path))
    message = str(info.value)
    assert f'python tools/convert_checkpoint.py {path} ' in message
    assert f'{len(original)} unexpected key(s): denoise_model.' in message
    assert 'missing key(s): decode_head.denoiser.' in message


def test_module_prefix_of_a_ddp_checkpoint_is_dropped(model, tmp_path):
    from mmengine.config import Config
    path = tmp_path / 'ddp.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in model.state_dict().items()}}, path)
    init_refiner(Config(dict(model=tiny_refiner_cfg())), str(path))

