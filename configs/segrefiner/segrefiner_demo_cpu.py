# CPU demo: a small SegRefiner (same diffusion, losses and inference as the released model, a
# narrow 4-level denoiser) trained for a few minutes on the synthetic benchmark at 128x128.
#   python scripts/gen_synthetic.py && python tools/train.py configs/segrefiner/segrefiner_demo_cpu.py
_base_ = [
    '../_base_/models/segrefiner.py', '../_base_/datasets/synthetic.py',
    '../_base_/schedules/segrefiner_lr_120k.py', '../_base_/default_runtime.py'
]
max_iters = 300
model = dict(
    decode_head=dict(
        denoiser=dict(model_channels=24, num_res_blocks=1, channel_mult=(1, 2, 2, 4),
                      attention_strides=(8, ), num_heads=2, norm_groups=8)),
    test_cfg=dict(model_size=128, batch_max=8))

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
