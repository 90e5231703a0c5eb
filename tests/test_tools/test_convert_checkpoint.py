"""tools/convert_checkpoint.py: original SegRefiner checkpoint (any width/depth) → segrefiner.

The released size (118.6M parameters) is only checked for names and shapes, on the meta
device; numbers are compared at small widths against the independent functional forward of
``reference_unet.py``.
"""
import os
from pathlib import Path

import pytest
import torch

from convert_checkpoint import (convert, convert_state_dict, denoiser_from_config,
                                denoiser_on_meta, format_config, load_source, main)
from reference_unet import original_shapes, reference_forward
from segrefiner.apis import init_refiner
from segrefiner.models import DenoiseUNet

ROOT = Path(__file__).resolve().parents[2]
LISTING = ROOT / 'tests' / 'data' / 'segrefiner_unet_state_dict.txt'
BASE_CONFIG = ROOT / 'configs' / '_base_' / 'models' / 'segrefiner.py'
SOBEL_X = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]) / 4
SOBEL = {'loss_texture.sobel.conv_x.weight': SOBEL_X[None, None].clone(),
         'loss_texture.sobel.conv_y.weight': SOBEL_X.t()[None, None].clone()}

# Original settings (as the original constructor takes them) of the small test networks.
WIDTH32 = dict(model_channels=32, channel_mult=(1, 1, 2, 2, 4, 4), num_res_blocks=2,
               attention_ds=(16, 32))  # the released topology at a quarter of the width
SHALLOW = dict(model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_ds=(2, ))
DEEP = dict(model_channels=64, channel_mult=(1, 1, 2), num_res_blocks=3, attention_ds=(1, 4))


def _listing():
    rows = [ln.split('\t') for ln in LISTING.read_text().splitlines() if not ln.startswith('#')]
    return {k: eval(shape) for k, shape in rows}


