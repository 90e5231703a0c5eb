"""The correction network of the ResidualRefiner: a :class:`DenoiseUNet` preset."""
from typing import Optional, Sequence

from mmseg.registry import MODELS

from .denoise_unet import DenoiseUNet


@MODELS.register_module()
class ResidualUNet(DenoiseUNet):
    """A small :class:`DenoiseUNet` for long noise schedules that starts as the zero map.

    Only a preset: SegRefiner's network (residual blocks with an additive timestep embedding,
    optional attention, one attention block in the middle) with
    ``time_embedding='sinusoidal'`` (any level ``0..T``, nearby levels embed nearby) and
    ``zero_init_output=True``, so a residual refiner built on it initially returns its input
    logits unchanged. Parameter names: ``time_embed.0.*`` / ``time_embed.2.*`` (the
    sinusoidal MLP), then DenoiseUNet's.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels (one correction logit per class).
        model_channels (int): base width. Defaults to 32.
        num_res_blocks (int): residual blocks per level. Defaults to 1.
        channel_mult (Sequence[int]): width multiplier per level; inputs must be divisible
            by ``2 ** (len(channel_mult) - 1)``. Defaults to (1, 2, 2).
        attention_strides (Sequence[int]): down-sampling factors with attention. Defaults to ().
        num_heads (int): attention heads. Defaults to 1.
        num_timesteps (int): T, the highest noise level. Defaults to 300.
        dropout (float): dropout inside the residual blocks. Defaults to 0.
        norm_groups (int): GroupNorm groups. Defaults to 8.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    Example:
        >>> import torch
        >>> net = ResidualUNet(in_channels=9, out_channels=3, model_channels=16)
        >>> net(torch.zeros(2, 9, 32, 32), torch.tensor([0, 300])).abs().max()
        tensor(0., grad_fn=<MaxBackward1>)
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 model_channels: int = 32,
                 num_res_blocks: int = 1,
                 channel_mult: Sequence[int] = (1, 2, 2),
                 attention_strides: Sequence[int] = (),
                 num_heads: int = 1,
                 num_timesteps: int = 300,
                 dropout: float = 0.0,
                 norm_groups: int = 8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            model_channels=model_channels,
            num_res_blocks=num_res_blocks,
            channel_mult=channel_mult,
            attention_strides=attention_strides,
            num_heads=num_heads,
            num_timesteps=num_timesteps,
            dropout=dropout,
            norm_groups=norm_groups,
            time_embedding='sinusoidal',
            zero_init_output=True,
            init_cfg=init_cfg)
