"""``ResidualRefiner``: a light diffusion refiner on top of a frozen semantic segmentor."""
import logging
import os.path as osp
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.models.losses import accuracy
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor, nn

from segrefiner.utils.checkpoint import (CheckpointGuard, check_state_dict_fits,
                                         load_checkpoint_file, state_dict_of)

#: Ablation modes → which inputs the correction network sees: (image, probabilities, logits).
MODES: Dict[str, Tuple[bool, bool, bool]] = {
    'full': (True, True, True),
    'no_image': (False, True, True),
    'no_logits': (True, True, False),
    'no_probs': (True, False, True),
}
#: Defaults of ``test_cfg``.
DEFAULT_TEST_CFG = dict(num_steps=5, t_level=150)
#: Channels of the (normalised RGB) image input.
IMAGE_CHANNELS = 3
#: The refiner's conventions for :class:`GaussianDiffusion`, filled in where ``diffusion`` does
#: not set them: cosine ᾱ over the levels 0..T (0 clean, T pure noise), the network's x̂0
#: (``2 softmax(L + Δ) - 1``) used as is, levels ``round(linspace(t_level, 0, K + 1))[:-1]``.
DIFFUSION_DEFAULTS = dict(beta_schedule='cosine', timestep_convention='levels',
                          prediction_type='x0', clip_sample=False, timestep_spacing='trailing')


@contextmanager
def _checked_local_loading(model: nn.Module, checkpoint: str) -> Iterator[None]:
    """mmengine's local checkpoint loading through segrefiner's safe loader, for the duration.

    ``init_cfg`` ``Pretrained`` loads non-strictly through mmengine's ``CheckpointLoader``;
    inside this context local files are read by :func:`load_checkpoint_file` (the trust of an
    active :class:`CheckpointGuard`, else none) and ``checkpoint`` must fit ``model`` exactly
    (:func:`check_state_dict_fits`), so a wrong file fails instead of leaving weights random.
    """
    previous = CheckpointLoader._schemes.get('')
    guard = getattr(previous, '__self__', None)
    trust = guard.trust if isinstance(guard, CheckpointGuard) else False
    target = osp.abspath(osp.expanduser(checkpoint))

    def load_from_safe_local(filename: str, map_location: Any = None) -> Any:
        loaded = load_checkpoint_file(filename, map_location=map_location, trust=trust)
        if osp.abspath(osp.expanduser(filename)) == target:
            check_state_dict_fits(model, state_dict_of(loaded, filename), filename)
        return loaded

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_safe_local, force=True)
    try:
        yield
    finally:
        if previous is None:
            CheckpointLoader._schemes.pop('', None)
        else:
            CheckpointLoader.register_scheme(prefixes='', loader=previous, force=True)


