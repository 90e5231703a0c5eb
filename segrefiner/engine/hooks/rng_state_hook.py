"""Keep torch's global random state in Runner checkpoints, so that ``--resume`` is exact."""
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class TorchRNGStateHook(Hook):
    """Save torch's global RNG state in each checkpoint and restore it when one is resumed.

    mmengine 0.10.7 stores no RNG state in its checkpoints. The refiner's training step draws
    its timesteps and the training corruption from torch's global generator, so without this
    hook the iterations after a resume see other draws than an uninterrupted run. numpy's
    global state needs nothing: the transforms draw from it, and on resume mmengine's loop
    replays the skipped batches through the pipeline, which brings it back to where it was
    (restoring it here would put it one replay ahead).

    In distributed training every rank restores rank 0's state: with mmengine's default
    ``randomness.diff_rank_seed=False`` all ranks start from the same seed and draw alike.

    ``configs/_base_/default_runtime.py`` lists it in ``custom_hooks``; a config
    that sets its own ``custom_hooks`` should keep it.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['torch_rng_state'] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint['cuda_rng_state'] = torch.cuda.get_rng_state_all()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'torch_rng_state' in checkpoint:
            torch.set_rng_state(checkpoint['torch_rng_state'])
        if 'cuda_rng_state' in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint['cuda_rng_state'])
