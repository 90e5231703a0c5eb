"""ResidualUNet: zero output at initialisation, sinusoidal time conditioning, size checks."""
import pytest
import torch

from segrefiner.models import ResidualUNet
from segrefiner.models.denoisers.denoise_unet import SinusoidalTimestepEmbedding


def test_starts_as_the_zero_map_and_learns_through_the_output_layer():
    net = ResidualUNet(in_channels=9, out_channels=3, model_channels=16, channel_mult=(1, 2))
    x = torch.randn(2, 9, 16, 20)
    out = net(x, torch.tensor([0, 300]))
    assert out.shape == (2, 3, 16, 20) and not out.any()
    out.sum().backward()
    assert net.out[-1].weight.grad.abs().sum() > 0


def test_output_depends_on_the_noise_level():
    torch.manual_seed(0)
    net = ResidualUNet(in_channels=4, out_channels=2, model_channels=8, channel_mult=(1, 2))
    torch.nn.init.normal_(net.out[-1].weight)
    x = torch.randn(1, 4, 8, 8).repeat(3, 1, 1, 1)
    out = net(x, torch.tensor([0, 1, 300]))
    assert not torch.allclose(out[0], out[2])
    # nearby levels give nearby outputs (a smooth embedding, not a table)
    assert (out[0] - out[1]).abs().max() < (out[0] - out[2]).abs().max()


def test_sinusoidal_embedding():
    emb = SinusoidalTimestepEmbedding(8, 16)
    assert emb(torch.tensor([0, 7, 299])).shape == (3, 16)
    with pytest.raises(ValueError, match='even'):
        SinusoidalTimestepEmbedding(7, 16)


def test_input_size_must_be_divisible():
    net = ResidualUNet(in_channels=3, out_channels=2, model_channels=8, channel_mult=(1, 2, 2))
    with pytest.raises(ValueError, match='divisible by 4'):
        net(torch.zeros(1, 3, 10, 12), torch.tensor([0]))
