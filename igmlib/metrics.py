"""Metrics: mode coverage on 2-D mixtures, a histogram KL for 1-D samples, and classifier-based
scores for images (Frechet distance in a classifier's feature space, inception score).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import distributions as D
from torch import nn

from ._validation import check_positive, check_positive_int, check_tensor


class ModeCoverage(NamedTuple):
    """``modes``: modes captured; ``high_quality``: fraction of samples within ``threshold`` std of
    their nearest mode; ``total``: number of modes."""

    modes: int
    high_quality: float
    total: int


def mixture_modes(data: D.MixtureSameFamily) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres ``(K, d)`` and per-mode std ``(K,)`` of a mixture of isotropic Gaussians.

    Raises:
        TypeError: ``data`` is not a ``MixtureSameFamily`` of (Independent) Normals.
    """
    comp = getattr(data, "component_distribution", None)
    base = getattr(comp, "base_dist", comp)
    if not isinstance(data, D.MixtureSameFamily) or not isinstance(base, D.Normal):
        raise TypeError(
            f"data must be a mixture of Gaussians such as igmlib.data.ring() or grid(), got {type(data).__name__}; "
            "or pass centres= and std= explicitly"
        )
    centres = comp.mean.reshape(comp.mean.shape[0], -1)
    std = comp.stddev.reshape(centres.shape).mean(dim=1)
    return centres, std


def mode_coverage(
    samples: torch.Tensor,
    data: D.MixtureSameFamily | None = None,
    *,
    centres: torch.Tensor | None = None,
    std: float | torch.Tensor | None = None,
    threshold: float = 3.0,
) -> ModeCoverage:
    """Modes captured and the fraction of high-quality samples, with VEEGAN's definitions.

    A sample is *high quality* if it lies within ``threshold`` standard deviations of its nearest
    mode; a mode is *captured* if it is the nearest mode of at least one high-quality sample.
    VEEGAN uses 2,500 samples and ``threshold = 3``.

    Args:
        samples: model samples, shape ``(N, d)``.
        data: a Gaussian mixture (e.g. :func:`igmlib.data.ring`); or give ``centres`` and ``std``.
        centres: mode centres ``(K, d)``.
        std: the modes' standard deviation (a number or ``(K,)``).
        threshold: distance in standard deviations.

    Returns:
        :class:`ModeCoverage` ``(modes, high_quality, total)``.

    Raises:
        TypeError / ValueError: bad shapes, neither or both of ``data`` and ``centres``.

    References:
        Srivastava et al., "VEEGAN", NeurIPS 2017, section 5.1.
    """
    check_positive(threshold, "threshold")
    if (data is None) == (centres is None):
        raise ValueError("pass either data (a Gaussian mixture) or centres= and std=, not both or neither")
    if data is not None:
        centres, std = mixture_modes(data)
    elif std is None:
        raise ValueError("std is required with centres=")
    centres = check_tensor(torch.as_tensor(centres), "centres", ndim=2)
    samples = check_tensor(samples, "samples", ndim=2, last_dim=centres.shape[1])
    samples = samples.detach().to("cpu", centres.dtype)
    std = torch.as_tensor(std, dtype=centres.dtype).expand(centres.shape[0])
    dist = torch.cdist(samples, centres)  # (N, K)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= threshold * std[nearest]
    captured = torch.unique(nearest[good]).numel()
    return ModeCoverage(int(captured), float(good.float().mean()), int(centres.shape[0]))


