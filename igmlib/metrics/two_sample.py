"""Two-sample scores between real and generated samples (raw points or features).

- :func:`two_sample_accuracy`: the classifier two-sample test (held-out accuracy of a classifier
  that tells real from generated; 0.5 is perfect).
- :func:`precision_recall`: improved precision and recall from k-NN manifolds (quality and
  coverage as two numbers).
- The MMD is :func:`igmlib.divergences.mmd2`, e.g. ``mmd2(fake, real, bandwidth="median")``
  (unbiased, about 0 for one distribution; pass the same numeric bandwidth, e.g.
  ``median_bandwidth(real)``, when comparing several models).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._validation import check_choice, check_finite, check_positive_int, check_tensor, shape_str

CLASSIFIERS = ("knn", "logistic", "mlp")

#: Entries of one block of a distance matrix (256 Ki: 1 MiB in float32, small enough for the CPU's
#: cache); rows per block are ``BLOCK_ENTRIES // columns`` unless a ``batch_size`` is given.
BLOCK_ENTRIES = 2**18

#: scikit-learn's ``working_memory`` (MiB) for the chunked distances of :func:`two_sample_accuracy`'s
#: classifiers (its default is 1,024).
SKLEARN_WORKING_MEMORY_MB = 128


class TwoSampleTest(NamedTuple):
    """Result of :func:`two_sample_accuracy`: held-out ``accuracy``, the number of test points
    ``n_test``, and the one-sided binomial ``p_value`` of ``accuracy`` under "the two
    distributions are equal" (accuracy 1/2)."""

    accuracy: float
    n_test: int
    p_value: float


class PrecisionRecall(NamedTuple):
    """Result of :func:`precision_recall`: both fractions in [0, 1]."""

    precision: float
    recall: float


def block_rows(batch_size, columns: int, name: str = "batch_size", *, min_rows: int = 1) -> int:
    """Rows per block: ``batch_size`` if given (an int > 0), else ``BLOCK_ENTRIES // columns`` (at
    least ``min_rows``)."""
    if batch_size is None:
        return max(min_rows, BLOCK_ENTRIES // max(columns, 1))
    return check_positive_int(batch_size, name)


# torch.cdist has a per-call cost: precision_recall's blocks keep at least this many rows (measured
# at 20,000 2-D points: 2.4 s with 64 rows, 3.3 s with 13; 64 x 50,000 distances are 13 MB in float32).
KNN_MIN_ROWS = 64


def _flat(x, name: str) -> torch.Tensor:
    x = check_tensor(x, name)
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (N, F) (or (N, ...), flattened), got {shape_str(x.shape)}: "
                         f"use {name}.reshape(-1, 1) for 1-D samples")
    return x.detach().reshape(len(x), -1)


def _pair(real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _flat(real, "real"), _flat(fake, "fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real and fake must have the same number of features, got {a.shape[1]} and {b.shape[1]}")
    check_finite(("real", a), ("fake", b))
    return a, b


def _make_classifier(classifier, seed: int):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(classifier, str):
        if not (callable(getattr(classifier, "fit", None)) and callable(getattr(classifier, "predict", None))):
            raise TypeError(f"classifier must be one of {', '.join(CLASSIFIERS)} or an sklearn classifier "
                            f"(with fit and predict), got {type(classifier).__name__}")
        return clone(classifier)
    check_choice(classifier, "classifier", CLASSIFIERS)
    model = {
        "logistic": lambda: LogisticRegression(max_iter=2000),
        "knn": lambda: KNeighborsClassifier(n_neighbors=1),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, early_stopping=True, random_state=seed),
    }[classifier]()
    return make_pipeline(StandardScaler(), model)


def two_sample_accuracy(real, fake, *, test_fraction: float = 0.5, seed: int = 0,
                        classifier="logistic") -> TwoSampleTest:
    """Held-out accuracy of a classifier trained to tell real from generated samples.

    The classifier two-sample test: label real points 1 and generated points 0, keep equally many
    of each (the larger set is subsampled at random), split them with a seeded stratified split,
    standardise the features on the training part, fit the classifier, and report its accuracy on
    the test part. If the two distributions are equal no classifier beats chance, so the accuracy
    is 1/2 up to a binomial fluctuation of std ``1 / (2 sqrt(n_test))``; it tends to 1 as the
    samples become separable. The p-value is the one-sided exact binomial test of
    ``accuracy > 1/2``.

    Caveats: the score only sees differences the classifier can learn from the given samples
    (a linear classifier cannot tell a ring from a disc with the same mean; use ``"knn"`` or
    ``"mlp"`` there); a memorising model (generated = training points) passes if ``real`` is the
    same training set, so use held-out real data; accuracies of different classifiers or sample
    sizes are not comparable.

    Args:
        real: real samples or features ``(N, ...)`` (flattened per point).
        fake: generated samples ``(M, ...)`` with the same point size.
        test_fraction: fraction of the balanced pooled set held out for testing, in (0, 1).
        seed: seed of the subsampling, the split and the classifier's initialisation.
        classifier: ``"logistic"`` (sklearn ``LogisticRegression``, a linear test), ``"knn"``
            (1-nearest neighbour, as in Lopez-Paz and Oquab's 1-NN test), ``"mlp"`` (a small
            ``MLPClassifier``, 64-64 ReLU), or any unfitted sklearn classifier (cloned; no scaling).

    Returns:
        :class:`TwoSampleTest` ``(accuracy, n_test, p_value)``.

    Memory: the points are copied to float64 NumPy arrays; scikit-learn's distance computations
    (k-NN) run in chunks of at most ``SKLEARN_WORKING_MEMORY_MB`` (128 MiB).

    Raises:
        TypeError / ValueError: non-float tensors, different point sizes, NaN or infinite values,
            fewer than 2 points in a set, a bad ``test_fraction`` or ``seed``, an unknown classifier.

    References:
        Lopez-Paz, Oquab, "Revisiting Classifier Two-Sample Tests", ICLR 2017: the test statistic
        (held-out accuracy), its null distribution ``N(1/2, 1/(4 n_te))``, neural-network and
        k-NN classifiers, and its use to evaluate GAN samples.
    """
    from scipy.stats import binomtest
    from sklearn import config_context
    from sklearn.model_selection import train_test_split

    a, b = _pair(real, fake)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    n = min(len(a), len(b))
    if n < 2:
        raise ValueError(f"need at least 2 real and 2 fake samples, got {len(a)} and {len(b)}")
    model = _make_classifier(classifier, seed)
    rng = np.random.default_rng(seed)
    a = a.cpu().double().numpy()[rng.permutation(len(a))[:n]]
    b = b.cpu().double().numpy()[rng.permutation(len(b))[:n]]
    x = np.concatenate([a, b])
    y = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    with config_context(working_memory=SKLEARN_WORKING_MEMORY_MB):  # chunked k-NN distances: bounded memory
        hits = int((model.fit(x_tr, y_tr).predict(x_te) == y_te).sum())
    p_value = float(binomtest(hits, len(y_te), 0.5, alternative="greater").pvalue)
    return TwoSampleTest(hits / len(y_te), len(y_te), p_value)


