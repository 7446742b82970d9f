"""Image metrics: Frechet distance and inception score in a classifier's feature/logit space, and
label-based scores (cluster accuracy, label preservation) for codes and translations.

The classifier is always an argument: :mod:`igmlib.classifiers` trains one (e.g.
:func:`igmlib.classifiers.reference_classifier`); no metric trains anything.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._validation import check_features, check_finite, check_labels, check_pixel_range, check_positive_int, check_tensor


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``; the trace of the matrix square root is
    computed from the eigenvalues of ``S_a^(1/2) S_b S_a^(1/2)`` (symmetric, so stable when a
    covariance is singular).

    Args:
        features_a, features_b: shapes ``(N, k)`` and ``(M, k)``, N, M >= 2.

    Returns:
        The distance (squared feature units), >= 0.

    Raises:
        TypeError: features that are not floating-point tensors.
        ValueError: features not 2-D (e.g. raw images: pass a classifier's features, or use
            :func:`classifier_frechet_distance`), of different sizes ``k``, NaN or infinite, or
            fewer than 2 vectors in a set.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017, eq. (6).
    """
    a = check_features(features_a, "features_a").detach().cpu().double().numpy()
    b = check_features(features_b, "features_b", last_dim=a.shape[1]).detach().cpu().double().numpy()
    check_finite(("features_a", torch.from_numpy(a)), ("features_b", torch.from_numpy(b)))
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

    Raises:
        TypeError / ValueError: logits that are not a 2-D floating-point tensor, or hold NaN or infinite values.

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4.
    """
    logits = check_tensor(logits, "logits", ndim=2).detach().double()
    check_finite(("logits", logits))
    log_p = torch.log_softmax(logits, dim=1)  # log p(y|x), (N, C)
    log_marginal = torch.logsumexp(log_p, dim=0) - np.log(len(log_p))  # log p(y), (C,)
    return float(torch.exp((log_p.exp() * (log_p - log_marginal)).sum(1).mean()))


# ---------------------------------------------------------------- scores from a classifier

def _classifier_device(classifier: nn.Module) -> torch.device:
    p = next(classifier.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _batched(classifier: nn.Module, fn, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``fn`` over ``images`` in batches on the classifier's device, in eval mode (mode restored)."""
    check_positive_int(batch_size, "batch_size")
    was_training = classifier.training
    classifier.eval()
    try:
        device = _classifier_device(classifier)
        return torch.cat([fn(chunk.to(device)) for chunk in images.split(batch_size)])
    finally:
        classifier.train(was_training)


def classifier_accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                        batch_size: int = 1024) -> float:
    """Fraction of ``images`` whose arg-max class under ``classifier`` equals ``labels``.

    The classifier runs in eval mode (its mode is restored afterwards), without gradients, in batches
    on its own device.

    Args:
        classifier: a module mapping ``(N, C, H, W)`` images to ``(N, classes)`` logits.
        images: ``(N, C, H, W)``, pixels in [-1, 1].
        labels: ``(N,)`` integer class labels in ``[0, classes)``.
        batch_size: images per forward pass.

    Returns:
        The accuracy in [0, 1].

    Raises:
        TypeError / ValueError: images not 4-D floats, NaN/Inf pixels or pixels outside [-1, 1] (e.g.
            0-255 images: rescale with ``x / 127.5 - 1``), labels not integers of length ``N``, or
            labels outside ``[0, classes)`` for the classifier's number of outputs ``classes``.
    """
    check_tensor(images, "images", ndim=4)
    check_pixel_range(images, "images")
    labels = check_labels(labels, "labels", len(images))
    logits = _batched(classifier, classifier, images, batch_size)  # (N, classes)
    check_labels(labels, "labels", classes=logits.shape[1])
    return float((logits.argmax(1).cpu() == torch.as_tensor(labels)).double().mean())


def label_preservation(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                       batch_size: int = 1024) -> float:
    """Fraction of transformed images (e.g. translated ``F(G(x))`` or ``G(x)``) that ``classifier``
    assigns the label of their source image.

    The same computation as :func:`classifier_accuracy`, read differently: ``labels`` are the labels
    of the *inputs* of a translation, so 1.0 means the translation kept every digit's identity in
    the classifier's eyes. Caveat: a translation that returns its input unchanged scores as well as
    the classifier's own accuracy; pair it with a realism score such as
    :func:`classifier_frechet_distance` against the target domain.

    Args and Raises as :func:`classifier_accuracy`.

    Returns:
        The fraction in [0, 1].

    References:
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
        ICCV 2017, section 5.1.1 (the "FCN score": an off-the-shelf classifier judges translated images).
    """
    return classifier_accuracy(classifier, images, labels, batch_size=batch_size)