def histogram_kl(samples: torch.Tensor, density: D.Distribution, *, bins: int = 50, range=None, eps: float = 1e-10) -> float:
    """KL(p || q_hist) in nats between a known 1-D density p and a histogram of samples.

    Both are restricted to ``range`` and renormalised there: ``p_i`` is p's mass in bin ``i``
    (integrated with ``scipy.integrate.quad``), ``q_i`` the fraction of samples in it (``eps``
    avoids log 0 for empty bins).

    Args:
        samples: shape ``(N,)`` or ``(N, 1)``.
        density: a distribution with ``log_prob`` on ``(M, 1)`` (igmlib's 1-D toys) or ``(M,)``.
        bins: number of equal-width bins.
        range: ``(low, high)``; default: the 0.1% and 99.9% quantiles of 20,000 ``density.sample``
            draws with a fixed seed (deterministic; the global RNG is left untouched).
        eps: pseudo-count added to every bin's probability.

    Returns:
        KL in nats (>= 0 up to the ``eps`` smoothing).

    Raises:
        TypeError / ValueError: bad shapes, bins <= 0, an empty range.
    """
    from scipy import integrate

    check_positive_int(bins, "bins")
    samples = check_tensor(samples, "samples", ndim=(1, 2))
    if samples.dim() == 2 and samples.shape[1] != 1:
        raise ValueError(f"samples must have shape (N,) or (N, 1), got {tuple(samples.shape)}")
    samples = samples.detach().cpu().double().reshape(-1)
    event_1d = len(density.event_shape) == 1

    def pdf(t: float) -> float:
        x = torch.tensor([[t]] if event_1d else [t], dtype=torch.get_default_dtype())
        try:  # the density is 0 outside the support (log_prob would raise there)
            if not bool(density.support.check(x).all()):
                return 0.0
        except NotImplementedError:
            pass
        return float(density.log_prob(x).exp())

    if range is None:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):  # deterministic; caller's RNG untouched
            torch.manual_seed(0)
            ref = density.sample((20000,)).reshape(-1).double()
        range = (float(torch.quantile(ref, 0.001)), float(torch.quantile(ref, 0.999)))
    low, high = map(float, range)
    if not high > low:
        raise ValueError(f"range must satisfy low < high, got {range}")
    edges = np.linspace(low, high, bins + 1)
    p = np.array([integrate.quad(pdf, a, b, limit=100)[0] for a, b in zip(edges[:-1], edges[1:])])
    counts, _ = np.histogram(samples.reshape(-1).numpy(), bins=edges)
    p = p / p.sum() + eps
    q = counts / max(counts.sum(), 1) + eps
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def gaussian_log_likelihood(train: torch.Tensor, test: torch.Tensor, *, jitter: float = 1e-6) -> torch.Tensor:
    """Held-out log-likelihood (nats) under one full-covariance Gaussian fitted to ``train``.

    The baseline for likelihood-based models: ``N(mean, cov + jitter I)`` with the sample mean and
    the unbiased sample covariance of ``train``, evaluated with
    ``torch.distributions.MultivariateNormal`` (in float64) on each point of ``test``.

    Args:
        train: ``(N, ...)``, N >= 2; each point is flattened (images ``(N, C, H, W)`` work).
        test: ``(M, ...)`` with the same point shape.
        jitter: added to the covariance's diagonal (constant pixels make it singular).

    Returns:
        ``(M,)`` log-densities in nats (float64, on ``test``'s device).

    Raises:
        TypeError / ValueError: non-tensors, mismatched point shapes, fewer than 2 training points.
    """
    check_tensor(train, "train")
    check_tensor(test, "test")
    if train.dim() < 2 or len(train) < 2:
        raise ValueError(f"train must have shape (N, ...) with N >= 2, got {tuple(train.shape)}")
    if test.dim() != train.dim() or test.shape[1:] != train.shape[1:]:
        raise ValueError(
            f"test points must have the shape of train points {tuple(train.shape[1:])}, got {tuple(test.shape[1:])}"
        )
    check_positive(jitter, "jitter", allow_zero=True)
    a = train.detach().reshape(len(train), -1).double()
    b = test.detach().reshape(len(test), -1).to(a.device).double()
    cov = torch.atleast_2d(torch.cov(a.T)) + jitter * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    return D.MultivariateNormal(a.mean(0), covariance_matrix=cov).log_prob(b).to(test.device)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; the trace of the matrix square root is
    computed from the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)`` (symmetric, so stable when a
    covariance is singular).

    Args:
        features_a, features_b: shapes ``(N, k)`` and ``(M, k)``, N, M >= 2.

    Returns:
        The distance (squared feature units), >= 0.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017, eq. (6).
    """
    a = check_tensor(features_a, "features_a", ndim=2).detach().cpu().double().numpy()
    b = check_tensor(features_b, "features_b", ndim=2, last_dim=a.shape[1]).detach().cpu().double().numpy()
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least 2 feature vectors in each set to estimate a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr (S_a S_b)^(1/2) = sum of the square roots of the eigenvalues of the PSD matrix
    # S_a^(1/2) S_b S_a^(1/2): exact, and stable for singular covariances (e.g. dead ReLU features),
    # where scipy.linalg.sqrtm(S_a S_b) warns and may return complex or inaccurate values
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    trace_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    return float(max(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b) - 2 * trace_covmean, 0.0))


def inception_score(logits: torch.Tensor) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` from a classifier's logits ``(N, classes)``.

    Between 1 and the number of classes: high when each sample is classified confidently and all
    classes occur equally often.

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4.
    """
    logits = check_tensor(logits, "logits", ndim=2).detach().double()
    log_p = torch.log_softmax(logits, dim=1)  # log p(y|x), (N, C)
    log_marginal = torch.logsumexp(log_p, dim=0) - np.log(len(log_p))  # log p(y), (C,)
    return float(torch.exp((log_p.exp() * (log_p - log_marginal)).sum(1).mean()))


class ImageClassifier(nn.Module):
    """A small conv classifier whose penultimate layer gives features for :func:`frechet_distance`.

    Shapes:
        ``forward``: ``(N, C, s, s) -> (N, classes)`` logits; ``features``: ``-> (N, feature_dim)``.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, classes: int = 10, feature_dim: int = 64):
        super().__init__()
        from .nets import ConvDiscriminator

        self.body = nn.Sequential(ConvDiscriminator(image_size, channels, width=32, out_features=feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def players(self):
        from .train import Player

        def loss(batch):
            x, y = batch
            logits = self(x)
            return {"loss": nn.functional.cross_entropy(logits, y),
                    "accuracy": (logits.argmax(1) == y).float().mean()}

        return [Player("classifier", [self], loss, lambda p: torch.optim.Adam(p, lr=1e-3))]

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` classified as ``y``."""
        return float((self(x).argmax(1) == y).float().mean())


def train_classifier(images, *, steps: int = 1000, batch_size: int = 128, seed: int = 0) -> ImageClassifier:
    """Train an :class:`ImageClassifier` on labelled images (e.g. ``igmlib.data.digits()``) with
    :func:`igmlib.fit`; returned in eval mode on the images' device."""
    from .train import fit

    x, y = images
    clf = ImageClassifier(x.shape[-1], x.shape[1], int(y.max()) + 1).to(x.device)
    fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    return clf.eval()
