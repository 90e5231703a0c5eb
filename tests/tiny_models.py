"""The tiny SegRefiner model every test folder builds: a 2-level, 16-channel denoiser.

Importable from any test (``tests/`` is on ``sys.path``, like ``hr_layouts``).
"""
from typing import Optional

TINY_DENOISER = dict(type='DenoiseUNet', model_channels=16, num_res_blocks=1,
                     channel_mult=(1, 2), attention_strides=(2, ), num_heads=2, norm_groups=8)

#: A tiny denoiser for the released model size 256: 4 levels, 4 channels, attention only in
#: the middle block (32² tokens at stride 8; TINY_DENOISER's stride-2 attention would attend
#: over 128² tokens there). About 0.1 s per 256² forward on one core.
TINY_DENOISER_256 = dict(type='DenoiseUNet', model_channels=4, num_res_blocks=1,
                         channel_mult=(1, 2, 2, 2), attention_strides=(), num_heads=1,
                         norm_groups=2)


def tiny_refiner_cfg(denoiser: Optional[dict] = None, **test_cfg) -> dict:
    """A Refiner config with a tiny denoiser (default TINY_DENOISER at model size 32)."""
    test_cfg.setdefault('model_size', 32)
    return dict(
        type='Refiner',
        data_preprocessor=dict(type='RefineDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        decode_head=dict(type='DiscreteDiffusionHead', denoiser=dict(denoiser or TINY_DENOISER)),
        test_cfg=test_cfg)
