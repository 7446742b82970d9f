"""Generators trained without a discriminator, by matching statistics of samples and data.

- :class:`MomentMatching`: match chosen summary statistics (mean, covariance, higher moments, or
  any ``s(x)``): ``|| E_model[s(x)] - E_data[s(x)] ||^2`` on minibatches.
- :class:`GMMN`: match *all* moments at once through a Gaussian kernel: minimise the MMD
  (Li, Swersky, Zemel 2015; Dziugaite, Roy, Ghahramani 2015).

Samples are flattened to ``(N, features)`` before statistics are taken, so images work too.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._validation import check_betas, check_positive
from ..divergences import mmd2
from ..player import Player, batch_data
from .base import LatentSampler, adam


def _central_moments(order: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Batch statistic: every distinct central moment of ``order`` (``E prod_k (x_{i_k} - m_{i_k})``)."""

    def statistic(x: torch.Tensor) -> torch.Tensor:  # (N, d) -> (C(d + order - 1, order),)
        centred = x - x.mean(dim=0, keepdim=True)  # (N, d), centred on this batch's own mean
        index = torch.tensor(
            list(itertools.combinations_with_replacement(range(x.shape[1]), order)), device=x.device
        )  # (C, order): one row per distinct monomial
        return centred[:, index].prod(dim=2).mean(dim=0)

    return statistic


STATISTICS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mean": lambda x: x.mean(dim=0),  # (d,)
    "covariance": _central_moments(2),  # (d (d + 1) / 2,): central second moments, 1/N normalised
    "third": _central_moments(3),
    "fourth": _central_moments(4),
}
"""Named batch statistics ``(N, d) -> (k,)``. ``covariance``, ``third`` and ``fourth`` are the
*central* moments of that order about the batch's own mean, one entry per distinct monomial
(``d (d + 1) / 2`` for the covariance; ``C(d + 2, 3)`` and ``C(d + 3, 4)`` for the third and fourth:
mind the cost for large ``d``)."""


def _flat_batch(batch) -> torch.Tensor:
    x = batch_data(batch)  # (x, y) pairs: keep x
    return x.reshape(len(x), -1)  # (N, features)


class MomentMatching(LatentSampler):
    """A generator trained to match summary statistics of the data (no discriminator).

    Loss per step, with a data minibatch ``x_1..x_N`` and ``N`` generated samples ``G(z_n)``:
    ``sum_s || stat_s(G(z)) - stat_s(x) ||^2`` over the chosen statistics.

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        latent_dim: size of ``z ~ N(0, I)``.
        statistics: names from :data:`STATISTICS` (``"mean"``, ``"covariance"`` (central second
            moments), ``"third"``, ``"fourth"`` (central mixed moments)) and/or callables
            ``s(x) -> (N, k)`` whose batch average is matched (``x`` flattened to ``(N, d)``).
        weights: one weight per statistic (default: all 1).
        lr: Adam learning rate (default 1e-3, PyTorch's Adam default; our choice).
        betas: Adam betas (default (0.9, 0.999), PyTorch's default).
        ema: decay of the generator's weight average that :meth:`sample` draws from (e.g. 0.999;
            ``None``: off); see :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which the learning rate decays linearly to 0
            (``None``: constant).

    Raises:
        TypeError / ValueError: a non-module generator, an unknown statistic name (the message
        lists the valid ones), an empty list, or mismatched weights; ``ema`` or ``decay_start``
        out of range.

    References:
        The seed lecture's moment matching: ``min || E_p(h)[s(f(h))] - E_data[s(x)] ||^2``.
    """

    def __init__(
        self,
        generator: nn.Module,
        latent_dim: int,
        *,
        statistics: Sequence[str | Callable] = ("mean", "covariance"),
        weights: Sequence[float] | None = None,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        if isinstance(statistics, str) or callable(statistics):
            statistics = (statistics,)
        statistics = tuple(statistics)
        if not statistics:
            raise ValueError(f"statistics is empty: choose some of {', '.join(STATISTICS)} or pass callables")
        self.names: list[str] = []
        self.statistics: list[Callable[[torch.Tensor], torch.Tensor]] = []
        for i, s in enumerate(statistics):
            if isinstance(s, str):
                if s not in STATISTICS:
                    raise ValueError(
                        f"unknown statistic {s!r}; choose one of: {', '.join(STATISTICS)}, "
                        "or pass a callable s(x) -> (N, k)"
                    )
                self.names.append(s)
                self.statistics.append(STATISTICS[s])
            elif callable(s):
                self.names.append(getattr(s, "__name__", f"statistic_{i}").replace("<lambda>", f"statistic_{i}"))
                self.statistics.append(self._per_sample(s, self.names[-1]))
            else:
                raise TypeError(f"each statistic must be a name or a callable, got {type(s).__name__} ({s!r})")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"statistics must be distinct, got {self.names}")
        weights = [1.0] * len(self.names) if weights is None else list(weights)
        if len(weights) != len(self.names):
            raise ValueError(f"weights must have one entry per statistic ({len(self.names)}), got {len(weights)}")
        self.weights = [check_positive(w, "weight", allow_zero=True) for w in weights]
        self.lr = check_positive(lr, "lr")
        self.betas = check_betas(betas)

    @staticmethod
    def _per_sample(s: Callable, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        def statistic(x: torch.Tensor) -> torch.Tensor:
            out = s(x)
            if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0]:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(
                    f"statistic {name!r} must map x {tuple(x.shape)} to a tensor ({x.shape[0]}, k), got {got}"
                )
            return out.mean(dim=0)  # (k,)

        return statistic

    def discrepancies(self, samples: torch.Tensor, data: torch.Tensor) -> dict[str, torch.Tensor]:
        """Squared distance ``|| stat(samples) - stat(data) ||^2`` per statistic (unweighted).

        Shapes:
            ``samples (N, ...)``, ``data (M, ...)`` with the same number of features -> scalars.
        """
        x, y = _flat_batch(samples), _flat_batch(data)
        if x.shape[1] != y.shape[1]:
            raise ValueError(
                f"samples have {x.shape[1]} features but data have {y.shape[1]}: check the generator's output size"
            )
        return {name: ((s(x) - s(y)) ** 2).sum() for name, s in zip(self.names, self.statistics)}

    def generator_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update G: minimise sum_s w_s || stat_s(G(z)) - stat_s(x) ||^2 on a data minibatch.
        data = _flat_batch(batch)
        errors = self.discrepancies(self.rsample(len(data)), data)
        terms = [e if w == 1 else w * e for w, e in zip(self.weights, errors.values())]  # skip x 1.0 ops
        loss = terms[0]
        for term in terms[1:]:
            loss = loss + term
        return {"loss": loss, **{name: e.detach() for name, e in errors.items()}}

    def players(self) -> list[Player]:
        return self.with_options(
            [Player("generator", [self.generator], self.generator_loss, adam(self.lr, self.betas))])


