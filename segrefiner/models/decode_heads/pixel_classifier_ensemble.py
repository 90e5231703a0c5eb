"""``PixelClassifierEnsemble``: ddpm-segmentation's ensemble of pixel MLPs over diffusion features.

It classifies pixels, not feature maps: ``loss`` and ``predict`` take (N, D) pixel features, so it
is not an mmseg decode head (:class:`DDPMFeatureSegmentor` gathers the pixels).
"""
import math
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

VOTES = ('majority', 'mean')
#: Probabilities are clamped to at least PROB_EPS before they become log seg logits.
PROB_EPS = 1e-6


def entropy(probs: Tensor, dim: int = -1) -> Tensor:
    """Shannon entropy (nats) of probabilities along ``dim`` (0 log 0 = 0)."""
    return -torch.special.xlogy(probs, probs).sum(dim)


@MODELS.register_module()
class PixelClassifierEnsemble(BaseModule):
    """``num_models`` MLPs classifying D-dim pixel features, trained independently.

    Each MLP (ddpm-segmentation's ``pixel_classifier``) is ``Linear(D, h1) → ReLU → BN →
    Linear(h1, h2) → ReLU → BN → Linear(h2, C)`` with (h1, h2) = (128, 32) for C < 30 classes
    and (256, 128) otherwise, a ``Dropout(dropout)`` after each BN when ``dropout > 0`` (the
    fork's regularisation), Linear weights drawn from N(0, ``init_std``²) and zero biases.

    Training: every MLP gets its own shuffle of the pixels, in batches of ``pixel_batch_size``
    (:meth:`batches`), with the cross-entropy; the optimiser (Adam 1e-3 originally, AdamW in the
    fork) is the config's. Early stopping (the original's): once an MLP has taken
    ``early_stop_after`` batches, a batch loss that does not improve on its best counts as a
    stall, and more than ``patience`` stalls in a row stop that MLP (its parameters get no more
    gradients).

    Prediction (:meth:`predict`): ``'majority'`` vote (the original's ``torch.mode``; ties go
    to the lowest class index) or ``'mean'`` probability; the uncertainty is the ensemble's
    Jensen-Shannon divergence, ``H(mean p) − mean H(p)``.

    Args:
        in_channels (int): D.
        num_classes (int): C.
        num_models (int): MLPs in the ensemble. Defaults to 10.
        hidden_channels (Sequence[int], optional): (h1, h2); None picks the paper's sizes
            by ``num_classes``.
        dropout (float): dropout after each BN. Defaults to 0 (the original).
        vote (str): ``'majority'`` or ``'mean'``. Defaults to 'majority'.
        init_std (float): standard deviation of the Linear weights. Defaults to 0.02.
        pixel_batch_size (int): pixels per optimisation step of each MLP. Defaults to 64.
        early_stop_after (int, optional): batches an MLP takes before the early-stopping
            checks start; None never stops. Defaults to None.
        patience (int): stalled batches tolerated. Defaults to 50.
        ignore_index (int): the label of unlabelled pixels, never pooled. Defaults to 255.
        loss_decode (dict): the classification loss. Defaults to mmseg's CrossEntropyLoss
            averaged over the pixels (PyTorch's, the original's).
        init_cfg (dict, optional): mmengine init config (applied after the normal init).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_models: int = 10,
                 hidden_channels: Optional[Sequence[int]] = None,
                 dropout: float = 0.0,
                 vote: str = 'majority',
                 init_std: float = 0.02,
                 pixel_batch_size: int = 64,
                 early_stop_after: Optional[int] = None,
                 patience: int = 50,
                 ignore_index: int = 255,
                 loss_decode: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if vote not in VOTES:
            raise ValueError(f'vote must be one of {VOTES}, got {vote!r}')
        if num_classes < 2 or num_models < 1 or pixel_batch_size < 2:
            raise ValueError(f'need num_classes >= 2, num_models >= 1 and pixel_batch_size >= 2'
                             f' (BatchNorm), got {num_classes}, {num_models}, '
                             f'{pixel_batch_size}')
        if hidden_channels is None:
            hidden_channels = (128, 32) if num_classes < 30 else (256, 128)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.vote = vote
        self.pixel_batch_size = pixel_batch_size
        self.early_stop_after = early_stop_after
        self.patience = patience
        self.ignore_index = ignore_index
        self.models = nn.ModuleList(
            self._mlp(in_channels, hidden_channels, num_classes, dropout)
            for _ in range(num_models))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, init_std)
                nn.init.zeros_(module.bias)
        self.loss_decode = MODELS.build(
            loss_decode or dict(type='CrossEntropyLoss', avg_non_ignore=True))
        # early-stopping state, saved in checkpoints so that a resumed run continues it
        self.register_buffer('steps_taken', torch.zeros(num_models, dtype=torch.long))
        self.register_buffer('best_loss', torch.full((num_models, ), math.inf))
        self.register_buffer('stalls', torch.zeros(num_models, dtype=torch.long))
        self.register_buffer('stopped', torch.zeros(num_models, dtype=torch.bool))

    @staticmethod
    def _mlp(in_channels: int, hidden: Sequence[int], num_classes: int,
             dropout: float) -> nn.Sequential:
        layers = []
        for width in hidden:
            layers += [nn.Linear(in_channels, width), nn.ReLU(), nn.BatchNorm1d(width)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_channels = width
        layers.append(nn.Linear(in_channels, num_classes))
        return nn.Sequential(*layers)

    @property
    def active(self) -> Tensor:
        """(M,) bool: the MLPs still training."""
        return ~self.stopped

    def forward(self, features: Tensor) -> Tensor:
        """(N, D) pixel features → (M, N, C) float32 logits of every MLP."""
        features = features.float()
        return torch.stack([model(features) for model in self.models])

    def batches(self, num_pixels: int,
                generator: Optional[torch.Generator] = None) -> Iterator[Tensor]:
        """One pass over ``num_pixels`` pooled pixels: (M, pixel_batch_size) int64 indices per
        step, an independent shuffle per MLP (a last incomplete batch is dropped)."""
        order = torch.stack([torch.randperm(num_pixels, generator=generator)
                             for _ in self.models])
        for start in range(0, num_pixels - self.pixel_batch_size + 1, self.pixel_batch_size):
            yield order[:, start:start + self.pixel_batch_size]

    def loss(self, features: Tensor, labels: Tensor,
             indices: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """The cross-entropy of each MLP still training.

        Args:
            features (Tensor): (N, D) pixel features (any float dtype).
            labels (Tensor): (N,) int64 classes in [0, C).
            indices (Tensor, optional): (M, b) pixels of each MLP's batch (:meth:`batches`);
                None gives every MLP all N pixels.

        Returns:
            dict: ``loss_ce`` (the sum over the active MLPs, so each gets its own gradient),
            ``acc`` (their mean pixel accuracy, %) and ``ce_per_model`` ((M,) detached, NaN for
            stopped MLPs).
        """
        per_model = features.new_full((len(self.models), ), math.nan, dtype=torch.float32)
        total, correct, count = features.new_zeros((), dtype=torch.float32), 0.0, 0
        for m, model in enumerate(self.models):
            if self.stopped[m]:
                continue
            rows = slice(None) if indices is None else indices[m]
            logits = model(features[rows].float())
            target = labels[rows]
            loss = self.loss_decode(logits, target, ignore_index=self.ignore_index)
            total = total + loss
            per_model[m] = loss.detach()
            correct += (logits.argmax(1) == target).float().mean().item()
            count += 1
        return dict(loss_ce=total, acc=torch.tensor(100 * correct / max(count, 1)),
                    ce_per_model=per_model)

    def update_early_stopping(self, ce_per_model: Tensor) -> None:
        """Count a step of every active MLP and stop those that stalled (see the class doc).

        Args:
            ce_per_model (Tensor): (M,) the step's losses (:meth:`loss`), NaN when stopped.
        """
        if self.early_stop_after is None:
            self.steps_taken += self.active.long()
            return
        for m in torch.nonzero(self.active).flatten().tolist():
            self.steps_taken[m] += 1
            if self.steps_taken[m] <= self.early_stop_after:
                continue
            if ce_per_model[m] < self.best_loss[m]:
                self.best_loss[m] = ce_per_model[m]
                self.stalls[m] = 0
            else:
                self.stalls[m] += 1
                if self.stalls[m] > self.patience:
                    self.stopped[m] = True

    @torch.no_grad()
    def predict(self, features: Tensor) -> Tuple[Tensor, Tensor]:
        """Classify pixels with the whole ensemble.

        Args:
            features (Tensor): (N, D) pixel features.

        Returns:
            tuple[Tensor, Tensor]: (N, C) float32 seg logits, ``log(clamp(q, PROB_EPS))`` of
            the vote shares (``'majority'``: the fraction of MLPs voting each class, whose
            argmax is the original's mode) or of the mean probability (``'mean'``); and (N,)
            float32 uncertainty ``H(mean p) − mean_m H(p_m)`` (nats, >= 0).
        """
        probs = self(features).softmax(-1)  # (M, N, C)
        mean = probs.mean(0)
        uncertainty = (entropy(mean) - entropy(probs).mean(0)).clamp_min(0)
        if self.vote == 'majority':
            votes = nn.functional.one_hot(probs.argmax(-1), self.num_classes).float()
            share = votes.mean(0)
        else:
            share = mean
        return share.clamp_min(PROB_EPS).log(), uncertainty