def _random_state(shapes, seed=0):
    """An original-layout state dict with random weights (GroupNorm weights around 1)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
        scale = 1 / fan_in**0.5 if len(shape) > 1 else 0.1
        state['denoise_model.' + key] = torch.randn(shape, generator=gen) * scale
        if key.endswith('norm.weight') or '.0.weight' in key and len(shape) == 1:
            state['denoise_model.' + key] += 1
    state.update({k: v.clone() for k, v in SOBEL.items()})
    return state


def _original_checkpoint(path, arch, seed=0):
    """Save an mmdet 2.x style original checkpoint for ``arch``; returns its state dict."""
    state = _random_state(original_shapes(**arch), seed)
    torch.save({'meta': {'mmdet_version': '2.28.1'}, 'state_dict': state}, path)
    return state


def _config(path, snippet):
    """A config inheriting the base SegRefiner model with ``snippet`` appended."""
    path.write_text(f'_base_ = [{str(BASE_CONFIG)!r}]\n'
                    "custom_imports = dict(imports=['segrefiner'])\n" + snippet + '\n')
    return path


def _inputs(size, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 4, size, size, generator=gen)
    x[:, 3] = (x[:, 3] > 0).float()
    return x, torch.tensor([5, 0])


def test_listing_is_the_original_layout_at_the_released_size():
    """The test data listing equals the reference description of the original network."""
    listing = _listing()
    assert listing == original_shapes()
    assert sum(torch.Size(s).numel() for s in listing.values()) == 118_604_673


def test_released_checkpoint_converts_on_the_meta_device():
    """Names and shapes of the released size: settings inferred, base config matched, strict."""
    state = {'denoise_model.' + k: torch.empty(s, device='meta') for k, s in _listing().items()}
    state.update(SOBEL)
    converted, settings = convert_state_dict(state, 'released.pth')
    base = denoiser_from_config(str(BASE_CONFIG))
    assert settings == base
    converted_cfg, checked = convert_state_dict(state, 'released.pth', base, str(BASE_CONFIG))
    assert checked == base and list(converted_cfg) == list(converted)
    net = denoiser_on_meta(settings)
    assert next(net.parameters()).is_meta
    assert not net.load_state_dict(
        {k[len('decode_head.denoiser.'):]: v for k, v in converted.items()},
        strict=True, assign=True).missing_keys
    assert sum(v.numel() for v in converted.values()) == 118_604_673


@pytest.mark.parametrize('arch,heads,heads_up,size', [(SHALLOW, 1, -1, 16), (DEEP, 2, 1, 16)],
                         ids=['w32-mult12-res1', 'w64-mult112-res3-config'])
def test_other_widths_and_depths_match_the_original(tmp_path, arch, heads, heads_up, size):
    """Settings inferred (head counts from --num-heads, or from --config), strict load into
    DenoiseUNet, the original's output."""
    src, dst = tmp_path / 'orig.pth', tmp_path / 'converted.pth'
    state = _original_checkpoint(src, arch)
    if heads_up == -1:
        settings, _ = convert(str(src), str(dst), num_heads=heads)
    else:
        snippet = format_config(dict(
            model_channels=arch['model_channels'], channel_mult=arch['channel_mult'],
            num_res_blocks=arch['num_res_blocks'], attention_strides=arch['attention_ds'] + (64, ),
            num_heads=heads, num_heads_upsample=heads_up))
        settings, _ = convert(str(src), str(dst), str(_config(tmp_path / 'cfg.py', snippet)))
        assert settings['num_heads_upsample'] == heads_up
    assert settings['model_channels'] == arch['model_channels']
    assert settings['channel_mult'] == arch['channel_mult']
    assert settings['num_res_blocks'] == arch['num_res_blocks']
    assert settings['attention_strides'] == arch['attention_ds']
    assert settings['num_heads'] == heads
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['denoiser'] == settings
    net = DenoiseUNet(**settings).eval()
    net.load_state_dict({k[len('decode_head.denoiser.'):]: v
                         for k, v in ckpt['state_dict'].items()}, strict=True)
    x, t = _inputs(size)
    with torch.no_grad():
        ours = net(x, t)
        theirs = reference_forward(state, x, t, arch['channel_mult'], arch['num_res_blocks'],
                                   arch['attention_ds'], heads, heads_up)
    assert theirs.abs().max() > 1e-2  # a non-trivial output
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_width32_cli_snippet_builds_the_original_network(tmp_path, capsys):
    """The command line: convert, print the snippet, a config with it loads strictly and
    reproduces the original; with that config as --config the conversion is checked."""
    src, dst = tmp_path / 'segrefiner_w32.pth', tmp_path / 'converted.pth'
    state = _original_checkpoint(src, WIDTH32)
    main([str(src), str(dst)])
    stdout = capsys.readouterr().out
    assert 'num_heads=4 assumed' in stdout
    snippet = stdout[stdout.index('model = dict('):]
    assert 'model_channels=32,' in snippet and 'channel_mult=(1, 1, 2, 2, 4, 4),' in snippet
    config = _config(tmp_path / 'w32.py', snippet)

    model = init_refiner(config, str(dst))  # strict
    x, t = _inputs(32)
    with torch.no_grad():
        ours = model.decode_head(x, t)
        theirs = reference_forward(state, x, t)
    assert ours.shape == (2, 1, 32, 32)
    assert theirs.abs().max() > 1e-2
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)

    main([str(src), str(tmp_path / 'again.pth'), '--config', str(config)])
    assert f'matches the denoiser of {config}' in capsys.readouterr().out
    ckpt = torch.load(tmp_path / 'again.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['denoiser'] == denoiser_from_config(str(config))


def test_config_mismatches_name_the_setting_and_both_values(tmp_path):
    src = tmp_path / 'w32.pth'
    _original_checkpoint(src, SHALLOW)
    dst = tmp_path / 'out.pth'
    with pytest.raises(ValueError) as err:  # the released config: other width and depth
        convert(str(src), str(dst), str(BASE_CONFIG))
    message = str(err.value)
    assert str(src) in message and str(BASE_CONFIG) in message
    assert 'model_channels is 32 in the checkpoint but 128 in the config' in message
    assert 'channel_mult is (1, 2) in the checkpoint but (1, 1, 2, 2, 4, 4)' in message
    assert 'num_res_blocks is 1 in the checkpoint but 2' in message

    settings = dict(model_channels=32, num_res_blocks=1, channel_mult=(1, 2),
                    attention_strides=(2, ), num_heads=3)
    snippet = format_config(settings)
    with pytest.raises(ValueError, match=r'num_heads=3 \(from config .*\) does not divide the '
                       r'attention width 64'):
        convert(str(src), str(dst), str(_config(tmp_path / 'heads.py', snippet)))
    snippet = format_config(dict(settings, num_heads=2, norm_groups=8))
    with pytest.raises(ValueError, match='norm_groups is 32 in the original network but 8'):
        convert(str(src), str(dst), str(_config(tmp_path / 'groups.py', snippet)))
    with pytest.raises(ValueError, match='num_heads is 1 on the command line but 2'):
        convert(str(src), str(dst), str(_config(tmp_path / 'ok.py', snippet.replace(
            'norm_groups=8', 'norm_groups=32'))), num_heads=1)
    assert not dst.exists()


def test_rejects_foreign_and_incomplete_checkpoints(tmp_path):
    state = _random_state(original_shapes(**SHALLOW))
    bad_sobel = dict(state)
    bad_sobel['loss_texture.sobel.conv_x.weight'] = torch.ones(1, 1, 3, 3)
    with pytest.raises(ValueError, match='Sobel'):
        convert_state_dict(bad_sobel)
    with pytest.raises(ValueError, match='out.2.weight'):
        convert_state_dict({k: v for k, v in state.items() if 'out.2' not in k})
    with pytest.raises(ValueError, match=r'out_layers.*missing|missing.*out_layers'):
        convert_state_dict({k: v for k, v in state.items() if 'output_blocks.1.0.out' not in k})
    with pytest.raises(ValueError, match='unexpected keys'):
        convert_state_dict({**state, 'backbone.conv.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match=r'unexpected \[.*label_emb'):
        convert_state_dict({**state, 'denoise_model.label_emb.weight': torch.zeros(3, 128)})
    sinusoidal = {k: v for k, v in state.items() if 'time_embed' not in k}
    sinusoidal['denoise_model.time_embed.0.weight'] = torch.zeros(128, 32)
    with pytest.raises(ValueError, match='learn_time_embd=False'):
        convert_state_dict(sinusoidal)
    scale_shift = dict(state)
    scale_shift['denoise_model.input_blocks.1.0.emb_layers.1.weight'] = torch.zeros(64, 128)
    with pytest.raises(ValueError, match='use_scale_shift_norm=True'):
        convert_state_dict(scale_shift)
    avg_pool = {k: v for k, v in state.items() if 'input_blocks.2.0.op' not in k}
    with pytest.raises(ValueError, match='input_blocks.2 has no weights'):
        convert_state_dict(avg_pool)


def test_bad_files_name_the_file_and_never_half_write(tmp_path, capsys):
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'previous')

    def rejected(src, match):
        with pytest.raises((ValueError, FileNotFoundError), match=match) as err:
            convert(str(src), str(dst))
        assert str(src) in str(err.value)
        assert dst.read_bytes() == b'previous'

    rejected(tmp_path / 'absent.pth', 'not found')
    (tmp_path / 'notes.txt').write_text('not a checkpoint\n')
    rejected(tmp_path / 'notes.txt', 'is not a torch checkpoint')
    torch.save([torch.zeros(1)], tmp_path / 'list.pth')
    rejected(tmp_path / 'list.pth', 'does not hold a state dict')
    torch.save({'state_dict': {'backbone.conv.weight': torch.zeros(1)}}, tmp_path / 'other.pth')
    rejected(tmp_path / 'other.pth', 'not a SegRefiner checkpoint')
    state = _original_checkpoint(tmp_path / 'orig.pth', SHALLOW)
    torch.save({'state_dict': {k: v for k, v in state.items() if 'middle_block.1' not in k}},
               tmp_path / 'partial.pth')
    rejected(tmp_path / 'partial.pth', 'middle_block.1')
    convert(str(tmp_path / 'orig.pth'), str(tmp_path / 'converted.pth'), num_heads=1)
    rejected(tmp_path / 'converted.pth', 'already in segrefiner')
    assert sorted(os.listdir(tmp_path)) == ['converted.pth', 'list.pth', 'notes.txt', 'orig.pth',
                                           'other.pth', 'out.pth', 'partial.pth']  # no temp files
    with pytest.raises(ValueError, match=str(tmp_path / 'other.pth')):
        load_source(str(tmp_path / 'other.pth'))

    with pytest.raises(SystemExit) as exit_:  # the command line: a one-line error, status 1
        main([str(tmp_path / 'absent.pth'), str(tmp_path / 'new.pth')])
    assert exit_.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith('convert_checkpoint.py: error: checkpoint file not found: ')
    assert str(tmp_path / 'absent.pth') in stderr
    assert not (tmp_path / 'new.pth').exists()


class _CreatesFile:
    """Unpickles into ``open(path, 'w')``: a file that runs code when it is loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


def test_untrusted_checkpoints_are_refused_unless_trusted(tmp_path, capsys):
    shapes = original_shapes(**SHALLOW)
    state = _random_state(shapes)
    target = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': state, 'meta': _CreatesFile(target)}, evil)
    with pytest.raises(SystemExit) as exit_:
        main([str(evil), str(tmp_path / 'out.pth'), '--num-heads', '1'])
    assert exit_.value.code == 1
    stderr = capsys.readouterr().err
    assert str(evil) in stderr and '--trust-checkpoint' in stderr
    assert not target.exists() and not (tmp_path / 'out.pth').exists()

    # a trusted file with a type outside the allow-list converts with --trust-checkpoint
    extra = tmp_path / 'extra.pth'
    torch.save({'state_dict': state, 'meta': {'root': Path('/data')}}, extra)
    with pytest.raises(SystemExit):
        main([str(extra), str(tmp_path / 'out.pth'), '--num-heads', '1'])
    main([str(extra), str(tmp_path / 'out.pth'), '--num-heads', '1', '--trust-checkpoint'])
    assert (tmp_path / 'out.pth').is_file()