class GMMN(LatentSampler):
    """Generative moment matching network: a generator trained to minimise the MMD to the data.

    Loss per step: ``sqrt(MMD^2(G(z), x))`` between ``N`` generated samples and a data minibatch,
    with a sum of Gaussian kernels (:func:`igmlib.divergences.mmd2`). As in Li et al.'s code, the
    default estimator is the biased one (V-statistic, always >= 0). With ``unbiased=True`` the
    estimate may be negative; the square root is then taken of ``max(MMD^2, 1e-12)`` (no gradient
    while the estimate is below 0).

    Args:
        generator: maps ``(N, latent_dim)`` to samples ``(N, ...)``.
        latent_dim: size of ``z ~ N(0, I)``.
        bandwidths: kernel bandwidths ``h`` (``k = exp(-|x - y|^2 / (2 h^2))``), a number or a
            sequence (sum of kernels), or ``"median"`` (the median heuristic on each minibatch).
            Li et al.'s MNIST values ``sigma in {2, 5, 10, 20, 40, 80}`` are ``h^2`` in this
            convention, for 784-D pixels in [0, 1].
        unbiased: use the unbiased estimator (U-statistic) instead of the biased one.
        sqrt: minimise ``sqrt(MMD^2)`` (the paper's code) instead of ``MMD^2``.
        lr: Adam learning rate (default 1e-3, PyTorch's Adam default; our choice).
        betas: Adam betas (default (0.9, 0.999), PyTorch's default).
        ema: decay of the generator's weight average that :meth:`sample` draws from (e.g. 0.999;
            ``None``: off); see :class:`~igmlib.models.LatentSampler`.
        decay_start: fraction of the run after which the learning rate decays linearly to 0
            (``None``: constant).

    Raises:
        TypeError / ValueError: a non-module generator, bad bandwidths or learning rate, ``ema``
            or ``decay_start`` out of range.

    References:
        Li, Swersky, Zemel, "Generative Moment Matching Networks", ICML 2015; their code
        github.com/yujiali/gmmn (sqrt of the biased multi-scale Gaussian-kernel MMD^2).
        Dziugaite, Roy, Ghahramani, "Training generative neural networks via Maximum Mean
        Discrepancy optimization", UAI 2015.
    """

    def __init__(
        self,
        generator: nn.Module,
        latent_dim: int,
        *,
        bandwidths: float | Sequence[float] | str = "median",
        unbiased: bool = False,
        sqrt: bool = True,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        super().__init__(generator, latent_dim, ema=ema, decay_start=decay_start)
        if isinstance(bandwidths, str):
            if bandwidths != "median":
                raise ValueError(
                    f"unknown bandwidths {bandwidths!r}; choose 'median' or pass numbers, e.g. (0.5, 1.0, 2.0)"
                )
        else:
            seq = [bandwidths] if isinstance(bandwidths, (int, float)) else list(bandwidths)
            if not seq:
                raise ValueError("bandwidths is empty: pass at least one bandwidth, or 'median'")
            bandwidths = tuple(check_positive(h, "bandwidth") for h in seq)
        self.bandwidths = bandwidths
        self.unbiased, self.sqrt = bool(unbiased), bool(sqrt)
        self.lr = check_positive(lr, "lr")
        self.betas = check_betas(betas)

    def mmd2(self, samples: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        """The MMD^2 estimate this model minimises, between ``samples`` and ``data`` (scalar)."""
        return mmd2(_flat_batch(samples), _flat_batch(data), bandwidth=self.bandwidths, unbiased=self.unbiased)

    def generator_loss(self, batch) -> dict[str, torch.Tensor]:
        # Update G: minimise sqrt(MMD^2(G(z), x)) on a data minibatch and as many samples.
        data = _flat_batch(batch)
        m2 = self.mmd2(self.rsample(len(data)), data)
        loss = m2.clamp_min(1e-12).sqrt() if self.sqrt else m2
        return {"loss": loss, "mmd2": m2.detach()}

    def players(self) -> list[Player]:
        return self.with_options(
            [Player("generator", [self.generator], self.generator_loss, adam(self.lr, self.betas))])
