"""The UNet family of the diffusion models: SegRefiner's denoiser and its relatives.

One network, improved-diffusion's / guided-diffusion's ``UNetModel``, configured by options:
the defaults are SegRefiner's released denoiser, whose parameter names, shapes and attention
head split follow the released checkpoints (``docs/segrefiner.md``, 'Denoiser UNet' and
'Released checkpoints'), so released weights load after renaming the ``denoise_model.`` prefix
(``tools/convert_checkpoint.py``). The options reproduce guided-diffusion's variants
(sinusoidal timestep MLP, scale-shift norm, re-sampling residual blocks, heads by width, zero
initialisation) with guided-diffusion's parameter names.
"""
import math
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

TIME_EMBEDDINGS = ('learned', 'sinusoidal')


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input dtype (stable under bf16/fp16).

    A bfloat16 input on the CPU goes to PyTorch's mixed-precision kernel as it is: it
    accumulates the statistics and normalises in float32 and rounds the result to bfloat16,
    as the cast round trip does, without the two full-size copies (6× faster at
    (1, 128, 256, 256) channels-last). Other inputs are cast to float32 and back.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.bfloat16 and x.device.type == 'cpu':
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
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


class SinusoidalTimestepEmbedding(nn.Sequential):
    """Sinusoidal features of the timestep followed by ``Linear → SiLU → Linear``.

    guided-diffusion's ``timestep_embedding`` (cosines then sines of ``t · max_period^(−i/half)``,
    ``t`` taken as is) and ``time_embed`` MLP, with its parameter names (``0.*``, ``2.*``).
    Unlike a learned table, nearby levels get nearby embeddings, so a long schedule (T=300,
    1000) trains with few samples per level.

    Args:
        channels (int): number of sinusoidal features (even).
        out_channels (int): embedding width.
        max_period (float): longest period of the features. Defaults to 10000.
    """

    def __init__(self, channels: int, out_channels: int, max_period: float = 10000.0) -> None:
        if channels % 2:
            raise ValueError(f'channels must be even, got {channels}')
        super().__init__(nn.Linear(channels, out_channels), nn.SiLU(),
                         nn.Linear(out_channels, out_channels))
        self.channels = channels
        self.max_period = max_period

    def forward(self, t: Tensor) -> Tensor:
        """(B,) timesteps (int or float) → (B, out_channels) embeddings."""
        half = self.channels // 2
        freqs = torch.exp(-math.log(self.max_period) *
                          torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = t.float()[:, None] * freqs[None]
        features = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
        return super().forward(features.to(self[0].weight.dtype))


class Downsample(nn.Module):
    """Halve the size: (B, C, H, W) → (B, C, ⌈H/2⌉, ⌈W/2⌉).

    Args:
        channels (int): channels C.
        use_conv (bool): a 3×3 convolution with stride 2 (``op``); else 2×2 average pooling
            (no parameters). Defaults to True.
    """

    def __init__(self, channels: int, use_conv: bool = True) -> None:
        super().__init__()
        self.op = (nn.Conv2d(channels, channels, 3, stride=2, padding=1) if use_conv else
                   nn.AvgPool2d(kernel_size=2, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest ×2 upsampling, then a 3×3 convolution if ``use_conv``: (B, C, H, W) → (B, C, 2H, 2W).

    Args:
        channels (int): channels C.
        use_conv (bool): follow the upsampling with a 3×3 convolution (``conv``). Defaults to
            True.
    """

    def __init__(self, channels: int, use_conv: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if use_conv else None

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        return x if self.conv is None else self.conv(x)


class ResBlock(TimestepBlock):
    """Residual block conditioned on the timestep embedding, optionally re-sampling.

    ``GroupNorm → SiLU → conv3×3`` (``in_layers``); the embedding through ``SiLU → Linear``
    (``emb_layers``), broadcast over H×W, is either added (``h + e``) or, with
    ``use_scale_shift_norm``, split into (scale, shift) and applied after the next norm
    (``norm(h) · (1 + scale) + shift``, FiLM-like); then ``GroupNorm → SiLU → Dropout → conv3×3``
    (``out_layers``). The skip is the identity when the channel counts match, else a 1×1
    convolution. With ``up``/``down`` both the branch (before its convolution, ``h_upd``) and
    the skip (``x_upd``) are re-sampled without parameters (nearest ×2 / 2×2 average pooling),
    as guided-diffusion's ``resblock_updown``.

    Args:
        channels (int): input channels C_in.
        emb_channels (int): timestep embedding width.
        out_channels (int): output channels C_out.
        dropout (float): dropout probability before the second convolution.
        norm_groups (int): GroupNorm groups.
        use_scale_shift_norm (bool): scale-shift conditioning (``emb_layers`` gives 2·C_out).
        up (bool): double H and W.
        down (bool): halve H and W.
    """

    def __init__(self, channels: int, emb_channels: int, out_channels: int,
                 dropout: float = 0.0, norm_groups: int = 32,
                 use_scale_shift_norm: bool = False, up: bool = False,
                 down: bool = False) -> None:
        super().__init__()
        if up and down:
            raise ValueError('a ResBlock re-samples up or down, not both')
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(
            GroupNorm32(norm_groups, channels), nn.SiLU(),
            nn.Conv2d(channels, out_channels, 3, padding=1))
        self.updown = up or down
        if self.updown:
            resample = Upsample if up else Downsample
            self.h_upd = resample(channels, use_conv=False)
            self.x_upd = resample(channels, use_conv=False)
        self.emb_layers = nn.Sequential(
            nn.SiLU(),
            nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels))
        self.out_layers = nn.Sequential(
            GroupNorm32(norm_groups, out_channels), nn.SiLU(), nn.Dropout(p=dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = (nn.Identity() if out_channels == channels else
                                nn.Conv2d(channels, out_channels, 1))

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """x: (B, C_in, H, W), emb: (B, E) → (B, C_out, H', W') (H' = 2H, H/2 or H)."""
        if self.updown:
            norm, act, conv = self.in_layers
            h = conv(self.h_upd(act(norm(x))))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb).type(h.dtype)[..., None, None]
        if self.use_scale_shift_norm:
            norm, *rest = self.out_layers
            scale, shift = emb_out.chunk(2, dim=1)
            h = norm(h) * (1 + scale) + shift
            for layer in rest:
                h = layer(h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Spatial self-attention with improved-diffusion's legacy head split.

    The ``qkv`` projection output (B, 3C, HW) is reshaped to (B·heads, 3C/heads, HW) *before*
    it is split into q, k and v, i.e. the channels are ordered heads first, then q/k/v inside
    each head. Released SegRefiner and guided-diffusion weights depend on that ordering.

    Args:
        channels (int): channels C (divisible by the head count).
        num_heads (int): attention heads, unless ``num_head_channels`` is given.
        norm_groups (int): GroupNorm groups.
        num_head_channels (int): channels per head (heads = C / num_head_channels);
            -1 uses ``num_heads``.
    """

    def __init__(self, channels: int, num_heads: int = 1, norm_groups: int = 32,
                 num_head_channels: int = -1) -> None:
        super().__init__()
        if num_head_channels != -1:
            if num_head_channels < 1 or channels % num_head_channels:
                raise ValueError(f'channels ({channels}) must be divisible by '
                                 f'num_head_channels ({num_head_channels})')
            num_heads = channels // num_head_channels
        elif num_heads < 1 or channels % num_heads:
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
        # each (B·heads, HW, C/heads); contiguous: on the CPU, SDPA on the strided chunks is
        # 6-12x slower (measured at 1k-16k tokens)
        q, k, v = (part.contiguous() for part in qkv.transpose(1, 2).chunk(3, dim=2))
        # softmax(q·k / sqrt(d)) v: the original scales q and k by d^-1/4 each, the same value.
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.proj_out(h.transpose(1, 2).reshape(b, c, -1))
        return (x_flat + h).reshape(b, c, *spatial)


@MODELS.register_module()
class DenoiseUNet(BaseModule):
    """A timestep-conditioned UNet; by default SegRefiner's denoiser (fine-mask logits).

    The defaults are the released SegRefiner settings: 118,604,673 parameters and the key
    layout of the released checkpoints. The options cover guided-diffusion's ``UNetModel``
    (with ``model_channels=256, num_res_blocks=2, channel_mult=(1, 1, 2, 2, 4, 4),
    attention_strides=(8, 16, 32), num_head_channels=64, time_embedding='sinusoidal',
    use_scale_shift_norm=True, resblock_updown=True, zero_init_output=True,
    zero_init_residual=True`` it has the names and shapes of its 256² checkpoints). Layout:
    a 3×3 stem; per level ``num_res_blocks`` ResBlocks (attention after each where the
    down-sampling factor is in ``attention_strides``) and a down-sampling between levels;
    a middle ResBlock, attention, ResBlock; a mirrored decoder with one more ResBlock per level,
    each taking one skip, and an up-sampling closing every level but the last; GroupNorm, SiLU,
    3×3 conv.

    Args:
        in_channels (int): input channels (3 image channels + 1 mask channel).
        out_channels (int): output channels (1 logit map).
        model_channels (int): base width.
        num_res_blocks (int): residual blocks per level (the decoder has one more).
        channel_mult (Sequence[int]): width multiplier per level; one down-sampling between
            consecutive levels, so the input side must be divisible by 2**(len - 1).
        attention_strides (Sequence[int]): down-sampling factors at which attention is used
            (guided-diffusion's ``image_size // r`` for each attention resolution r).
        num_heads (int): attention heads in the encoder and middle block.
        num_heads_upsample (int): attention heads in the decoder; -1 means ``num_heads``.
        num_timesteps (int): rows of the learned timestep table (6 in SegRefiner); the
            sinusoidal embedding takes any timestep and only records it (``num_timesteps``
            attribute, checked against the diffusion by the heads).
        dropout (float): dropout inside the residual blocks.
        norm_groups (int): GroupNorm groups (must divide every width).
        time_embedding (str): ``'learned'``: a table ``nn.Embedding(num_timesteps,
            4·model_channels)`` (``time_embed.weight``); ``'sinusoidal'``:
            :class:`SinusoidalTimestepEmbedding` of ``model_channels`` features
            (``time_embed.0.*``, ``time_embed.2.*``).
        num_head_channels (int): channels per attention head everywhere (heads = width /
            num_head_channels; overrides ``num_heads`` and ``num_heads_upsample``); -1 counts
            heads instead.
        use_scale_shift_norm (bool): scale-shift timestep conditioning in the ResBlocks.
        resblock_updown (bool): re-sample inside ResBlocks (``ResBlock(down=True)`` /
            ``ResBlock(up=True)``) instead of separate Downsample/Upsample layers.
        conv_resample (bool): the separate Downsample/Upsample layers use a convolution
            (else average pooling / plain nearest up-sampling, no parameters).
        zero_init_output (bool): zero the output convolution, so the network starts as the
            zero map.
        zero_init_residual (bool): zero the last convolution of every ResBlock and the output
            projection of every attention block (guided-diffusion's ``zero_module``), so
            every block starts as its skip connection.
        init_cfg (dict, optional): mmengine init config; None keeps PyTorch's default init,
            as the original does. The zero-init options act at construction, so an
            ``init_cfg`` initialiser that covers those layers overrides them.

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
                 time_embedding: str = 'learned',
                 num_head_channels: int = -1,
                 use_scale_shift_norm: bool = False,
                 resblock_updown: bool = False,
                 conv_resample: bool = True,
                 zero_init_output: bool = False,
                 zero_init_residual: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if time_embedding not in TIME_EMBEDDINGS:
            raise ValueError(f'time_embedding must be one of {TIME_EMBEDDINGS}, got '
                             f'{time_embedding!r}')
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        self.in_channels = in_channels
        self.num_timesteps = num_timesteps
        self.size_divisor = 2**(len(channel_mult) - 1)
        emb_channels = model_channels * 4
        if time_embedding == 'learned':
            self.time_embed = nn.Embedding(num_timesteps, emb_channels)
        else:
            self.time_embed = SinusoidalTimestepEmbedding(model_channels, emb_channels)

        def res_block(ch_in: int, ch_out: int, **updown) -> ResBlock:
            return ResBlock(ch_in, emb_channels, ch_out, dropout, norm_groups,
                            use_scale_shift_norm, **updown)

        def attention(ch: int, heads: int) -> AttentionBlock:
            return AttentionBlock(ch, heads, norm_groups, num_head_channels)

        ch = int(channel_mult[0] * model_channels)
        stem_channels = ch
        self.input_blocks = nn.ModuleList(
            [TimestepEmbedSequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
        skip_channels: List[int] = [ch]
        ds = 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers: List[nn.Module] = [res_block(ch, int(mult * model_channels))]
                ch = int(mult * model_channels)
                if ds in attention_strides:
                    layers.append(attention(ch, num_heads))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skip_channels.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(
                    res_block(ch, ch, down=True) if resblock_updown else
                    Downsample(ch, conv_resample)))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = TimestepEmbedSequential(
            res_block(ch, ch), attention(ch, num_heads), res_block(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [res_block(ch + skip_channels.pop(), int(model_channels * mult))]
                ch = int(model_channels * mult)
                if ds in attention_strides:
                    layers.append(attention(ch, num_heads_upsample))
                if level and i == num_res_blocks:
                    layers.append(res_block(ch, ch, up=True) if resblock_updown else
                                  Upsample(ch, conv_resample))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

        self.out = nn.Sequential(
            GroupNorm32(norm_groups, ch), nn.SiLU(),
            nn.Conv2d(stem_channels, out_channels, 3, padding=1))
        self._zero_init(zero_init_output, zero_init_residual)

    def _zero_init(self, output: bool, residual: bool) -> None:
        """Zero the output convolution and/or the last layer of every residual branch."""
        layers = [self.out[-1]] if output else []
        if residual:
            for module in self.modules():
                if isinstance(module, ResBlock):
                    layers.append(module.out_layers[-1])
                elif isinstance(module, AttentionBlock):
                    layers.append(module.proj_out)
        for layer in layers:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Predict the output map (SegRefiner: the fine mask's logits).

        Args:
            x (Tensor): (B, in_channels, H, W): for SegRefiner the normalised image channels
                then the mask. H and W must be divisible by ``size_divisor``.
            t (Tensor): (B,) timesteps: int64 indices in [0, num_timesteps) for the learned
                table; any int or float values for the sinusoidal embedding.

        Returns:
            Tensor: (B, out_channels, H, W).
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
