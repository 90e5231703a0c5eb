# Runtime shared by every segrefiner config (mmseg-style).
default_scope = 'mmseg'
custom_imports = dict(imports=['segrefiner'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/ switch to gloo on machines without CUDA
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
# torch's RNG state in every checkpoint: --resume continues with the same random draws
custom_hooks = [dict(type='TorchRNGStateHook')]
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
