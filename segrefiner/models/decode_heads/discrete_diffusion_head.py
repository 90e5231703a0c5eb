"""The refinement head: denoiser + discrete diffusion + SegRefiner's losses."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from ..utils import stack_field


@MODELS.register_module()
class DiscreteDiffusionHead(BaseModule):
    """Denoiser, diffusion and losses of SegRefiner (``docs/segrefiner.md``, 'Discrete diffusion').

    The segmentor's ``decode_head``, with ``BaseDecodeHead``'s signatures. Its inputs are the
    tuple ``(img, coarse)``: the (B, C, H, W) normalised image and the (B, 1, H, W) 0/1 coarse
    mask, the two things the denoiser is conditioned on.

    - :meth:`loss`: draw t, mix the GT and the coarse mask in closed form
      (:meth:`DiscreteDiffusion.corrupt`), predict the fine mask from image + mixed mask and
      apply BCE + 5 × texture L1.
    - :meth:`predict`: the reverse process from the coarse mask
      (:meth:`DiscreteDiffusion.sample_loop`).
    - ``forward(x, t)``: one denoiser pass.

    Args:
        denoiser (dict): config of the denoiser, e.g. ``dict(type='DenoiseUNet')``.
        diffusion (dict): config of the :class:`DiscreteDiffusion`.
        loss_mask (dict): the BCE loss (mmseg ``CrossEntropyLoss`` with ``use_sigmoid=True``).
        loss_texture (dict): the :class:`TextureL1Loss`.
        threshold (float): foreground threshold on the output probability; mmseg's
            ``postprocess_result`` reads it (foreground: probability > threshold).
        ignore_index (int): GT value excluded from the losses.
        boundary_band (dict, optional): ``dict(radius=r, weight=w)`` weighs the BCE of the
            pixels within ``r`` px of the coarse mask's outline by ``1 + w`` (the band where a
            coarse mask's errors lie; the coarse mask is known at test time too, so the
            weighting emphasises those pixels without biasing their decision). None (the
            released recipe) weighs every pixel alike.
        timestep_weights (Sequence[float], optional): relative frequencies of the training
            step indices 0..T-1 (T values); None (the released recipe) draws them uniformly.
            Larger weights on the last indices train more on inputs close to the coarse mask,
            the state the reverse process starts from.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 denoiser: ConfigType,
                 diffusion: ConfigType = dict(type='DiscreteDiffusion'),
                 loss_mask: ConfigType = dict(
                     type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0,
                     loss_name='loss_mask', avg_non_ignore=True),
                 loss_texture: ConfigType = dict(type='TextureL1Loss', loss_weight=5.0),
                 threshold: float = 0.5,
                 ignore_index: int = 255,
                 boundary_band: Optional[dict] = None,
                 timestep_weights: Optional[Sequence[float]] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.denoiser = MODELS.build(denoiser)
        self.diffusion = MODELS.build(diffusion)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_texture = MODELS.build(loss_texture)
        self.threshold = threshold
        self.ignore_index = ignore_index
        if boundary_band is not None and (set(boundary_band) != {'radius', 'weight'}
                                          or int(boundary_band['radius']) < 1
                                          or float(boundary_band['weight']) < 0):
            raise ValueError('boundary_band needs exactly radius >= 1 and weight >= 0, got '
                             f'{boundary_band}')
        self.boundary_band = boundary_band
        if timestep_weights is not None:
            timestep_weights = torch.as_tensor(timestep_weights, dtype=torch.float64)
            if (timestep_weights.shape != (self.diffusion.num_timesteps, )
                    or bool((timestep_weights < 0).any()) or timestep_weights.sum() <= 0):
                raise ValueError(f'timestep_weights needs {self.diffusion.num_timesteps} '
                                 f'non-negative values, not all zero, got '
                                 f'{timestep_weights.tolist()}')
        self.timestep_weights = timestep_weights
        if self.denoiser.num_timesteps != self.diffusion.num_timesteps:
            raise ValueError(f'the denoiser embeds {self.denoiser.num_timesteps} timesteps but '
                             f'the diffusion has {self.diffusion.num_timesteps}')

    @property
    def num_timesteps(self) -> int:
        return self.diffusion.num_timesteps

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Denoiser logits: x (B, C+1, H, W), t (B,) → (B, 1, H, W)."""
        return self.denoiser(x, t)

    def band_weight(self, coarse: Tensor) -> Optional[Tensor]:
        """(B, 1, H, W) 0/1 coarse mask → (B, H, W) BCE weights (``boundary_band``), or None."""
        if self.boundary_band is None:
            return None
        size = 2 * int(self.boundary_band['radius']) + 1
        dilated = F.max_pool2d(coarse, size, stride=1, padding=size // 2)
        eroded = -F.max_pool2d(-coarse, size, stride=1, padding=size // 2)
        return 1.0 + float(self.boundary_band['weight']) * (dilated - eroded)[:, 0]

    def loss(self, inputs: Tuple[Tensor, Tensor], batch_data_samples: SampleList,
             train_cfg: OptConfigType = None,
             generator: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
        """Training losses on a batch.

        Args:
            inputs (tuple[Tensor, Tensor]): ``(img, coarse)``, (B, C, H, W) normalised image
                and (B, 1, H, W) 0/1 coarse mask.
            batch_data_samples (list[SegDataSample]): the samples, with ``gt_sem_seg``
                ((1, H, W) int in {0, 1}, ``ignore_index`` allowed).
            train_cfg (dict, optional): not read; the head has no training settings.
            generator (torch.Generator, optional): source of t and of the corruption.

        Returns:
            dict[str, Tensor]: ``loss_mask``, ``loss_texture`` and the logged ``iou`` between
            (logits ≥ 0) and the GT.
        """
        img, coarse = inputs
        gt = stack_field(batch_data_samples, 'gt_sem_seg')
        valid = gt != self.ignore_index
        coarse = coarse.to(img.dtype)
        fine = torch.where(valid, gt.to(img.dtype), coarse)
        if self.timestep_weights is None:
            t = self.diffusion.sample_timesteps(img.shape[0], img.device, generator)
        else:
            t = torch.multinomial(self.timestep_weights, img.shape[0], replacement=True,
                                  generator=generator).to(img.device)
        x_t = self.diffusion.corrupt(fine, t, coarse, generator)
        logits = self.denoiser(torch.cat([img, x_t], dim=1), t)
        label = gt[:, 0].long()
        losses = {
            self.loss_mask.loss_name:
            self.loss_mask(logits, label, weight=self.band_weight(coarse),
                           ignore_index=self.ignore_index),
            self.loss_texture.loss_name:
            self.loss_texture(logits, fine, valid_mask=valid),
        }
        with torch.no_grad():
            pred = (logits >= 0) & valid
            target = (fine >= 0.5) & valid
            inter = (pred & target).flatten(1).sum(1).float()
            union = (pred | target).flatten(1).sum(1).float()
            losses['iou'] = torch.where(union > 0, inter / union.clamp(min=1),
                                        torch.ones_like(union)).mean()
        return losses

    def predict(self, inputs: Tuple[Tensor, Tensor], batch_img_metas: List[dict],
                test_cfg: OptConfigType = None,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """The reverse process from the coarse mask (:meth:`DiscreteDiffusion.sample_loop`).

        Args:
            inputs (tuple[Tensor, Tensor]): ``(img, coarse)``, (B, C, H, W) normalised image
                and (B, 1, H, W) 0/1 coarse mask, the state the process starts from.
            batch_img_metas (list[dict]): one per sample; not read: the output has the
                inputs' size (the refiner hands over crops at the model size).
            test_cfg (dict, optional): ``timesteps``, the descending step indices to run
                (default the full chain, :meth:`DiscreteDiffusion.timesteps`), and
                ``exit_tol``, the early-exit tolerance of
                :meth:`DiscreteDiffusion.sample_loop` (default 0: every step).
            generator (torch.Generator, optional): source of the reverse-process draws.

        Returns:
            Tensor: (B, 2, H, W) float32: channel 0 the foreground probability σ(logits) of
            the last step, channel 1 the cumulative fine probability F (the uncertainty the
            'hr' mode proposes its patches from).
        """
        img, coarse = inputs
        test_cfg = test_cfg or {}
        probs, fine_probs = self.diffusion.sample_loop(
            self.denoiser, img, coarse, test_cfg.get('timesteps'), generator=generator,
            exit_tol=test_cfg.get('exit_tol', 0.0))
        return torch.cat([probs.float(), fine_probs.float()], dim=1)
