"""The refinement head: denoiser + discrete diffusion + SegRefiner's losses."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor


@MODELS.register_module()
class DiscreteDiffusionHead(BaseModule):
    """Denoiser, diffusion and losses of SegRefiner (``docs/segrefiner.md``, 'Discrete diffusion').

    Training: draw t, mix the GT and the coarse mask in closed form (``q_sample``), predict the
    fine mask from image + mixed mask and apply BCE + 5 × texture L1. Inference: the reverse
    process from the coarse mask.

    Args:
        denoiser (dict): config of the denoiser, e.g. ``dict(type='DenoiseUNet')``.
        diffusion (dict): config of the :class:`DiscreteDiffusion`.
        loss_mask (dict): the BCE loss (mmseg ``CrossEntropyLoss`` with ``use_sigmoid=True``).
        loss_texture (dict): the :class:`TextureL1Loss`.
        threshold (float): foreground threshold on the output probability.
        ignore_index (int): GT value excluded from the losses.
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
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.denoiser = MODELS.build(denoiser)
        self.diffusion = MODELS.build(diffusion)
        self.loss_mask = MODELS.build(loss_mask)
        self.loss_texture = MODELS.build(loss_texture)
        self.threshold = threshold
        self.ignore_index = ignore_index
        self.align_corners = False
        if self.denoiser.num_timesteps != self.diffusion.num_timesteps:
            raise ValueError(f'the denoiser embeds {self.denoiser.num_timesteps} timesteps but '
                             f'the diffusion has {self.diffusion.num_timesteps}')

    @property
    def num_timesteps(self) -> int:
        return self.diffusion.num_timesteps

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Denoiser logits: x (B, C+1, H, W), t (B,) → (B, 1, H, W)."""
        return self.denoiser(x, t)

    def loss(self, img: Tensor, gt: Tensor, coarse: Tensor,
             generator: Optional[torch.Generator] = None) -> Dict[str, Tensor]:
        """Training losses on a batch.

        Args:
            img (Tensor): (B, C, H, W) normalised image.
            gt (Tensor): (B, 1, H, W) int GT in {0, 1} (``ignore_index`` allowed).
            coarse (Tensor): (B, 1, H, W) 0/1 coarse mask.
            generator (torch.Generator, optional): source of t and of the corruption.

        Returns:
            dict[str, Tensor]: ``loss_mask``, ``loss_texture`` and the logged ``iou`` between
            (logits ≥ 0) and the GT.
        """
        valid = gt != self.ignore_index
        coarse = coarse.to(img.dtype)
        fine = torch.where(valid, gt.to(img.dtype), coarse)
        t = self.diffusion.sample_timesteps(img.shape[0], img.device, generator)
        x_t = self.diffusion.q_sample(fine, coarse, t, generator)
        logits = self.denoiser(torch.cat([img, x_t], dim=1), t)
        label = gt[:, 0].long()
        losses = {
            self.loss_mask.loss_name:
            self.loss_mask(logits, label, ignore_index=self.ignore_index),
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

    def predict(self, img: Tensor, coarse: Tensor, indices: Optional[Sequence[int]] = None,
                fine_probs: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        """Reverse process from the coarse mask (see :meth:`DiscreteDiffusion.p_sample_loop`).

        Returns:
            tuple[Tensor, Tensor]: foreground probability (B, 1, H, W) and the cumulative
            fine probability F (B, 1, H, W).
        """
        return self.diffusion.p_sample_loop(self.denoiser, img, coarse, indices, fine_probs,
                                            generator)