def _knn_radii(x: torch.Tensor, k: int, batch_size: int | None) -> torch.Tensor:
    """Distance from each point of ``x`` to its k-th nearest other point, ``(N,)``.

    Written into one preallocated tensor: a slice of ``topk``'s values would keep its whole
    ``(B, N)`` buffer alive (measured: 9 GB at N = 50,000 when kept in a list)."""
    radii = torch.empty(len(x), dtype=x.dtype, device=x.device)
    rows = block_rows(batch_size, len(x), min_rows=KNN_MIN_ROWS)
    for start in range(0, len(x), rows):
        dist = torch.cdist(x[start:start + rows], x)  # (B, N), includes the point itself at distance 0
        radii[start:start + rows] = dist.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def _inside(queries: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor, batch_size: int | None) -> torch.Tensor:
    """Whether each query lies in at least one ball ``B(ref_j, radii_j)``, ``(M,)`` bool."""
    inside = torch.empty(len(queries), dtype=torch.bool, device=queries.device)
    rows = block_rows(batch_size, len(ref), min_rows=KNN_MIN_ROWS)
    for start in range(0, len(queries), rows):
        inside[start:start + rows] = (torch.cdist(queries[start:start + rows], ref) <= radii[None, :]).any(dim=1)
    return inside


def precision_recall(real_features, fake_features, *, k: int = 3, batch_size: int | None = None) -> PrecisionRecall:
    """Improved precision and recall of generated samples: k-NN estimates of the two manifolds.

    Each set's manifold is the union of balls around its points, with radius the distance to
    the point's ``k``-th nearest neighbour in the same set. Precision is the fraction of fake
    points inside the real manifold (quality: are the samples where the data are?); recall is the
    fraction of real points inside the fake manifold (coverage: is every part of the data
    produced?). A collapsed model has high precision and low recall; a blurry one the reverse.

    Caveats: outliers inflate a manifold (one far fake point with a large radius can swallow many
    real points), which is why the paper uses a small ``k`` (3) and large samples (50k in
    Inception-feature space); both estimates depend on ``k`` and on the sample sizes, so compare
    models at equal ``k`` and sizes; features decide what "near" means (use raw coordinates for
    toys, classifier features for images).

    Distances are computed with ``torch.cdist`` ``batch_size`` rows at a time (by default as many
    rows as keep a block at ``BLOCK_ENTRIES`` = 256 Ki distances, and at least 64), so memory
    stays at ``batch_size x N`` plus ``O(N + M)``; on the features' device and in their dtype. The
    block size does not change the result.

    Args:
        real_features: ``(N, F)`` (or ``(N, ...)``, flattened), N > k.
        fake_features: ``(M, F)``, M > k.
        k: the neighbour that sets each radius.
        batch_size: rows per distance block, or ``None`` (default) for
            ``max(64, BLOCK_ENTRIES // N)``.

    Returns:
        :class:`PrecisionRecall` ``(precision, recall)``; ``(1, 1)`` for identical sets.

    Raises:
        TypeError / ValueError: non-float tensors, different feature sizes, NaN or infinite
            values, ``k`` not an int > 0 or not smaller than a set's size, ``batch_size`` not an
            int > 0.

    References:
        Kynkaanniemi, Karras, Laine, Lehtinen, Aila, "Improved Precision and Recall Metric for
        Assessing Generative Models", NeurIPS 2019, section 2 (k-NN manifolds, precision and recall).
    """
    real, fake = _pair(real_features, fake_features)
    check_positive_int(k, "k")
    block_rows(batch_size, 1)
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k must be smaller than the number of real and fake points, got k={k} with "
                         f"{len(real)} real and {len(fake)} fake: pass a smaller k or more samples")
    fake = fake.to(real.device, real.dtype)
    real_radii, fake_radii = _knn_radii(real, k, batch_size), _knn_radii(fake, k, batch_size)
    precision = _inside(fake, real, real_radii, batch_size).double().mean()
    recall = _inside(real, fake, fake_radii, batch_size).double().mean()
    return PrecisionRecall(float(precision), float(recall))
