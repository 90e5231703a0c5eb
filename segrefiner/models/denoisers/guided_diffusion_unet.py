"""guided-diffusion's ``UNetModel`` configured by guided-diffusion's own model flags.

:class:`GuidedDiffusionUNet` translates the flags of guided-diffusion's ``create_model``
(``image_size``, ``num_channels``, ``attention_resolutions='32,16,8'``, ``channel_mult=''``, ...)
into :class:`DenoiseUNet` options. With ddpm-segmentation's flags (``GUIDED_DIFFUSION_256``) it
has the 566 tensors (552,814,086 parameters) of the released 256² checkpoints ``lsun_horse.pt``,
``lsun_cat.pt``, ``lsun_bedroom.pt`` and ``ffhq.pt``, which :meth:`load_checkpoint` loads
strictly and without unpickling code (docs/ddpm_features.md, 'The pretrained DDPMs').
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from segrefiner.utils.checkpoint import (CheckpointError, check_state_dict_fits,
                                         load_checkpoint_file, state_dict_of)
from .denoise_unet import AttentionBlock, DenoiseUNet

#: guided-diffusion's ``channel_mult`` for ``channel_mult=''``, by ``image_size``.
DEFAULT_CHANNEL_MULT = {
    512: (0.5, 1, 1, 2, 2, 4, 4),
    256: (1, 1, 2, 2, 4, 4),
    128: (1, 1, 2, 3, 4),
    64: (1, 2, 3, 4),
}
#: ImageNet classes of guided-diffusion's class-conditional models (``class_cond=True``).
NUM_CLASSES = 1000
#: The flags of every checkpoint ddpm-segmentation uses (LSUN horse / cat / bedroom, FFHQ).
GUIDED_DIFFUSION_256 = dict(
    image_size=256, num_channels=256, num_res_blocks=2, attention_resolutions='32,16,8',
    channel_mult='', num_head_channels=64, use_scale_shift_norm=True, resblock_updown=True,
    learn_sigma=True, dropout=0.1, class_cond=False)


def parse_channel_mult(channel_mult: Union[str, Sequence[float]],
                       image_size: int) -> Tuple[float, ...]:
    """``''`` → the default of ``image_size``; ``'1,2,2,4'`` or a sequence → a tuple."""
    if isinstance(channel_mult, str):
        if channel_mult == '':
            if image_size not in DEFAULT_CHANNEL_MULT:
                raise ValueError(f"channel_mult='' has no default for image_size={image_size} "
                                 f'(guided-diffusion has {sorted(DEFAULT_CHANNEL_MULT)}); give '
                                 f"it, e.g. channel_mult='1,2,2'")
            return DEFAULT_CHANNEL_MULT[image_size]
        return tuple(int(m) for m in channel_mult.split(','))
    return tuple(channel_mult)


def parse_attention_resolutions(attention_resolutions: Union[str, Sequence[int]],
                                image_size: int) -> Tuple[int, ...]:
    """Resolutions (``'32,16,8'`` or a sequence) → down-sampling factors ``image_size // r``."""
    if isinstance(attention_resolutions, str):
        attention_resolutions = [int(r) for r in attention_resolutions.split(',') if r]
    return tuple(image_size // int(r) for r in attention_resolutions)


class QKVAttentionBlock(AttentionBlock):
    """:class:`AttentionBlock` with guided-diffusion's new head order
    (``use_new_attention_order``): the ``qkv`` output (B, 3C, HW) is split into q, k and v
    first, then each into heads. Same parameters as the legacy block."""

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) → (B, C, H, W)."""
        b, c, *spatial = x.shape
        x_flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x_flat))
        # each (B·heads, HW, C/heads)
        q, k, v = (part.reshape(b * self.num_heads, c // self.num_heads, -1).transpose(1, 2)
                   .contiguous() for part in qkv.chunk(3, dim=1))
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.proj_out(h.transpose(1, 2).reshape(b, c, -1))
        return (x_flat + h).reshape(b, c, *spatial)


@MODELS.register_module()
class GuidedDiffusionUNet(DenoiseUNet):
    """guided-diffusion's ``UNetModel`` built from its model flags (``create_model``).

    Every keyword keeps the name, the value form and the default of guided-diffusion's
    ``model_and_diffusion_defaults()``; the network is :class:`DenoiseUNet` with
    the sinusoidal timestep MLP, GroupNorm(32) everywhere, zero-initialised residual branches
    and output convolution, 3 input channels and 3 (ε) or 6 (ε and the variance
    interpolation, ``learn_sigma``) output channels. ``GUIDED_DIFFUSION_256`` holds the flags of
    the released LSUN / FFHQ models.

    Args:
        image_size (int): the training resolution; fixes the default ``channel_mult`` and turns
            ``attention_resolutions`` into down-sampling factors. Defaults to 64.
        num_channels (int): base width. Defaults to 128.
        num_res_blocks (int): residual blocks per level. Defaults to 2.
        attention_resolutions (str | Sequence[int]): feature-map sides with self-attention,
            ``'16,8'`` or ``(16, 8)``. Defaults to '16,8'.
        channel_mult (str | Sequence[float]): width multipliers per level, ``'1,2,2,4'``, a
            tuple, or ``''`` for guided-diffusion's default of ``image_size``
            (:data:`DEFAULT_CHANNEL_MULT`). Defaults to ''.
        num_heads (int): attention heads when ``num_head_channels`` is -1. Defaults to 4.
        num_head_channels (int): channels per head (heads = width / num_head_channels);
            -1 counts heads. Defaults to -1.
        num_heads_upsample (int): decoder heads; -1 means ``num_heads``. Defaults to -1.
        use_scale_shift_norm (bool): FiLM-like timestep conditioning. Defaults to True.
        resblock_updown (bool): re-sample inside residual blocks. Defaults to False.
        use_new_attention_order (bool): split q/k/v before the heads
            (:class:`QKVAttentionBlock`). Defaults to False.
        learn_sigma (bool): 6 output channels instead of 3. Defaults to False.
        dropout (float): dropout in the residual blocks. Defaults to 0.0.
        class_cond (bool): a class embedding ``label_emb`` (1000 classes) added to the
            timestep embedding; ``forward`` then takes ``y``. Defaults to False.
        init_cfg (dict, optional): mmengine init config (None: guided-diffusion's init).

    Example:
        >>> net = GuidedDiffusionUNet(image_size=32, num_channels=32, num_res_blocks=1,
        ...                           channel_mult='1,2', attention_resolutions='16')
        >>> net(torch.zeros(2, 3, 32, 32), torch.tensor([50, 250])).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self,
                 image_size: int = 64,
                 num_channels: int = 128,
                 num_res_blocks: int = 2,
                 attention_resolutions: Union[str, Sequence[int]] = '16,8',
                 channel_mult: Union[str, Sequence[float]] = '',
                 num_heads: int = 4,
                 num_head_channels: int = -1,
                 num_heads_upsample: int = -1,
                 use_scale_shift_norm: bool = True,
                 resblock_updown: bool = False,
                 use_new_attention_order: bool = False,
                 learn_sigma: bool = False,
                 dropout: float = 0.0,
                 class_cond: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            in_channels=3,
            out_channels=6 if learn_sigma else 3,
            model_channels=num_channels,
            num_res_blocks=num_res_blocks,
            channel_mult=parse_channel_mult(channel_mult, image_size),
            attention_strides=parse_attention_resolutions(attention_resolutions, image_size),
            num_heads=num_heads,
            num_heads_upsample=num_heads_upsample,
            dropout=dropout,
            norm_groups=32,
            time_embedding='sinusoidal',
            num_head_channels=num_head_channels,
            use_scale_shift_norm=use_scale_shift_norm,
            resblock_updown=resblock_updown,
            conv_resample=True,
            zero_init_output=True,
            zero_init_residual=True,
            init_cfg=init_cfg)
        self.image_size = image_size
        self.learn_sigma = learn_sigma
        self.label_emb = nn.Embedding(NUM_CLASSES, 4 * num_channels) if class_cond else None
        if use_new_attention_order:
            for module in self.modules():
                if type(module) is AttentionBlock:
                    module.__class__ = QKVAttentionBlock  # same parameters, other split

    def forward(self, x: Tensor, t: Tensor, y: Optional[Tensor] = None) -> Tensor:
        """guided-diffusion's ``UNetModel.forward(x, timesteps, y)``.

        Args:
            x (Tensor): (B, 3, H, W) image in [-1, 1] (noised); H and W divisible by
                ``size_divisor``.
            t (Tensor): (B,) timesteps, taken as they are (int or float).
            y (Tensor, optional): (B,) int64 class labels, exactly when ``class_cond``.

        Returns:
            Tensor: (B, 3, H, W) ε, or (B, 6, H, W) ε then the variance values
            (``learn_sigma``).
        """
        if (y is not None) != (self.label_emb is not None):
            raise ValueError('y (class labels) must be given if and only if class_cond=True')
        if x.shape[-2] % self.size_divisor or x.shape[-1] % self.size_divisor:
            raise ValueError(f'input size {tuple(x.shape[-2:])} must be divisible by '
                             f'{self.size_divisor}')
        emb = self.time_embed(t)
        if y is not None:
            emb = emb + self.label_emb(y)
        h, skips = x, []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)

    def load_checkpoint(self, filename: str, prefix: str = '', trust: bool = False) -> None:
        """Load weights strictly with the project's safe loader (:func:`load_unet_weights`)."""
        load_unet_weights(self, filename, prefix, trust)


def load_unet_weights(unet: nn.Module, filename: str, prefix: str = '',
                      trust: bool = False) -> None:
    """Load a UNet's weights strictly, without unpickling code unless ``trust``.

    Args:
        unet (nn.Module): the network to load into.
        filename (str): a bare state dict (guided-diffusion's released ``*.pt``) or an
            mmengine checkpoint (``state_dict`` inside).
        prefix (str): the UNet's key prefix in the file, e.g. ``'unet.'`` for a checkpoint of
            :class:`ImageDDPM`; only keys under it are read. Defaults to ''.
        trust (bool): allow arbitrary pickled objects. Defaults to False.

    Raises:
        FileNotFoundError, CheckpointError: a missing, unreadable or untrusted file, or one
            whose keys or shapes differ from the network's (the message names the file).
    """
    state = state_dict_of(load_checkpoint_file(filename, map_location='cpu', trust=trust),
                          filename)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f'checkpoint file {filename} has no key under the prefix '
                                  f'{prefix!r}')
    check_state_dict_fits(unet, state, filename)
    unet.load_state_dict(state, strict=True)
