"""The diffusion-segmentation head: a mask generated from noise, conditioned on the image."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from ..diffusion.gaussian import SAMPLERS
from ..utils import stack_field

#: DDIM's number of reverse steps when ``test_cfg.num_steps`` is None (the seed's ``--steps``).
DDIM_DEFAULT_STEPS = 50
#: Defaults of the sampling keys of ``test_cfg`` (:meth:`GaussianDiffusionHead.sampling_cfg`).
SAMPLING_DEFAULTS = dict(sampler='ddim', num_steps=None, eta=0.0, num_samples=1)


@MODELS.register_module()
class GaussianDiffusionHead(BaseModule):
    """Denoiser, Gaussian diffusion and regression loss of a segmentation DDPM.

    The mask is encoded as ``x0 ∈ {-1, 1}^K`` and generated from pure noise by the reverse
    process of the :class:`GaussianDiffusion`, the denoiser seeing ``concat(image, x_t)`` at
    every step (MedSegDiff's conditioning; ``docs/diffseg.md``):

    - binary (``num_classes=2``, ``out_channels=1``): K = 1, ``x0 = 2 · mask − 1``; the
      foreground probability of a sample is ``p = (x̂0 + 1) / 2`` clamped to [0, 1], and a pixel
      is foreground when ``p > threshold`` (x̂0 > 0 for 0.5);
    - C classes (``out_channels = num_classes = C``; also 2 with ``out_channels=2``): K = C,
      ``x0 = 2 · one_hot − 1``; the class probabilities are ``(x̂0 + 1) / 2`` clamped to
      [0, 1] and normalised to sum 1 (uniform where all are 0); the label is their argmax.

    GT pixels equal to ``ignore_index`` (e.g. the padding of a batch) are -1 in every channel of
    x0 and left out of the loss.

    The segmentor's ``decode_head``, with ``BaseDecodeHead``'s signatures:

    - :meth:`loss`: t ~ U{0..T−1}, ``x_t = corrupt(x0, t, ε)``, and ``loss_decode`` between
      the denoiser output and the diffusion's prediction target (ε, x0 or v:
      :meth:`GaussianDiffusion.prediction_target`);
    - :meth:`predict`: ``num_samples`` reverse runs (:meth:`sample`), their mean probability;
    - ``forward(x, t)``: one denoiser pass.

    Args:
        denoiser (dict): config of the denoiser, e.g. ``dict(type='DenoiseUNet',
            time_embedding='sinusoidal')``. ``in_channels`` (image channels + K),
            ``out_channels`` (K) and ``num_timesteps`` (T) are filled in when absent; given
            values must agree (ValueError otherwise), so that ``--cfg-options`` changing T or
            the classes changes one key.
        diffusion (dict): config of the :class:`GaussianDiffusion`. Defaults to T = 1000 linear
            betas, ε-prediction, x̂0 clipped to [-1, 1].
        num_classes (int): classes of the masks (>= 2). Defaults to 2.
        out_channels (int, optional): mask channels K: 1 (binary, only with 2 classes) or
            ``num_classes``. Defaults to 1 for 2 classes, else ``num_classes``.
        in_channels (int): image channels. Defaults to 3.
        loss_decode (dict): regression loss on the prediction target, called as
            ``loss(pred, target, weight=valid, avg_factor=num_valid)`` with (B, K, H, W) tensors
            (mmdet's ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``). Defaults to
            ``dict(type='mmdet.MSELoss')``: the mean squared error over valid pixels and
            channels.
        threshold (float): foreground threshold on the binary probability; mmseg's
            ``postprocess_result`` reads it. Defaults to 0.5.
        ignore_index (int): GT value excluded from the loss. Defaults to 255.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 denoiser: ConfigType,
                 diffusion: ConfigType = dict(type='GaussianDiffusion'),
                 num_classes: int = 2,
                 out_channels: Optional[int] = None,
                 in_channels: int = 3,
                 loss_decode: ConfigType = dict(type='mmdet.MSELoss', loss_weight=1.0),
                 threshold: float = 0.5,
                 ignore_index: int = 255,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2 (background and foreground at least), '
                             f'got {num_classes}')
        if out_channels is None:
            out_channels = 1 if num_classes == 2 else num_classes
        if out_channels != num_classes and not (out_channels == 1 and num_classes == 2):
            raise ValueError(f'out_channels must be num_classes ({num_classes})'
                             f'{" or 1" if num_classes == 2 else ""}, got {out_channels}')
        if not 0 < threshold < 1:
            raise ValueError(f'threshold must lie in (0, 1), got {threshold}')
        self.num_classes = num_classes
        self.out_channels = out_channels
        self.in_channels = in_channels
        self.threshold = threshold
        self.ignore_index = ignore_index
        self.diffusion = MODELS.build(diffusion)
        if self.diffusion.timestep_convention != 'ddpm':
            raise ValueError("the head generates masks from pure noise: the diffusion needs "
                             f"timestep_convention='ddpm', got "
                             f"{self.diffusion.timestep_convention!r}")
        denoiser = dict(denoiser)
        for key, value in (('in_channels', in_channels + out_channels),
                           ('out_channels', out_channels),
                           ('num_timesteps', self.diffusion.num_timesteps)):
            if denoiser.setdefault(key, value) != value:
                raise ValueError(f'denoiser {key}={denoiser[key]} does not fit the head: '
                                 f'{key} must be {value} ({in_channels} image channels, '
                                 f'{out_channels} mask channels, {self.diffusion.num_timesteps}'
                                 ' timesteps); leave it out of the denoiser config')
        self.denoiser = MODELS.build(denoiser)
        self.loss_decode = MODELS.build(loss_decode)

    @property
    def num_timesteps(self) -> int:
        """T, the diffusion's number of timesteps."""
        return self.diffusion.num_timesteps

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Denoiser output: x (B, in_channels + K, H, W) = image then x_t, t (B,) int64 →
        (B, K, H, W) in the diffusion's ``prediction_type``."""
        return self.denoiser(x, t)

    # ----------------------------------------------------------------- masks
    def encode_masks(self, gt: Tensor) -> Tuple[Tensor, Tensor]:
        """GT label maps as the diffusion's clean state.

        Args:
            gt (Tensor): (B, 1, H, W) int labels in [0, num_classes) or ``ignore_index``.

        Returns:
            tuple[Tensor, Tensor]: x0 (B, K, H, W) float32 in {-1, 1} (-1 everywhere on
            ignored pixels) and the (B, 1, H, W) bool map of the valid pixels.

        Raises:
            ValueError: naming the labels outside [0, num_classes) that are not ignored.
        """
        valid = gt != self.ignore_index
        labels = torch.where(valid, gt, torch.zeros_like(gt)).long()
        bad = torch.unique(labels[(labels < 0) | (labels >= self.num_classes)])
        if bad.numel():
            raise ValueError(f'GT labels {bad.tolist()} are outside [0, {self.num_classes}) '
                             f'and not ignore_index ({self.ignore_index}); binary masks must be '
                             '0/1 (grey masks: LoadThresholdedAnnotations)')
        if self.out_channels == 1:
            onehot = labels.float()
        else:
            onehot = torch.nn.functional.one_hot(labels[:, 0], self.num_classes)
            onehot = onehot.permute(0, 3, 1, 2).float()
        return torch.where(valid, 2 * onehot - 1, -torch.ones_like(onehot)), valid

    def to_probs(self, x0: Tensor) -> Tensor:
        """Probabilities of a generated state (see the class docstring).

        Args:
            x0 (Tensor): (B, K, H, W) x̂0, about [-1, 1].

        Returns:
            Tensor: (B, K, H, W) float32: the foreground probability (K = 1) or class
            probabilities summing to 1 over the channels.
        """
        probs = ((x0.float() + 1) / 2).clamp(0, 1)
        if self.out_channels == 1:
            return probs
        total = probs.sum(dim=1, keepdim=True)
        uniform = torch.full_like(probs, 1 / self.out_channels)
        return torch.where(total > 0, probs / total.clamp(min=1e-12), uniform)

    # ----------------------------------------------------------------- training
    def loss(self, inputs: Tensor, batch_data_samples: SampleList,
             train_cfg: OptConfigType = None,
             generator: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
        """Training loss on a batch.

        Args:
            inputs (Tensor): (B, in_channels, H, W) normalised images; H and W multiples of the
                denoiser's ``size_divisor``.
            batch_data_samples (list[SegDataSample]): samples with ``gt_sem_seg`` ((1, H, W)
                int labels, ``ignore_index`` allowed).
            train_cfg (dict, optional): not read; the head has no training settings.
            generator (torch.Generator, optional): source of t and ε.

        Returns:
            dict[str, Tensor]: ``loss_diffusion``, the ``loss_decode`` value.
        """
        x0, valid = self.encode_masks(stack_field(batch_data_samples, 'gt_sem_seg'))
        x0 = x0.to(inputs.dtype)
        t = self.diffusion.sample_timesteps(inputs.shape[0], inputs.device, generator)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = self.diffusion.corrupt(x0, t, noise)
        output = self.denoiser(torch.cat([inputs, x_t], dim=1), t)
        target = self.diffusion.prediction_target(x0, noise, t)
        weight = valid.expand_as(output).to(output.dtype)
        loss = self.loss_decode(output, target, weight=weight,
                                avg_factor=weight.sum().clamp(min=1))
        return dict(loss_diffusion=loss)

    # ----------------------------------------------------------------- inference
    def sampling_cfg(self, test_cfg: OptConfigType = None) -> dict:
        """:data:`SAMPLING_DEFAULTS` updated by ``test_cfg`` (other keys kept), validated.

        Raises:
            ValueError: naming the bad key: ``sampler`` not 'ddim'/'ddpm', ``num_steps`` not
                None nor in [1, T], ``eta`` outside [0, 1] (or not 0 with 'ddpm'),
                ``num_samples`` < 1.
        """
        cfg = dict(SAMPLING_DEFAULTS)
        cfg.update(test_cfg or {})
        if cfg['sampler'] not in SAMPLERS:
            raise ValueError(f'test_cfg.sampler must be one of {list(SAMPLERS)}, got '
                             f'{cfg["sampler"]!r}')
        steps = cfg['num_steps']
        if steps is not None and not (isinstance(steps, int) and
                                      1 <= steps <= self.num_timesteps):
            raise ValueError(f'test_cfg.num_steps must be None or an int in [1, '
                             f'{self.num_timesteps}], got {steps!r}')
        if not 0 <= cfg['eta'] <= 1:
            raise ValueError(f'test_cfg.eta must lie in [0, 1], got {cfg["eta"]}')
        if cfg['sampler'] == 'ddpm' and cfg['eta'] != 0:
            raise ValueError(f"test_cfg.eta applies to sampler='ddim', got eta={cfg['eta']} "
                             "with 'ddpm'")
        if not (isinstance(cfg['num_samples'], int) and cfg['num_samples'] >= 1):
            raise ValueError(f'test_cfg.num_samples must be an int >= 1, got '
                             f'{cfg["num_samples"]!r}')
        return cfg

    def reverse_timesteps(self, sampler: str = 'ddim',
                          num_steps: Optional[int] = None) -> List[int]:
        """The timesteps a reverse run visits: ``num_steps`` of them, by default
        :data:`DDIM_DEFAULT_STEPS` (at most T) for ``'ddim'`` and all T for ``'ddpm'``."""
        if num_steps is None:
            num_steps = (min(DDIM_DEFAULT_STEPS, self.num_timesteps) if sampler == 'ddim' else
                         self.num_timesteps)
        return self.diffusion.timesteps(num_steps)

    def sample(self,
               inputs: Tensor,
               timesteps: Sequence[int],
               sampler: str = 'ddim',
               eta: float = 0.0,
               generator: Optional[torch.Generator] = None,
               callback: Optional[Callable[[int, Tensor, Tensor], None]] = None) -> Tensor:
        """One reverse run per image, from standard normal noise.

        Args:
            inputs (Tensor): (B, in_channels, H, W) normalised images.
            timesteps (Sequence[int]): strictly decreasing timesteps (:meth:`reverse_timesteps`).
            sampler (str): ``'ddim'`` or ``'ddpm'`` (:meth:`GaussianDiffusion.step`).
            eta (float): DDIM's η (0: deterministic given x_T).
            generator (torch.Generator, optional): source of x_T and of the step noise.
            callback (Callable, optional): ``callback(t, x_prev, x0_pred)`` after every step,
                with (B, K, H, W) states.

        Returns:
            Tensor: (B, K, H, W) the generated x̂0 (clipped to [-1, 1] if the diffusion
            clips).
        """
        def denoise(x_t: Tensor, t: Tensor) -> Tensor:
            return self.denoiser(torch.cat([inputs, x_t.to(inputs.dtype)], dim=1), t)

        shape = (inputs.shape[0], self.out_channels) + tuple(inputs.shape[-2:])
        return self.diffusion.sample_loop(denoise, shape, timesteps, sampler, eta, generator,
                                          callback, device=inputs.device)

    def predict(self, inputs: Tensor, batch_img_metas: List[dict],
                test_cfg: OptConfigType = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """The mean probability of ``num_samples`` generated masks.

        Args:
            inputs (Tensor): (B, in_channels, H, W) normalised images.
            batch_img_metas (list[dict]): one per image; not read: the output has the inputs'
                size (the segmentor post-processes it).
            test_cfg (dict, optional): ``sampler`` ('ddim'), ``num_steps`` (None:
                :meth:`reverse_timesteps`), ``eta`` (0.0), ``num_samples`` (1)
                (:meth:`sampling_cfg`); the ensemble members run one after the other, each a
                batched run of the B images.
            generator (torch.Generator, optional): source of all draws.

        Returns:
            Tensor: (B, K, H, W) float32 mean probabilities (:meth:`to_probs`).
        """
        cfg = self.sampling_cfg(test_cfg)
        timesteps = self.reverse_timesteps(cfg['sampler'], cfg['num_steps'])
        total = None
        for _ in range(cfg['num_samples']):
            probs = self.to_probs(self.sample(inputs, timesteps, cfg['sampler'], cfg['eta'],
                                              generator))
            total = probs if total is None else total + probs
        return total / cfg['num_samples']

