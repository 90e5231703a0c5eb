# Second stage of the bundled default refiner: 6000 more iterations from the 3000-iteration
# model (segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py), on composites rendered at
# 512x512 and cut at five zoom levels, so that the denoiser also sees objects at about their
# native resolution, as the 'hr' mode's native-resolution patches show them:
#   python tools/train.py configs/segrefiner/segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py
#   python tools/train.py configs/segrefiner/segrefiner_denoiseunet-w8_1xb8-3k+6k_composite-multiscale-128x128-cpu.py
# (load_from below is the first stage's last checkpoint.) Rendering a 512x512 composite takes
# ~80 ms in the data worker (43 ms at 320x320), below the ~0.8 s of a training step.
_base_ = ['./segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py']
max_iters = 6000
load_from = ('work_dirs/segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu/iter_3000.pth')
# the box plus margin resized to 512 (about native size at this render size) ... 128 (4x less),
# then the random 128x128 patch of the first stage
train_pipeline = [
    dict(type='ObjectCrop', pad=40, random_shift=True, mask_key='coarse_seg_map'),
    dict(type='RandomChoice',
         transforms=[[dict(type='Resize', scale=(s, s), keep_ratio=False)]
                     for s in (512, 384, 256, 192, 128)],
         prob=[0.15, 0.2, 0.35, 0.15, 0.15]),
    dict(type='RandomCrop', crop_size=(128, 128), cat_max_ratio=0.95),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackRefineInputs'),
]
train_dataloader = dict(dataset=dict(img_size=(512, 512), seed=2, pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=2000)
