"""``DDPMFeatureExtractor``: per-pixel features from the decoder of a frozen diffusion UNet.

ddpm-segmentation's ``FeatureExtractorDDPM`` (docs/ddpm_features.md, 'The method'): the image is
noised to each level of ``steps`` with one seeded noise shared by every image, the UNet sees
``x_t`` with ``t`` as is, and the activations of the decoder blocks ``blocks`` are kept, then
up-sampled bilinearly to the image size and concatenated per pixel.
"""
import contextlib
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..denoisers.denoise_unet import ResBlock
from ..denoisers.guided_diffusion_unet import load_unet_weights

ACTIVATIONS = ('output', 'input')
AUTOCAST_DTYPES = {None: None, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


class _Collected(Exception):
    """Raised by the hook of the last block read: the rest of the UNet is not run."""


@MODELS.register_module()
class DDPMFeatureExtractor(BaseModule):
    """Decoder activations of a frozen diffusion UNet as pixel features.

    Any UNet of the :class:`DenoiseUNet` family (``output_blocks`` of residual blocks, e.g.
    :class:`GuidedDiffusionUNet`) works. For each ``t`` in ``steps``:
    ``x_t = sqrt(ᾱ_t) x + sqrt(1 − ᾱ_t) ε`` (the diffusion's ``corrupt``), ``unet(x_t, t)``, and
    the output (or input) of each block of ``blocks`` is recorded; the UNet stops after the last
    block read. Features are ordered step by step, blocks in increasing index within a step
    (ddpm-segmentation's order). With the released 256² models and the defaults that is
    3 × (1024 + 512 + 512 + 512 + 256) = 8448 channels.

    The UNet is frozen (no gradients, always in eval mode: no dropout), serves the extraction
    only (its hooks end its forward pass after the last block read) and is kept out of the
    state dict: a trained segmentor's checkpoint holds its classifiers only, and the UNet's
    weights come from ``checkpoint``.

    Args:
        unet (dict): the UNet config.
        diffusion (dict, optional): the :class:`GaussianDiffusion` of the UNet's training.
            Defaults to guided-diffusion's T = 1000 linear betas.
        checkpoint (str, optional): the UNet's weights (a released guided-diffusion ``*.pt`` or
            an mmengine checkpoint), loaded strictly at construction by
            :func:`load_unet_weights`. None keeps the initial weights.
        checkpoint_prefix (str): the UNet's key prefix in ``checkpoint`` (``'unet.'`` for an
            :class:`ImageDDPM` checkpoint). Defaults to ''.
        trust_checkpoint (bool): unpickle arbitrary objects from ``checkpoint``. Defaults to
            False.
        steps (Sequence[int]): noise levels t. Defaults to (50, 150, 250).
        blocks (Sequence[int]): indices of ``unet.output_blocks``. Defaults to (5, 6, 7, 8, 12).
        activations (str): ``'output'`` (ddpm-segmentation's) or ``'input'`` activations of the
            blocks. Defaults to 'output'.
        noise_seed (int): seed of the noise ε shared by all images (drawn on the CPU, so the
            same on every device). Defaults to 0.
        autocast_dtype (str, optional): ``'float16'`` or ``'bfloat16'`` runs the UNet under
            ``torch.autocast`` (GroupNorm stays float32); the activations then have that dtype.
            Defaults to None (float32).
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> extractor = DDPMFeatureExtractor(
        ...     unet=dict(type='GuidedDiffusionUNet', image_size=32, num_channels=32,
        ...               num_res_blocks=1, channel_mult='1,2', attention_resolutions=''),
        ...     blocks=(1, 2), steps=(50, 150))
        >>> extractor.feature_channels, extractor(torch.zeros(2, 3, 32, 32)).shape
        (256, torch.Size([2, 256, 32, 32]))
    """

    def __init__(self,
                 unet: dict,
                 diffusion: Optional[dict] = None,
                 checkpoint: Optional[str] = None,
                 checkpoint_prefix: str = '',
                 trust_checkpoint: bool = False,
                 steps: Sequence[int] = (50, 150, 250),
                 blocks: Sequence[int] = (5, 6, 7, 8, 12),
                 activations: str = 'output',
                 noise_seed: int = 0,
                 autocast_dtype: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if activations not in ACTIVATIONS:
            raise ValueError(f'activations must be one of {ACTIVATIONS}, got {activations!r}')
        if autocast_dtype not in AUTOCAST_DTYPES:
            raise ValueError(f'autocast_dtype must be one of {list(AUTOCAST_DTYPES)}, got '
                             f'{autocast_dtype!r}')
        self.unet = MODELS.build(unet)
        output_blocks = getattr(self.unet, 'output_blocks', None)
        if not isinstance(output_blocks, nn.ModuleList):
            raise TypeError(f'{type(self.unet).__name__} has no output_blocks: the extractor '
                            f'reads the decoder of a DenoiseUNet-family UNet')
        bad = [b for b in blocks if not 0 <= b < len(output_blocks)]
        if bad or not blocks:
            raise ValueError(f'blocks must be non-empty indices in [0, {len(output_blocks)}) '
                             f'(the UNet has {len(output_blocks)} output blocks), got '
                             f'{tuple(blocks)}')
        self.diffusion = MODELS.build(diffusion or dict(type='GaussianDiffusion'))
        bad = [t for t in steps if not 0 <= t <= self.diffusion.max_timestep]
        if bad or not steps:
            raise ValueError(f'steps must be non-empty timesteps in [0, '
                             f'{self.diffusion.max_timestep}], got {tuple(steps)}')
        if checkpoint is not None:
            load_unet_weights(self.unet, checkpoint, checkpoint_prefix, trust_checkpoint)
        self.unet.requires_grad_(False)
        self.unet.eval()
        self.steps = tuple(int(t) for t in steps)
        self.blocks = tuple(sorted(set(blocks)))
        self.activations = activations
        self.noise_seed = noise_seed
        self.autocast_dtype = AUTOCAST_DTYPES[autocast_dtype]
        self.block_channels = [self._channels(output_blocks[b]) for b in self.blocks]
        self._recorded: Dict[int, Tensor] = {}
        for index in self.blocks:
            output_blocks[index].register_forward_hook(self._hook(index))
        self.register_state_dict_post_hook(_drop_unet_weights)
        self.register_load_state_dict_pre_hook(_keep_unet_weights)

    @property
    def feature_channels(self) -> int:
        """D, the channels per pixel: ``len(steps) · Σ block channels``."""
        return len(self.steps) * sum(self.block_channels)

    def _channels(self, block: nn.Module) -> int:
        first = block[0]
        if not isinstance(first, ResBlock):
            raise TypeError(f'output blocks must start with a ResBlock, got '
                            f'{type(first).__name__}')
        if self.activations == 'input':
            return first.in_layers[0].num_channels
        return first.out_layers[-1].out_channels

    def _hook(self, index: int):
        def record(module: nn.Module, args: tuple, output: Tensor) -> None:
            self._recorded[index] = args[0] if self.activations == 'input' else output
            if index == self.blocks[-1]:
                raise _Collected
        return record

    def train(self, mode: bool = True) -> 'DDPMFeatureExtractor':
        """Set the mode; the frozen UNet stays in eval mode."""
        super().train(mode)
        self.unet.eval()
        return self

    def noise(self, shape: Sequence[int], device: torch.device) -> Tensor:
        """The shared ε: (1, C, H, W) float32 standard normal from ``noise_seed``."""
        generator = torch.Generator().manual_seed(self.noise_seed)
        return torch.randn((1, *shape[1:]), generator=generator, device='cpu').to(device)

    @torch.no_grad()
    def extract(self, x: Tensor) -> List[Tensor]:
        """The activations at the UNet's resolutions.

        Args:
            x (Tensor): (B, 3, H, W) images in [-1, 1] (H, W divisible by the UNet's
                ``size_divisor``).

        Returns:
            list[Tensor]: ``len(steps) · len(blocks)`` tensors (B, C_k, h_k, w_k), step-major;
            float32, or ``autocast_dtype``.
        """
        noise = self.noise(x.shape, x.device)
        features = []
        for step in self.steps:
            t = torch.full((x.shape[0], ), step, dtype=torch.long, device=x.device)
            x_t = self.diffusion.corrupt(x, t, noise.expand_as(x))
            with (torch.autocast(x.device.type, dtype=self.autocast_dtype)
                  if self.autocast_dtype is not None else contextlib.nullcontext()):
                try:
                    self.unet(x_t, t)
                except _Collected:
                    pass
            features.extend(self._recorded.pop(b) for b in self.blocks)
        return features

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) images in [-1, 1] → (B, D, H, W) pixel features (:meth:`extract`,
        each up-sampled bilinearly, ``align_corners=False``, then concatenated)."""
        return torch.cat([F.interpolate(a, size=x.shape[-2:], mode='bilinear',
                                        align_corners=False) for a in self.extract(x)], dim=1)

    @staticmethod
    def sample(features: List[Tensor], points: Tensor, size: Sequence[int]) -> Tensor:
        """The up-sampled features at some pixels only, without the (B, D, H, W) map.

        Equal to ``forward(x)[b, :, y, x]`` at each point (the same bilinear weights as
        ``F.interpolate(align_corners=False)``: pixel centres, edges clamped).

        Args:
            features (list[Tensor]): :meth:`extract`'s (B, C_k, h_k, w_k) tensors.
            points (Tensor): (B, P, 2) int64 pixel coordinates (y, x) in the image.
            size (Sequence[int]): the image's (H, W).

        Returns:
            Tensor: (B, P, D) float32.
        """
        height, width = size
        points = points.to(torch.float32)
        grid = torch.stack([(2 * points[..., 1] + 1) / width - 1,
                            (2 * points[..., 0] + 1) / height - 1], dim=-1)[:, :, None]
        sampled = [
            F.grid_sample(a.float(), grid.to(a.device), mode='bilinear', padding_mode='border',
                          align_corners=False)[..., 0] for a in features
        ]
        return torch.cat(sampled, dim=1).transpose(1, 2)


def _drop_unet_weights(module: DDPMFeatureExtractor, state_dict: dict, prefix: str,
                       local_metadata: dict) -> None:
    """State-dict hook: the frozen UNet's weights are not saved."""
    for key in [k for k in state_dict if k.startswith(prefix + 'unet.')]:
        del state_dict[key]


def _keep_unet_weights(module: DDPMFeatureExtractor, state_dict: dict, prefix: str,
                       *args) -> None:
    """Load pre-hook: a state dict without the UNet keeps the loaded UNet weights."""
    for key, value in module.unet.state_dict(prefix=prefix + 'unet.').items():
        state_dict.setdefault(key, value)
