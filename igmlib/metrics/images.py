"""Image metrics: Frechet distance and inception score in a classifier's feature/logit space, and the
small reference classifier that provides them."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._validation import check_tensor


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
        from ..nets import ConvDiscriminator

        self.body = nn.Sequential(ConvDiscriminator(image_size, channels, width=32, out_features=feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def players(self):
        from ..train import Player

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
    from ..train import fit

    x, y = images
    clf = ImageClassifier(x.shape[-1], x.shape[1], int(y.max()) + 1).to(x.device)
    fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    return clf.eval()
