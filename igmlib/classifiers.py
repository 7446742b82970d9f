"""Image classifiers that the image metrics score with: :class:`ImageClassifier`, trained by
:func:`train_classifier` or, once and cached, by :func:`reference_classifier`.

This module trains (it uses :func:`igmlib.fit`); the metrics of :mod:`igmlib.metrics` only take a
classifier as an argument (:func:`igmlib.metrics.classifier_frechet_distance`,
:func:`igmlib.metrics.label_preservation`, ...) and never train one.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import torch
from torch import nn

from ._validation import check_image_size, check_positive_int, check_tensor
from .metrics.images import classifier_accuracy
from .nets import ConvDiscriminator
from .player import Player
from .runtime import cache_dir as default_cache_dir
from .runtime import fork_rng
from .train import fit

#: Bump when the reference classifier's architecture or training changes: old cache files are then ignored.
REFERENCE_CLASSIFIER_VERSION = 2


class ImageClassifier(nn.Module):
    """A small conv classifier whose penultimate layer gives features for
    :func:`igmlib.metrics.frechet_distance`.

    Shapes:
        ``forward``: ``(N, C, s, s) -> (N, classes)`` logits; ``features``: ``-> (N, feature_dim)``.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, classes: int = 10, feature_dim: int = 64):
        super().__init__()
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

    def players(self) -> list[Player]:
        return [Player("classifier", [self], self.classifier_loss, lambda p: torch.optim.Adam(p, lr=1e-3))]

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` classified as ``y`` (see :func:`igmlib.metrics.classifier_accuracy`)."""
        return classifier_accuracy(self, x, y)


def train_classifier(images, *, steps: int = 1000, batch_size: int = 128, seed: int = 0) -> ImageClassifier:
    """Train an :class:`ImageClassifier` on labelled images (e.g. ``igmlib.data.digits()``) with
    :func:`igmlib.fit`; returned in eval mode on the images' device.

    ``fit(seed=seed)`` re-seeds torch's global generator (see :func:`igmlib.fit`).
    """
    x, y = images
    clf = ImageClassifier(x.shape[-1], x.shape[1], int(y.max()) + 1).to(x.device)
    fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    return clf.eval()


def _tensor_digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def _training_data(image_size: int, data) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(x, y, source)``: the digits (resized to ``image_size``) or the given labelled images."""
    if data is None:
        from .data import digits

        x, y = digits("train")
        if image_size != 8:
            x = nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
        return x, y, "digits-train"
    x, y = data
    check_tensor(x, "data images", ndim=4)
    if tuple(x.shape[2:]) != (image_size, image_size):
        raise ValueError(
            f"data images must have shape (N, C, {image_size}, {image_size}), got {tuple(x.shape)}: "
            f"pass image_size={x.shape[-1]} or resize the images"
        )
    x, y = x.detach().cpu().float(), y.detach().cpu().long()
    return x, y, "data-" + _tensor_digest(x, y)


def _load(path: Path, config: dict) -> dict | None:
    """The cached state dict at ``path`` if it exists, is readable and was saved for ``config``."""
    if not path.exists():
        return None
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):  # corrupt: retrain
        return None
    return cached["state_dict"] if isinstance(cached, dict) and cached.get("config") == config else None


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
    """A small digits classifier for scoring generated or translated images, **trained on first use**
    and cached.

    An :class:`ImageClassifier` trained with :func:`igmlib.fit` (Adam 1e-3, cross-entropy) on
    ``igmlib.data.digits("train")`` (1,437 images; resized to ``image_size`` if it is not 8). It takes
    a few seconds on a CPU and reaches about 96-97% accuracy on ``digits("test")``. Training always
    runs on the CPU with the given seed, so the weights are deterministic; the global random state
    (torch's and NumPy's) is left as it was.

    **Side effects**: when no cached copy exists (the first call for a configuration), it trains,
    prints one line to stderr naming the cache file, and writes that file: ``cache_dir`` (default
    ``igmlib.runtime.cache_dir() / "classifiers"``, i.e. ``$IGM_CACHE/classifiers`` or the per-user
    cache folder) under a name holding a hash of the configuration (architecture version, size,
    steps, batch size, seed, training data). Later calls load it with
    ``torch.load(..., weights_only=True)`` and print nothing.

    Caveats: a classifier of 8x8 digits judges only what it has learnt to tell apart; scores built
    on it (:func:`igmlib.metrics.classifier_frechet_distance`, :func:`igmlib.metrics.inception_score`
    of its logits) compare models on the same classifier only, never with the papers'
    Inception-network numbers.

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
    check_image_size(image_size)
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    x, y, source = _training_data(image_size, data)
    config = {
        "version": REFERENCE_CLASSIFIER_VERSION, "image_size": image_size, "channels": int(x.shape[1]),
        "classes": int(y.max()) + 1, "steps": steps, "batch_size": batch_size, "seed": seed, "data": source,
    }
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "classifiers"
    path = folder / f"reference_classifier_{image_size}px_seed{seed}_{key}.pt"
    state = _load(path, config)
    with fork_rng(seed, numpy=True):  # the initial weights depend on the seed only; the caller's state is kept
        clf = ImageClassifier(image_size, config["channels"], config["classes"])
        if state is not None:
            clf.load_state_dict(state)
        else:
            print(f"igmlib: training the reference classifier ({steps} steps on {source}, once); "
                  f"caching it in {path}", file=sys.stderr)
            fit(clf, (x, y), steps=steps, batch_size=min(batch_size, len(x)), seed=seed, progress=False)
    if state is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"config": config, "state_dict": clf.state_dict()}, tmp)
        os.replace(tmp, path)  # atomic: parallel callers never read a half-written file
    return clf.to(device).eval()


__all__ = ["REFERENCE_CLASSIFIER_VERSION", "ImageClassifier", "reference_classifier", "train_classifier"]