def classifier_frechet_distance(classifier: nn.Module, real: torch.Tensor, fake: torch.Tensor, *,
                                batch_size: int = 1024) -> float:
    """Frechet distance between Gaussians fitted to ``classifier.features`` of real and generated images.

    FID with our small classifier in place of the Inception network: 0 for identical feature
    statistics, larger as the generated images' features drift in mean or covariance. Caveats: it
    is biased upwards for small samples (compare models at the same sample sizes), it only sees what
    the classifier's features encode, and its values are not comparable with Inception-based FIDs.

    Args:
        classifier: a module with ``features(x) -> (N, k)`` (e.g.
            :func:`igmlib.classifiers.reference_classifier`).
        real, fake: images ``(N, C, H, W)`` and ``(M, C, H, W)``, N, M >= 2.
        batch_size: images per forward pass.

    Returns:
        The distance (squared feature units), >= 0.

    Raises:
        TypeError: the classifier has no ``features`` method, or images are not float tensors.
        ValueError: images are not 4-D, hold NaN/Inf or pixels outside [-1, 1] (e.g. 0-255 images:
            rescale with ``x / 127.5 - 1``), or fewer than 2 of either.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017, eq. (6).
    """
    if not callable(getattr(classifier, "features", None)):
        raise TypeError(
            f"classifier must have a features(x) method (e.g. igmlib.classifiers.reference_classifier()), "
            f"got {type(classifier).__name__}"
        )
    for name, x in (("real", real), ("fake", fake)):
        check_tensor(x, name, ndim=4)
        check_pixel_range(x, name)
    features = [_batched(classifier, classifier.features, x, batch_size) for x in (real, fake)]
    return frechet_distance(*features)


# ---------------------------------------------------------------- clusters against labels

def match_clusters(labels_true, labels_pred) -> dict[int, int]:
    """The one-to-one map from cluster ids to classes that maximises agreement (Hungarian algorithm).

    Clusters left without a class (when there are more clusters than classes) are not in the map.

    Args:
        labels_true: ``(N,)`` integer class labels.
        labels_pred: ``(N,)`` integer cluster ids (any integers; their number may differ from the
            number of classes).

    Returns:
        ``{cluster id: class label}``.

    Raises:
        TypeError / ValueError: non-integer labels, not 1-D, or of different lengths.
    """
    from scipy.optimize import linear_sum_assignment

    true = check_labels(labels_true, "labels_true")
    pred = check_labels(labels_pred, "labels_pred", len(true), per="entry of labels_true")
    classes, true_idx = np.unique(true, return_inverse=True)
    clusters, pred_idx = np.unique(pred, return_inverse=True)
    confusion = np.zeros((len(clusters), len(classes)), dtype=np.int64)  # (clusters, classes)
    np.add.at(confusion, (pred_idx, true_idx), 1)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    return {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}


def cluster_accuracy(labels_true, labels_pred) -> float:
    """Accuracy of cluster ids as class predictions after the best one-to-one relabelling.

    ``max over injective maps m of (1/N) sum_i [m(pred_i) = true_i]``, found with the Hungarian
    algorithm (``scipy.optimize.linear_sum_assignment``) on the clusters-by-classes confusion matrix.
    With more clusters than classes the unmatched clusters count as errors; with fewer, some classes
    are never predicted. This is how an unsupervised code (e.g. InfoGAN's categorical code read by
    its Q head) is scored as a classifier: its ids are arbitrary, so only the matching matters.

    Args:
        labels_true: ``(N,)`` integer class labels (tensor, array or list).
        labels_pred: ``(N,)`` integer cluster ids.

    Returns:
        The accuracy in [0, 1]; 1.0 for any relabelling of ``labels_true``.

    Raises:
        TypeError / ValueError: non-integer labels, not 1-D, or of different lengths.

    References:
        Kuhn, "The Hungarian Method for the Assignment Problem", 1955. Chen et al., "InfoGAN",
        NeurIPS 2016, section 7 (the categorical code as a classifier of MNIST digits).
    """
    true = check_labels(labels_true, "labels_true")
    pred = check_labels(labels_pred, "labels_pred", len(true), per="entry of labels_true")
    mapping = match_clusters(true, pred)
    hits = sum(int(((pred == k) & (true == c)).sum()) for k, c in mapping.items())
    return hits / len(true)
