# The bundled default refiner: a small SegRefiner (the released diffusion, losses and crop-mode
# inference at 256x256) trained on the CPU on realistic photo composites (see
# configs/_base_/datasets/composite.py), for real photographs.
#   python tools/train.py configs/segrefiner/segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py
# Another length: --cfg-options train_cfg.max_iters=N param_scheduler.1.end=N
#
# Denoiser: 3.82 M parameters (14.6 MiB fp32 weights); widths 8-8-16-32-64-160 at strides 1-32
# (cheap full-resolution levels, the capacity at the coarse ones), attention only at stride 32;
# 2.2 GFLOP per 256x256 forward.
# Measured on the 2-core dev machine when idle: 0.10 s per 256x256 forward (0.13 s on one
# thread), ~0.9 s per training iteration (batch 8 of 128x128; rendering ~50 ms per sample runs
# in the data worker), ~1 s per validation image (6 steps). When other jobs load the cores,
# OMP_NUM_THREADS=1 is much faster than 2 contended OpenMP threads (1.1-1.8 vs 2-9 s/iter).
_base_ = [
    '../_base_/models/segrefiner.py', '../_base_/datasets/composite.py',
    '../_base_/schedules/segrefiner_hr_40k.py', '../_base_/default_runtime.py'
]
max_iters = 3000
# training: more distinct objects than the composites' default (look-alike objects 15% instead
# of 50%, a colour step of 25-70 across the outline instead of 12-40), and the BCE weighted x5
# within 12 px of the coarse outline, where the coarse masks' errors are: with uniform weights
# the small model settles on copying the coarse mask (only 1-9% of a crop's pixels differ).
train_dataloader = dict(dataset=dict(similar_prob=0.15, contrast=(25.0, 70.0)))
model = dict(
    decode_head=dict(
        boundary_band=dict(radius=12, weight=4.0),
        denoiser=dict(model_channels=8, num_res_blocks=1, channel_mult=(1, 1, 2, 4, 8, 20),
                      attention_strides=(32, ), num_heads=4, norm_groups=8)),
    test_cfg=dict(model_size=256, batch_max=8))

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=200, end=max_iters, eta_min=1e-5),
]
# validation: 32 held-out composites (seed 1), crop-mode inference, every 1000 iterations
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=3, save_last=True),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
