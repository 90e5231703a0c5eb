"""The correction network of the ResidualRefiner: a small time-conditioned UNet."""
import math
from typing import Optional, Sequence

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from .denoise_unet import DenoiseUNet


class SinusoidalTimestepEmbedding(nn.Module):
    """Sinusoidal features of the noise level followed by a two-layer MLP.

    Unlike a learned table, nearby levels get nearby embeddings, so a long schedule (T=300)
    trains with few samples per level.

    Args:
        channels (int): number of sinusoidal features (even).
        out_channels (int): embedding width.
        max_period (float): longest period of the features. Defaults to 10000.
    """

    def __init__(self, channels: int, out_channels: int, max_period: float = 10000.0) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f'channels must be even, got {channels}')
        half = channels // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        self.register_buffer('freqs', freqs, persistent=False)
        self.mlp = nn.Sequential(
            nn.Linear(channels, out_channels), nn.SiLU(), nn.Linear(out_channels, out_channels))

    def forward(self, t: Tensor) -> Tensor:
        """(B,) noise levels → (B, out_channels) embeddings."""
        args = t.float()[:, None] * self.freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=1))


@MODELS.register_module()
class ResidualUNet(DenoiseUNet):
    """A small :class:`DenoiseUNet` for long noise schedules that starts as the zero map.

    The network of SegRefiner's denoiser (residual blocks with an additive timestep embedding,
    optional attention, one attention block in the middle) with two changes: the learned
    timestep table is replaced by :class:`SinusoidalTimestepEmbedding` (levels ``0..T``), and
    the output convolution is zero-initialised, so a residual refiner built on it initially
    returns its input logits unchanged.

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
            num_timesteps=1,
            dropout=dropout,
            norm_groups=norm_groups,
            init_cfg=init_cfg)
        self.num_timesteps = num_timesteps
        self.time_embed = SinusoidalTimestepEmbedding(model_channels, model_channels * 4)
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)
