"""TextureL1Loss on known inputs, against a plain loop implementation of its definition.

See ``docs/segrefiner.md``, 'Training loss'.
"""
import math

import numpy as np
import pytest
import torch

from segrefiner.models import TextureL1Loss


def _plain_magnitude(x: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """3×3 average (zero padding counted) then Sobel/4 (zero padding), by explicit loops."""
    h, w = x.shape
    pad = np.pad(x, 1)
    avg = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            avg[i, j] = pad[i:i + 3, j:j + 3].sum() / 9
    kx = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]]) / 4
    ky = kx.T
    pad = np.pad(avg, 1)
    mag = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            win = pad[i:i + 3, j:j + 3]
            mag[i, j] = math.sqrt((win * kx).sum()**2 + (win * ky).sum()**2 + eps)
    return mag


def test_matches_plain_definition():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 7, 9, generator=gen) * 3
    target = (torch.rand(2, 1, 7, 9, generator=gen) > 0.5).float()
    loss = TextureL1Loss(loss_weight=5.0)(logits, target)
    expected = np.mean([
        np.abs(_plain_magnitude(torch.sigmoid(logits[b, 0]).double().numpy()) -
               _plain_magnitude(target[b, 0].double().numpy())).mean() for b in range(2)
    ]) * 5.0
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_known_values():
    loss_fn = TextureL1Loss(loss_weight=5.0)
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 2:6] = 1
    # a perfect, saturated prediction has zero loss
    assert loss_fn(target * 40 - 20, target).item() == pytest.approx(0, abs=1e-6)
    # predicting 0.5 everywhere: its magnitude is the border response of a constant 0.5 map
    half = loss_fn(torch.zeros(1, 1, 8, 8), target).item()
    expected = 5 * np.abs(_plain_magnitude(np.full((8, 8), 0.5)) -
                          _plain_magnitude(target[0, 0].double().numpy())).mean()
    assert half == pytest.approx(expected, rel=1e-5)
    assert loss_fn.loss_name == 'loss_texture'
    assert loss_fn.state_dict() == {}  # fixed kernels are not trained state


def test_valid_mask_restricts_the_mean():
    loss_fn = TextureL1Loss(loss_weight=1.0)
    gen = torch.Generator().manual_seed(1)
    logits, target = torch.randn(1, 1, 6, 6, generator=gen), torch.ones(1, 1, 6, 6)
    valid = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    valid[..., :3] = True
    diff = (loss_fn.gradient_magnitude(torch.sigmoid(logits)) -
            loss_fn.gradient_magnitude(target)).abs()
    assert loss_fn(logits, target, valid).item() == pytest.approx(diff[valid].mean().item(),
                                                                  rel=1e-6)


def test_gradient_flows():
    logits = torch.zeros(1, 1, 8, 8, requires_grad=True)
    target = torch.zeros(1, 1, 8, 8)
    target[..., 3:5, 3:5] = 1
    TextureL1Loss()(logits, target).backward()
    assert logits.grad.abs().sum() > 0
