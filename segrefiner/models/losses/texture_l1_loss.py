"""SegRefiner's texture loss: L1 between Sobel gradient magnitudes.

See ``docs/segrefiner.md``, 'Training loss'.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class TextureL1Loss(nn.Module):
    """``loss_weight · mean |‖∇(avgpool σ(pred))‖ − ‖∇(avgpool gt)‖|``.

    Both maps are smoothed with a 3×3 average pool (stride 1, zero padding counted), filtered
    with the Sobel kernels Kx = [[1,0,−1],[2,0,−2],[1,0,−1]]/4 and Ky = Kxᵀ (zero padding),
    and compared through ``sqrt(Gx² + Gy² + eps)``.

    Args:
        loss_weight (float): weight of the loss (5.0 in SegRefiner).
        eps (float): added under the square root.
        loss_name (str): key of the loss in the loss dict; must start with ``loss_``.
    """

    def __init__(self, loss_weight: float = 5.0, eps: float = 1e-4,
                 loss_name: str = 'loss_texture') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self._loss_name = loss_name
        kx = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]) / 4
        self.register_buffer('sobel', torch.stack([kx, kx.t()])[:, None], persistent=False)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def gradient_magnitude(self, x: Tensor) -> Tensor:
        """(B, 1, H, W) → (B, 1, H, W) Sobel gradient magnitude of the 3×3-averaged map."""
        x = F.avg_pool2d(x, 3, stride=1, padding=1)
        grad = F.conv2d(x, self.sobel.to(x.dtype), padding=1)
        return torch.sqrt(grad.pow(2).sum(dim=1, keepdim=True) + self.eps)

    def forward(self, pred: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): (B, 1, H, W) logits.
            target (Tensor): (B, 1, H, W) 0/1 target mask.
            valid_mask (Tensor, optional): (B, 1, H, W) 0/1; the mean runs over valid pixels.

        Returns:
            Tensor: scalar loss.
        """
        diff = (self.gradient_magnitude(pred.float().sigmoid()) -
                self.gradient_magnitude(target.float())).abs()
        if valid_mask is None:
            return self.loss_weight * diff.mean()
        valid_mask = valid_mask.to(diff.dtype)
        return self.loss_weight * (diff * valid_mask).sum() / valid_mask.sum().clamp(min=1)
