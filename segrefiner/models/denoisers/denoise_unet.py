"""The SegRefiner denoiser: an improved-diffusion style UNet conditioned on a learned timestep.

Parameter names, shapes and the attention head split follow the released SegRefiner checkpoints
(``docs/segrefiner.md``, 'Denoiser UNet' and 'Released checkpoints'), so that released
weights load after renaming the ``denoise_model.`` prefix (``tools/convert_checkpoint.py``).
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input dtype (stable under bf16/fp16)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.float()).type(x.dtype)


class TimestepBlock(nn.Module):
    """A module whose ``forward`` takes the timestep embedding as a second argument."""

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        raise NotImplementedError


class TimestepEmbedSequential(nn.Sequential, TimestepBlock):
    """``nn.Sequential`` that hands the timestep embedding to the children that take it."""

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Downsample(nn.Module):
    """3×3 convolution with stride 2: (B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest ×2 upsampling followed by a 3×3 convolution: (B, C, H, W) → (B, C, 2H, 2W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class ResBlock(TimestepBlock):
    """Residual block with an additive timestep embedding (no scale-shift norm).

    ``GroupNorm → SiLU → conv3×3``, plus ``Linear(SiLU(emb))`` broadcast over H×W, then
    ``GroupNorm → SiLU → Dropout → conv3×3``; the skip is identity when the channel counts
    match, else a 1×1 convolution.

    Args:
        channels (int): input channels C_in.
        emb_channels (int): timestep embedding width.
        out_channels (int): output channels C_out.
        dropout (float): dropout probability before the second convolution.
        norm_groups (int): GroupNorm groups.
    """

    def __init__(self, channels: int, emb_channels: int, out_channels: int,
                 dropout: float = 0.0, norm_groups: int = 32) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(
            GroupNorm32(norm_groups, channels), nn.SiLU(),
            nn.Conv2d(channels, out_channels, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(norm_groups, out_channels), nn.SiLU(), nn.Dropout(p=dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = (nn.Identity() if out_channels == channels else
                                nn.Conv2d(channels, out_channels, 1))

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """x: (B, C_in, H, W), emb: (B, E) → (B, C_out, H, W)."""
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).type(h.dtype)[..., None, None]
        return self.skip_connection(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Spatial self-attention with improved-diffusion's legacy head split.

    The ``qkv`` projection output (B, 3C, HW) is reshaped to (B·heads, 3C/heads, HW) *before*
    it is split into q, k and v, i.e. the channels are ordered heads first, then q/k/v inside
    each head. Released weights depend on that ordering.

    Args:
        channels (int): channels C (divisible by ``num_heads``).
        num_heads (int): attention heads.
        norm_groups (int): GroupNorm groups.
    """

    def __init__(self, channels: int, num_heads: int = 1, norm_groups: int = 32) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'channels ({channels}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.norm = GroupNorm32(norm_groups, channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) → (B, C, H, W)."""
        b, c, *spatial = x.shape
        x_flat = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x_flat))
        qkv = qkv.reshape(b * self.num_heads, 3 * c // self.num_heads, -1)
        q, k, v = qkv.transpose(1, 2).chunk(3, dim=2)  # each (B·heads, HW, C/heads)
        # softmax(q·k / sqrt(d)) v: the original scales q and k by d^-1/4 each, the same value.
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.proj_out(h.transpose(1, 2).reshape(b, c, -1))
        return (x_flat + h).reshape(b, c, *spatial)


@MODELS.register_module()
class DenoiseUNet(BaseModule):
    """SegRefiner's denoiser: predicts the fine mask's logits from image + current mask.

    With the released settings (the defaults) it has 118,604,673 parameters and the key layout
    of the released checkpoints. Width and depth are configurable for small CPU models.

    Args:
        in_channels (int): input channels (3 image channels + 1 mask channel).
        out_channels (int): output channels (1 logit map).
        model_channels (int): base width.
        num_res_blocks (int): residual blocks per level (the decoder has one more).
        channel_mult (Sequence[int]): width multiplier per level; one down-sampling between
            consecutive levels, so the input side must be divisible by 2**(len - 1).
        attention_strides (Sequence[int]): down-sampling factors at which attention is used.
        num_heads (int): attention heads in the encoder and middle block.
        num_heads_upsample (int): attention heads in the decoder; -1 means ``num_heads``.
        num_timesteps (int): rows of the learned timestep embedding (6 in SegRefiner).
        dropout (float): dropout inside the residual blocks.
        norm_groups (int): GroupNorm groups (must divide every width).
        init_cfg (dict, optional): mmengine init config; None keeps PyTorch's default init,
            as the original does.

    Example:
        >>> net = DenoiseUNet(model_channels=32, channel_mult=(1, 2), attention_strides=(2,))
        >>> net(torch.zeros(2, 4, 64, 64), torch.tensor([5, 0])).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(self,
                 in_channels: int = 4,
                 out_channels: int = 1,
                 model_channels: int = 128,
                 num_res_blocks: int = 2,
                 channel_mult: Sequence[int] = (1, 1, 2, 2, 4, 4),
                 attention_strides: Sequence[int] = (16, 32),
                 num_heads: int = 4,
                 num_heads_upsample: int = -1,
                 num_timesteps: int = 6,
                 dropout: float = 0.0,
                 norm_groups: int = 32,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        self.in_channels = in_channels
        self.num_timesteps = num_timesteps
        self.size_divisor = 2**(len(channel_mult) - 1)
        emb_channels = model_channels * 4
        self.time_embed = nn.Embedding(num_timesteps, emb_channels)

        def res_block(ch_in: int, ch_out: int) -> ResBlock:
            return ResBlock(ch_in, emb_channels, ch_out, dropout, norm_groups)

        self.input_blocks = nn.ModuleList([
            TimestepEmbedSequential(nn.Conv2d(in_channels, model_channels, 3, padding=1))
        ])
        skip_channels: List[int] = [model_channels]
        ch, ds = model_channels, 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers: List[nn.Module] = [res_block(ch, mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_strides:
                    layers.append(AttentionBlock(ch, num_heads, norm_groups))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skip_channels.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = TimestepEmbedSequential(
            res_block(ch, ch), AttentionBlock(ch, num_heads, norm_groups), res_block(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [res_block(ch + skip_channels.pop(), model_channels * mult)]
                ch = model_channels * mult
                if ds in attention_strides:
                    layers.append(AttentionBlock(ch, num_heads_upsample, norm_groups))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

        self.out = nn.Sequential(
            GroupNorm32(norm_groups, ch), nn.SiLU(),
            nn.Conv2d(model_channels, out_channels, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Predict the fine mask's logits.

        Args:
            x (Tensor): (B, in_channels, H, W): normalised image channels then the mask.
                H and W must be divisible by ``size_divisor``.
            t (Tensor): (B,) int64 timestep indices in [0, num_timesteps).

        Returns:
            Tensor: (B, out_channels, H, W) logits.
        """
        if x.shape[-2] % self.size_divisor or x.shape[-1] % self.size_divisor:
            raise ValueError(f'input size {tuple(x.shape[-2:])} must be divisible by '
                             f'{self.size_divisor}')
        emb = self.time_embed(t)
        h, skips = x, []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)
