"""The tiny SegRefiner model every test folder builds: a 2-level, 16-channel denoiser.

Importable from any test (``tests/`` is on ``sys.path``, like ``hr_layouts``).
"""

TINY_DENOISER = dict(type='DenoiseUNet', model_channels=16, num_res_blocks=1,
                     channel_mult=(1, 2), attention_strides=(2, ), num_heads=2, norm_groups=8)


def tiny_refiner_cfg(**test_cfg):
    """A Refiner config with a 2-level, 16-channel denoiser (model size 32)."""
    return dict(
        type='Refiner',
        data_preprocessor=dict(type='RefineDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        decode_head=dict(type='DiscreteDiffusionHead', denoiser=TINY_DENOISER),
        test_cfg=dict(model_size=32, **test_cfg))
