"""Density-ratio estimation by classification: the discriminator of a GAN, trained on its own.

A classifier ``D(x) = sigmoid(l(x))`` that separates samples of ``p`` (label 1) from samples of
``q`` (label 0), drawn in equal numbers, is at its optimum the class posterior
``D*(x) = p(x) / (p(x) + q(x))``, so its logit is the log density ratio ``l*(x) = log p(x) - log q(x)``.
This is the GAN discriminator with the generator held fixed (Goodfellow et al. 2014,
Proposition 1); AVB uses the same estimator on pairs ``(x, z)``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import distributions as D
from torch import nn

from .._validation import check_betas, check_module, check_positive, check_tensor
from .. import losses
from ..player import Player, batch_data
from .base import adam

Reference = D.Distribution | torch.Tensor | Callable[[int], torch.Tensor]


class RatioEstimator(nn.Module):
    """Learn ``log p(x) / q(x)`` by logistic regression between data ``p`` and a reference ``q``.

    ``p`` is the data passed to :func:`igmlib.fit`; ``q`` is held by the estimator. Each update
    draws a data minibatch and as many reference samples (equal class priors) and minimises the
    binary cross-entropy :func:`igmlib.losses.discriminator_loss`.

    Args:
        classifier: maps samples ``(N, ...)`` to logits ``(N, 1)`` or ``(N,)``, e.g.
            ``igmlib.nets.MLP(d, 1)``.
        reference: samples of ``q``: a ``torch.distributions.Distribution`` (``sample((n,))``),
            a tensor ``(M, ...)`` of samples (minibatches drawn without replacement), or a
            callable ``n -> (n, ...)``.
        lr: Adam learning rate.
        betas: Adam betas.

    Shapes:
        ``log_ratio`` and ``probability``: ``(N, ...) -> (N,)``.

    Raises:
        TypeError: ``classifier`` is not a module, or ``reference`` is none of the kinds above.
        ValueError: reference samples whose shape differs from the data's (raised during training).

    References:
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, Proposition 1 (the optimal
        discriminator). Sugiyama, Suzuki, Kanamori, "Density Ratio Estimation in Machine Learning",
        Cambridge University Press 2012, chapter 4 (probabilistic classification).
    """

    def __init__(self, classifier: nn.Module, reference: Reference, *, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999)):
        super().__init__()
        check_module(classifier, "classifier")
        if isinstance(reference, torch.Tensor):
            check_tensor(reference, "reference")
        elif not (isinstance(reference, D.Distribution) or callable(reference)):
            raise TypeError(
                "reference must be a torch Distribution, a tensor of samples (M, ...) or a callable "
                f"n -> samples; got {type(reference).__name__}"
            )
        self.classifier = classifier
        self.reference = reference
        self.lr = check_positive(lr, "lr")
        self.betas = check_betas(betas)

    def sample_reference(self, n: int) -> torch.Tensor:
        """``n`` samples of ``q`` on the classifier's device and dtype."""
        if isinstance(self.reference, D.Distribution):
            x = self.reference.sample((n,))
        elif isinstance(self.reference, torch.Tensor):
            if n > len(self.reference):
                raise ValueError(f"asked for {n} reference samples, the reference tensor has {len(self.reference)}")
            x = self.reference[torch.randperm(len(self.reference))[:n].to(self.reference.device)]
        else:
            x = self.reference(n)
        p = next(self.classifier.parameters())
        return x.to(p.device, p.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N,)``: the estimate of ``log p(x) - log q(x)`` (nats)."""
        logits = self.classifier(x)
        return logits.reshape(len(x))

    def log_ratio(self, x: torch.Tensor) -> torch.Tensor:
        """Estimated ``log p(x) / q(x)`` in nats, shape ``(N,)`` (differentiable)."""
        return self(x)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """Estimated class posterior ``p(x) / (p(x) + q(x))``, shape ``(N,)``."""
        return torch.sigmoid(self(x))

    def classifier_loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Binary cross-entropy (nats) of data (label 1) against as many reference samples (label 0)."""
        batch = batch_data(batch)  # labelled data: the labels are not used
        ref = self.sample_reference(len(batch))
        if ref.shape != batch.shape:
            raise ValueError(
                f"reference samples have shape {tuple(ref.shape)} but data batches {tuple(batch.shape)}: "
                "p and q must live in the same space"
            )
        real, fake = self(batch), self(ref)
        accuracy = 0.5 * ((real > 0).float().mean() + (fake < 0).float().mean())
        return {"loss": losses.discriminator_loss(real, fake, "minimax"), "accuracy": accuracy.detach()}

    def players(self) -> list[Player]:
        return [Player("classifier", [self.classifier], self.classifier_loss, adam(self.lr, self.betas))]
