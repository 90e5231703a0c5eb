"""``ImageDDPM``: an unconditional Gaussian DDPM trained on images (the ε-regression of Ho et al.).

It trains the UNets whose activations :class:`DDPMFeatureExtractor` reads, where no released
DDPM can be downloaded (docs/ddpm_features.md, 'On the CPU').
"""
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ImageDDPM(BaseModel):
    """DDPM training of a UNet on images: ``‖target − unet(x_t, t)‖²`` with
    ``x_t = sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε``, t uniform, target ε / x0 / v by the diffusion's
    ``prediction_type``.

    Args:
        unet (dict): the network, ``forward(x, t)`` with as many output as input channels
            (e.g. :class:`GuidedDiffusionUNet` with ``learn_sigma=False``).
        diffusion (dict): the :class:`GaussianDiffusion` schedule. Defaults to T = 1000
            linear betas, ε-prediction (guided-diffusion's).
        data_preprocessor (dict, optional): makes the (B, 3, H, W) images in [-1, 1], e.g.
            ``SegDataPreProcessor`` with mean = std = 127.5 and ``bgr_to_rgb``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, unet: dict, diffusion: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.unet = MODELS.build(unet)
        if getattr(self.unet, 'learn_sigma', False):
            raise ValueError('ImageDDPM trains the ε (or x0 / v) output only: build the UNet '
                             'with learn_sigma=False')
        self.diffusion = MODELS.build(diffusion or dict(type='GaussianDiffusion'))

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'loss') -> Dict[str, Tensor]:
        """``mode='loss'``: the training loss of (B, 3, H, W) images in [-1, 1]."""
        if mode != 'loss':
            raise ValueError(f"ImageDDPM only trains (mode='loss'), got mode={mode!r}; its UNet "
                             f'is read by DDPMFeatureExtractor')
        t = self.diffusion.sample_timesteps(inputs.shape[0], inputs.device)
        noise = inputs.new_empty(inputs.shape).normal_()
        x_t = self.diffusion.corrupt(inputs, t, noise)
        target = self.diffusion.prediction_target(inputs, noise, t)
        return dict(loss_mse=F.mse_loss(self.unet(x_t, t), target))
