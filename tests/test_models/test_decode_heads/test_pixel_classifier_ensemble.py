"""PixelClassifierEnsemble: the paper's MLP sizes and init, vote and uncertainty on hand-made
logits, independent shuffles, early stopping."""
import math

import pytest
import torch
from torch import nn

from segrefiner.models.decode_heads.pixel_classifier_ensemble import PixelClassifierEnsemble


def test_sizes_and_init():
    small = PixelClassifierEnsemble(in_channels=8448, num_classes=21)
    linears = [m for m in small.models[0] if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8448, 128), (128, 32), (32, 21)]
    assert [type(m).__name__ for m in small.models[0]] == [
        'Linear', 'ReLU', 'BatchNorm1d', 'Linear', 'ReLU', 'BatchNorm1d', 'Linear']
    assert len(small.models) == 10
    assert abs(linears[0].weight.std().item() - 0.02) < 1e-3 and not linears[0].bias.any()
    large = PixelClassifierEnsemble(in_channels=100, num_classes=30, num_models=2, dropout=0.1)
    assert [(m.in_features, m.out_features) for m in large.models[0]
            if isinstance(m, nn.Linear)] == [(100, 256), (256, 128), (128, 30)]
    assert sum(isinstance(m, nn.Dropout) for m in large.models[0]) == 2
    with pytest.raises(ValueError, match='vote'):
        PixelClassifierEnsemble(in_channels=4, num_classes=3, vote='median')


def _fixed(logits):
    """An ensemble whose MLPs output the given (M, N, C) logits."""
    ensemble = PixelClassifierEnsemble(in_channels=1, num_classes=logits.shape[-1],
                                       num_models=logits.shape[0], vote='majority')
    ensemble.models = nn.ModuleList(_Constant(x) for x in logits)
    return ensemble.eval()


class _Constant(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, features):
        return self.logits


def test_majority_vote_mean_and_uncertainty_on_hand_made_logits():
    big = 10.0
    # 3 MLPs, 3 pixels, 3 classes: votes (2, 0, 0) at pixel 0 ... a tie 1/1/1 at pixel 2
    votes = torch.tensor([[0, 1, 2], [0, 1, 1], [2, 2, 0]])
    logits = nn.functional.one_hot(votes, 3).float() * big
    ensemble = _fixed(logits)
    seg, uncertainty = ensemble.predict(torch.zeros(3, 1))
    share = seg.exp()
    torch.testing.assert_close(share[0], torch.tensor([2 / 3, 1e-6, 1 / 3]))
    # torch.mode's rule (the original): the most frequent vote, ties to the lowest class
    assert seg.argmax(1).tolist() == [0, 1, 0]
    assert seg.argmax(1).tolist() == torch.mode(votes.T, 1).values.tolist()
    # mean probability instead
    ensemble.vote = 'mean'
    seg_mean, _ = ensemble.predict(torch.zeros(3, 1))
    torch.testing.assert_close(seg_mean.exp(), logits.softmax(-1).mean(0))
    # uncertainty: H(mean) - mean H; near-one-hot members that disagree 1/1/1 give ~log 3
    assert abs(uncertainty[2].item() - math.log(3)) < 1e-3
    probs = logits.softmax(-1)
    h = lambda p: -(p * p.log()).sum(-1)  # noqa: E731
    torch.testing.assert_close(uncertainty, h(probs.mean(0)) - h(probs).mean(0))
    # unanimous members: no uncertainty
    _, none = _fixed(logits[:1].repeat(3, 1, 1)).predict(torch.zeros(3, 1))
    assert none.abs().max() < 1e-6


def test_batches_are_independent_shuffles_dropping_the_last():
    ensemble = PixelClassifierEnsemble(in_channels=4, num_classes=3, num_models=3,
                                       pixel_batch_size=4)
    batches = list(ensemble.batches(10, torch.Generator().manual_seed(0)))
    assert len(batches) == 2 and all(b.shape == (3, 4) for b in batches)
    first = torch.cat(batches, 1)
    assert all(len(set(row.tolist())) == 8 for row in first)  # no repeat within a pass
    assert not torch.equal(first[0], first[1])


def test_loss_trains_each_active_model_and_early_stopping():
    torch.manual_seed(0)
    ensemble = PixelClassifierEnsemble(in_channels=4, num_classes=3, num_models=2,
                                       early_stop_after=2, patience=1)
    features, labels = torch.randn(16, 4), torch.randint(0, 3, (16, ))
    losses = ensemble.loss(features, labels)
    assert losses['ce_per_model'].shape == (2, )
    torch.testing.assert_close(losses['loss_ce'], losses['ce_per_model'].sum())
    # model 1 stalls: steps 1-2 are not checked, then 0.5 sets its best, 2 stalls are > 1
    for ce in ([1.0, 1.0], [0.9, 1.0], [0.8, 0.5], [0.7, 0.6], [0.6, 0.6]):
        ensemble.update_early_stopping(torch.tensor(ce))
    assert ensemble.stopped.tolist() == [False, True]
    assert ensemble.steps_taken.tolist() == [5, 5]
    losses = ensemble.loss(features, labels)
    assert math.isnan(losses['ce_per_model'][1])
    losses['loss_ce'].backward()
    assert all(p.grad is None for p in ensemble.models[1].parameters())
    assert all(p.grad is not None for p in ensemble.models[0].parameters())
    ensemble.update_early_stopping(losses['ce_per_model'])
    assert ensemble.steps_taken.tolist() == [6, 5]
