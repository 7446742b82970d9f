"""Image metrics: Frechet distance and inception score in a classifier's feature/logit space, the
small reference classifier that provides them, and label-based scores (cluster accuracy, label
preservation) for codes and translations."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._validation import check_positive_int, check_tensor


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

    def classifier_loss(self, batch) -> dict[str, torch.Tensor]:
        """Cross-entropy (nats) of the labels ``y`` given the images ``x`` of a batch ``(x, y)``."""
        x, y = batch
        logits = self(x)
        return {"loss": nn.functional.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}

    def players(self):
        from ..player import Player

        return [Player("classifier", [self], self.classifier_loss, lambda p: torch.optim.Adam(p, lr=1e-3))]

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` classified as ``y`` (see :func:`classifier_accuracy`)."""
        return classifier_accuracy(self, x, y)


def train_classifier(images, *, steps: int = 1000, batch_size: int = 128, seed: int = 0) -> ImageClassifier:
    """Train an :class:`ImageClassifier` on labelled images (e.g. ``igmlib.data.digits()``) with
    :func:`igmlib.fit`; returned in eval mode on the images' device."""
    from ..train import fit

    x, y = images
    clf = ImageClassifier(x.shape[-1], x.shape[1], int(y.max()) + 1).to(x.device)
    fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    return clf.eval()


# ---------------------------------------------------------------- the reference classifier

#: Bump when the reference classifier's architecture or training changes: old cache files are then ignored.
REFERENCE_CLASSIFIER_VERSION = 2


def _default_cache_dir() -> Path:
    return Path(os.environ.get("IGM_CACHE") or Path.home() / ".cache" / "igmlib")