@MODELS.register_module()
class ResidualRefiner(BaseSegmentor):
    """Refines the class probabilities of a frozen semantic segmentor with a small UNet.

    **Baseline.** ``baseline`` is the config of an ordinary mmseg segmentor (e.g. the
    ``EncoderDecoder`` UNet + FCNHead of ``configs/unet/``) with C >= 2 output channels. It is
    built inside the refiner, frozen (no gradients, always in eval mode) and run on the same
    normalised inputs; its weights come from its ``init_cfg=dict(type='Pretrained',
    checkpoint=...)`` (a checkpoint written by ``tools/train.py`` for that config) when the
    Runner initialises the model for training, read by segrefiner's safe loader and checked to
    fit the baseline exactly; they are saved in the refiner's own checkpoints, so testing needs
    the refiner checkpoint only. Without ``data_preprocessor`` the baseline's is used.

    **State and inputs.** Let ``L`` be the baseline's logits (B, C, H, W) at input resolution
    and ``x0 = 2 softmax(L) - 1``. :class:`GaussianDiffusion` noises ``x0`` to level t
    (``0..T``, T = 300 by default; the refiner's conventions are :data:`DIFFUSION_DEFAULTS`).
    The correction network (:class:`ResidualUNet`) sees, by ``mode``:

    ==============  =======================================================================
    ``full``        normalised image (3) + noisy probabilities ``x_t`` (C) + logits (C)
    ``no_image``    ``x_t`` + logits
    ``no_logits``   image + ``x_t``
    ``no_probs``    image + logits
    ==============  =======================================================================

    plus the level t through its timestep embedding (logits enter centred per pixel, which
    leaves their softmax unchanged). Its output Δ is a correction: the refined logits are
    ``L + Δ`` in every mode (Δ starts at zero, so an untrained refiner equals the baseline).

    **Training** (:meth:`loss`): one level per sample, uniform in ``[0, T]``; cross-entropy
    (``loss_decode``) between ``L + Δ`` and the GT, pixels at ``ignore_index`` excluded.

    **Inference** (:meth:`predict`): ``x0`` is noised to ``test_cfg.t_level`` and
    :meth:`GaussianDiffusion.sample_loop` runs ``test_cfg.num_steps`` network evaluations at the
    levels ``GaussianDiffusion.timesteps(num_steps, start=t_level)`` gives; between steps the
    predicted probabilities ``2 softmax(L + Δ) - 1`` are x̂0 of a deterministic DDIM update
    (η = 0). The last step's ``L + Δ`` is the output, post-processed like mmseg's segmentors
    (padding removed, flips undone, resized to ``ori_shape``, argmax).

    Args:
        baseline (dict): config of the frozen segmentor, with
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` to load its weights in
            :meth:`init_weights` (without it the baseline keeps its initialisation).
        denoiser (dict): config of the correction network; ``in_channels`` and
            ``out_channels`` are set from ``mode`` and the baseline's classes.
        diffusion (dict): config of the noise schedule, completed by
            :data:`DIFFUSION_DEFAULTS`; its ``prediction_type`` must be ``'x0'``. Defaults to
            ``dict(type='GaussianDiffusion', num_timesteps=300)``.
        mode (str): ``'full'``, ``'no_image'``, ``'no_logits'`` or ``'no_probs'``.
            Defaults to 'full'.
        baseline_checkpoint (str, optional): deprecated spelling of the baseline's
            ``init_cfg`` ``Pretrained`` checkpoint (configs written before it, e.g. the
            configs dumped into earlier work directories). Defaults to None.
        loss_decode (dict): mmseg loss config. Defaults to ``CrossEntropyLoss`` averaged over
            the non-ignored pixels.
        ignore_index (int): GT label excluded from the loss. Defaults to 255.
        data_preprocessor (dict, optional): defaults to the baseline's.
        train_cfg (dict, optional): unused, kept for mmseg's interface.
        test_cfg (dict, optional): ``num_steps`` and ``t_level``; defaults
            ``DEFAULT_TEST_CFG`` (5 steps from level 150, as the original inference example).
        init_cfg (dict, optional): mmengine init config.

    Examples:
        >>> model = dict(type='ResidualRefiner',
        ...              baseline=dict(unet_fcn_model_cfg, init_cfg=dict(
        ...                  type='Pretrained', checkpoint='work_dirs/unet/iter_40000.pth')),
        ...              denoiser=dict(type='ResidualUNet', model_channels=32),
        ...              mode='full', test_cfg=dict(num_steps=5, t_level=150))
    """

    def __init__(self,
                 baseline: ConfigType,
                 denoiser: ConfigType,
                 diffusion: ConfigType = dict(type='GaussianDiffusion', num_timesteps=300),
                 mode: str = 'full',
                 baseline_checkpoint: Optional[str] = None,
                 loss_decode: ConfigType = dict(
                     type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
                 ignore_index: int = 255,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if mode not in MODES:
            raise ValueError(f'mode must be one of {sorted(MODES)}, got {mode!r}')
        baseline = ConfigDict(baseline)
        if baseline_checkpoint is not None:
            pretrained = dict(type='Pretrained', checkpoint=baseline_checkpoint)
            if baseline.get('init_cfg') not in (None, pretrained):
                raise ValueError(
                    f'baseline_checkpoint={baseline_checkpoint!r} and baseline.init_cfg='
                    f'{baseline.init_cfg} both set the baseline\'s weights: keep one (e.g. '
                    f'--cfg-options model.baseline.init_cfg.checkpoint=PATH)')
            print_log('ResidualRefiner: baseline_checkpoint is deprecated, write '
                      "baseline=dict(..., init_cfg=dict(type='Pretrained', checkpoint=...))",
                      logger='current', level=logging.WARNING)
            baseline.init_cfg = pretrained
        if data_preprocessor is None:
            data_preprocessor = baseline.get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.baseline = MODELS.build(baseline)
        self.num_classes = getattr(self.baseline, 'out_channels', 0)
        if self.num_classes < 2:
            raise ValueError('the baseline must output one logit per class (>= 2 channels), '
                             f'got {self.num_classes}')
        self.align_corners = self.baseline.align_corners
        self.baseline.requires_grad_(False)
        self.baseline.eval()

        self.mode = mode
        self.use_image, self.use_probs, self.use_logits = MODES[mode]
        in_channels = (IMAGE_CHANNELS * self.use_image +
                       self.num_classes * (self.use_probs + self.use_logits))
        self.diffusion = MODELS.build({**DIFFUSION_DEFAULTS, **diffusion})
        if self.diffusion.prediction_type != 'x0':
            raise ValueError('the ResidualRefiner predicts x0 (2 softmax(L + Δ) - 1): its '
                             "diffusion needs prediction_type='x0', got "
                             f'{self.diffusion.prediction_type!r}')
        self.denoiser = MODELS.build(
            dict(denoiser, in_channels=in_channels, out_channels=self.num_classes))
        self.loss_decode = MODELS.build(loss_decode)
        self.ignore_index = ignore_index
        self.train_cfg = train_cfg
        self.test_cfg = self.merge_test_cfg(test_cfg)

    # ----------------------------------------------------------------- configuration
    def merge_test_cfg(self, test_cfg: OptConfigType = None,
                       base: OptConfigType = None) -> ConfigDict:
        """``DEFAULT_TEST_CFG`` updated by ``base`` then ``test_cfg``, validated."""
        cfg = ConfigDict(DEFAULT_TEST_CFG)
        cfg.update(base or {})
        cfg.update(test_cfg or {})
        unknown = sorted(set(cfg) - set(DEFAULT_TEST_CFG))
        if unknown:
            raise ValueError(f'unknown test_cfg keys {unknown}: ResidualRefiner takes '
                             f'{sorted(DEFAULT_TEST_CFG)} (e.g. --cfg-options '
                             f'model.test_cfg.num_steps=10)')
        top = self.diffusion.max_timestep
        if not 0 <= cfg.t_level <= top:
            raise ValueError(f't_level must be in [0, {top}], got {cfg.t_level}')
        self.diffusion.timesteps(cfg.num_steps, start=cfg.t_level)  # validates num_steps
        return cfg

    @property
    def baseline_checkpoint(self) -> Optional[str]:
        """The checkpoint of the baseline's ``init_cfg`` ``Pretrained``, or None."""
        init_cfg = self.baseline.init_cfg
        cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg or [])
        return next((c['checkpoint'] for c in cfgs if c.get('type') == 'Pretrained'), None)

    def init_weights(self) -> None:
        """Initialise the refiner; the baseline's ``init_cfg`` ``Pretrained`` loads its
        checkpoint (mmengine's ``PretrainedInit``), read by segrefiner's safe loader with the
        trust of the tools' :class:`CheckpointGuard` if one is active, and refused unless it
        fits the baseline exactly (:class:`CheckpointMismatchError`).

        Raises:
            FileNotFoundError: the baseline checkpoint does not exist.
        """
        checkpoint = self.baseline_checkpoint
        if checkpoint is None:
            super().init_weights()
            return
        if '://' not in checkpoint and not osp.isfile(osp.expanduser(checkpoint)):
            raise FileNotFoundError(
                f'baseline checkpoint not found: {checkpoint} (model.baseline.init_cfg.'
                f'checkpoint; train the baseline with tools/train.py first, or point it at '
                f'its checkpoint)')
        with _checked_local_loading(self.baseline, checkpoint):
            super().init_weights()

    def train(self, mode: bool = True) -> nn.Module:
        """Set the train/eval mode; the baseline always stays in eval mode (frozen BN)."""
        super().train(mode)
        self.baseline.eval()
        return self

    # ----------------------------------------------------------------- building blocks
    @torch.no_grad()
    def baseline_logits(self, inputs: Tensor) -> Tensor:
        """The frozen baseline's logits at input resolution.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.

        Returns:
            Tensor: (B, C, H, W) logits (the baseline's ``test_cfg`` mode, whole or slide).
        """
        shape = tuple(inputs.shape[-2:])
        metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape)
                 for _ in range(inputs.shape[0])]
        return self.baseline.inference(inputs, metas)

    @staticmethod
    def probs_to_state(logits: Tensor) -> Tensor:
        """``2 softmax(logits) - 1``: (B, C, H, W) state in [-1, 1]."""
        return 2 * logits.softmax(dim=1) - 1

    def denoise(self, inputs: Tensor, state: Tensor, logits: Tensor, t: Tensor) -> Tensor:
        """One network evaluation: the refined logits ``L + Δ``.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            state (Tensor): (B, C, H, W) noisy state ``x_t``.
            logits (Tensor): (B, C, H, W) baseline logits ``L``.
            t (Tensor): (B,) int64 noise levels.

        Returns:
            Tensor: (B, C, H, W) refined logits.
        """
        parts: List[Tensor] = []
        if self.use_image:
            parts.append(inputs)
        if self.use_probs:
            parts.append(state)
        if self.use_logits:
            parts.append(logits - logits.mean(dim=1, keepdim=True))
        x = torch.cat(parts, dim=1)
        height, width = x.shape[-2:]
        divisor = self.denoiser.size_divisor
        pad_h, pad_w = -height % divisor, -width % divisor
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
        delta = self.denoiser(x, t)[..., :height, :width]
        return logits + delta

    def refine(self, inputs: Tensor, num_steps: int, t_level: int,
               generator: Optional[torch.Generator] = None) -> Tensor:
        """The reverse process from ``t_level`` in ``num_steps`` evaluations.

        The baseline's state is noised to the first level (:meth:`GaussianDiffusion.corrupt`)
        and :meth:`GaussianDiffusion.sample_loop` runs the steps with :meth:`denoise`, whose
        ``2 softmax(L + Δ) - 1`` is x̂0; the last evaluation's ``L + Δ`` is returned.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            num_steps (int): network evaluations.
            t_level (int): starting noise level.
            generator (torch.Generator, optional): source of the starting noise.

        Returns:
            Tensor: (B, C, H, W) refined logits at input resolution.
        """
        levels = self.diffusion.timesteps(num_steps, start=t_level)
        logits = self.baseline_logits(inputs)
        x0 = self.probs_to_state(logits)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        state = self.diffusion.corrupt(
            x0, x0.new_full((inputs.shape[0], ), levels[0], dtype=torch.long), noise)
        refined: List[Tensor] = []

        def denoise_fn(x_t: Tensor, t: Tensor) -> Tensor:
            refined[:] = [self.denoise(inputs, x_t, logits, t)]
            return self.probs_to_state(refined[0])

        self.diffusion.sample_loop(denoise_fn, state, levels, generator=generator)
        return refined[0]

    # ----------------------------------------------------------------- mmseg interface
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """The baseline's logits (B, C, H, W): the features the refiner starts from."""
        return self.baseline_logits(inputs)

    def encode_decode(self, inputs: Tensor, batch_data_samples: OptSampleList = None) -> Tensor:
        """Refined logits (B, C, H, W) at input resolution with ``self.test_cfg``."""
        return self.refine(inputs, self.test_cfg.num_steps, self.test_cfg.t_level)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Cross-entropy of the refined logits on randomly noised baseline predictions.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised, padded images.
            data_samples (list[SegDataSample]): samples with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict: ``loss_ce`` (the loss's ``loss_name``) and ``acc_seg``.
        """
        gt = torch.stack([s.gt_sem_seg.data for s in data_samples])[:, 0].long()
        if gt.shape[-2:] != inputs.shape[-2:]:
            raise ValueError(f'GT size {tuple(gt.shape[-2:])} differs from the input size '
                             f'{tuple(inputs.shape[-2:])}')
        logits = self.baseline_logits(inputs)
        x0 = self.probs_to_state(logits)
        t = self.diffusion.sample_timesteps(inputs.shape[0], inputs.device)
        state = self.diffusion.corrupt(x0, t, torch.randn_like(x0))
        refined = self.denoise(inputs, state, logits, t)
        loss = self.loss_decode(refined, gt, ignore_index=self.ignore_index)
        return {
            self.loss_decode.loss_name: loss,
            'acc_seg': accuracy(refined, gt, ignore_index=self.ignore_index)
        }

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None,
                test_cfg: OptConfigType = None,
                generator: Optional[torch.Generator] = None) -> SampleList:
        """Refine the baseline's prediction of each image.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised, padded images.
            data_samples (list[SegDataSample], optional): samples with metainfo
                (``ori_shape``, padding, flips), as mmseg's segmentors take them.
            test_cfg (dict, optional): overrides of ``self.test_cfg`` for this call.
            generator (torch.Generator, optional): source of the starting noise.

        Returns:
            list[SegDataSample]: with ``seg_logits`` (C, H, W) and ``pred_sem_seg`` (1, H, W)
            at ``ori_shape``.
        """
        cfg = self.merge_test_cfg(test_cfg, self.test_cfg)
        logits = self.refine(inputs, cfg.num_steps, cfg.t_level, generator)
        return self.postprocess_result(logits, data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """One network evaluation at level 0 on the clean baseline prediction.

        Returns:
            Tensor: (B, C, H, W) refined logits.
        """
        logits = self.baseline_logits(inputs)
        t = inputs.new_zeros((inputs.shape[0], ), dtype=torch.long)
        return self.denoise(inputs, self.probs_to_state(logits), logits, t)
