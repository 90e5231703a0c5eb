# The bundled default refiner, stage 2 of 2: 3000 more iterations from stage 1's last checkpoint
# (segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py, run first with its default work
# dir), training mostly on the last diffusion steps: the step index t is drawn with weights
# 1:1:1:1:2:4 for t = 0..5, so 40% of the samples see the coarse mask itself (t = 5), the state
# the reverse process starts from. After stage 1 the denoiser's first prediction from a coarse
# mask changed ~20% of the erroneous pixels' worth of pixels but fixed about half of them
# (held-out composites): it had only begun to refine.
#   python tools/train.py configs/segrefiner/segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py
#   python tools/train.py configs/segrefiner/segrefiner_denoiseunet-w8_1xb8-3k-ft3k_composite-128x128-cpu.py
_base_ = ['./segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu.py']
max_iters = 3000
load_from = 'work_dirs/segrefiner_denoiseunet-w8_1xb8-3k_composite-128x128-cpu/iter_3000.pth'
model = dict(decode_head=dict(timestep_weights=[1, 1, 1, 1, 2, 4]))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters)