def _tensor_digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def reference_classifier(
    image_size: int = 8,
    *,
    seed: int = 0,
    steps: int = 300,
    batch_size: int = 128,
    data=None,
    cache_dir: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> ImageClassifier:
    """A small digits classifier for scoring generated or translated images, trained once and cached.

    An :class:`ImageClassifier` trained with :func:`igmlib.fit` (Adam 1e-3, cross-entropy) on
    ``igmlib.data.digits("train")`` (1,437 images; resized to ``image_size`` if it is not 8). It takes
    a few seconds on a CPU and reaches about 96-97% accuracy on ``digits("test")``. Training always
    runs on the CPU with the given seed, so the weights are deterministic; the global random state
    (Python, NumPy, torch) is left as it was.

    The weights are cached in ``cache_dir`` (default ``$IGM_CACHE``, else ``~/.cache/igmlib``) under a
    file name holding a hash of the configuration (architecture version, size, steps, batch size,
    seed, training data), and loaded with ``torch.load(..., weights_only=True)`` on later calls.

    Caveats: a classifier of 8x8 digits judges only what it has learnt to tell apart; scores built
    on it (:func:`classifier_frechet_distance`, :func:`inception_score` of its logits) compare models
    on the same classifier only, never with the papers' Inception-network numbers.

    Args:
        image_size: side of the (square, one-channel) images it classifies, divisible by 4.
        seed: seed of the initialisation and the minibatches.
        steps: training steps (minibatches).
        batch_size: minibatch size.
        data: labelled images ``(x (N, C, s, s), y (N,))`` to train on instead of the digits, e.g.
            ``igmlib.data.mnist("train")`` with ``image_size=28``; they are hashed into the cache key.
        cache_dir: folder of the cached weights (created if missing).
        device: where the returned classifier lives (default ``"cpu"``).

    Returns:
        The trained :class:`ImageClassifier` in eval mode on ``device``.

    Raises:
        TypeError / ValueError: bad sizes, or ``data`` whose images are not ``(N, C, image_size, image_size)``.

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4, and Heusel
        et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017, section 5: scores
        computed in a pretrained classifier's outputs and features; here the classifier is ours.
    """
    from ..data import digits
    from ..nets import _check_image_size
    from ..train import fit

    _check_image_size(image_size)
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if data is None:
        x, y = digits("train")
        if image_size != 8:
            x = nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
        source = "digits-train"
    else:
        x, y = data
        check_tensor(x, "data images", ndim=4)
        if tuple(x.shape[2:]) != (image_size, image_size):
            raise ValueError(
                f"data images must have shape (N, C, {image_size}, {image_size}), got {tuple(x.shape)}: "
                f"pass image_size={x.shape[-1]} or resize the images"
            )
        x, y = x.detach().cpu().float(), y.detach().cpu().long()
        source = "data-" + _tensor_digest(x, y)
    config = {
        "version": REFERENCE_CLASSIFIER_VERSION, "image_size": image_size, "channels": int(x.shape[1]),
        "classes": int(y.max()) + 1, "steps": steps, "batch_size": batch_size, "seed": seed, "data": source,
    }
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = path / f"reference_classifier_{image_size}px_seed{seed}_{key}.pt"
    cached = None
    if path.exists():
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):  # corrupt: retrain
            cached = None
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):  # leave the caller's random streams alone
        torch.manual_seed(seed)  # the initial weights depend on the seed only
        clf = ImageClassifier(image_size, config["channels"], config["classes"])
        trained = isinstance(cached, dict) and cached.get("config") == config
        if trained:
            clf.load_state_dict(cached["state_dict"])
        else:
            fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    random.setstate(py_state)
    np.random.set_state(np_state)
    if not trained:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"config": config, "state_dict": clf.state_dict()}, tmp)
        os.replace(tmp, path)  # atomic: parallel callers never read a half-written file
    return clf.to(device).eval()


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
        images: ``(N, C, H, W)``.
        labels: ``(N,)`` integer class labels.
        batch_size: images per forward pass.

    Returns:
        The accuracy in [0, 1].

    Raises:
        TypeError / ValueError: images not 4-D floats, labels not integers of length ``N``.
    """
    check_tensor(images, "images", ndim=4)
    _check_labels(labels, "labels", len(images))
    predicted = _batched(classifier, lambda x: classifier(x).argmax(1), images, batch_size)
    return float((predicted.cpu() == labels.cpu()).double().mean())


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
        classifier: a module with ``features(x) -> (N, k)`` (e.g. :func:`reference_classifier`).
        real, fake: images ``(N, C, H, W)`` and ``(M, C, H, W)``, N, M >= 2.
        batch_size: images per forward pass.

    Returns:
        The distance (squared feature units), >= 0.

    Raises:
        TypeError: the classifier has no ``features`` method, or images are not float tensors.
        ValueError: images are not 4-D, or fewer than 2 of either.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017, eq. (6).
    """
    if not callable(getattr(classifier, "features", None)):
        raise TypeError(
            f"classifier must have a features(x) method (e.g. igmlib.metrics.reference_classifier()), "
            f"got {type(classifier).__name__}"
        )
    check_tensor(real, "real", ndim=4)
    check_tensor(fake, "fake", ndim=4)
    features = [_batched(classifier, classifier.features, x, batch_size) for x in (real, fake)]
    return frechet_distance(*features)


# ---------------------------------------------------------------- clusters against labels

def _check_labels(labels, name: str, n: int | None = None) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        if labels.is_floating_point() or labels.is_complex():
            raise TypeError(f"{name} must hold integer labels, got dtype {labels.dtype}: use {name}.long()")
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError(f"{name} is empty: pass at least one label")
    if labels.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer labels, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,), got shape {labels.shape}: use {name}.reshape(-1)")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have {n} entries (one per image), got {len(labels)}")
    if len(labels) == 0:
        raise ValueError(f"{name} is empty: pass at least one label")
    return labels


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

    true = _check_labels(labels_true, "labels_true")
    pred = _check_labels(labels_pred, "labels_pred", len(true))
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
    true = _check_labels(labels_true, "labels_true")
    pred = _check_labels(labels_pred, "labels_pred", len(true))
    mapping = match_clusters(true, pred)
    hits = sum(int(((pred == k) & (true == c)).sum()) for k, c in mapping.items())
    return hits / len(true)
