"""Scores for learned representations: a linear probe, and mode agreement of reconstructions."""
from __future__ import annotations

import numpy as np
import torch
from torch import distributions as D

from .._validation import check_finite, check_labels, check_positive, check_positive_int, check_tensor, shape_str
from .samples import mixture_modes


def _features(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    x = check_tensor(x, name, floating=False)
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape (N, F) (or (N, ...), flattened), got {shape_str(x.shape)}: "
                         f"use {name}.reshape(-1, 1) for one feature")
    check_finite((name, x))
    return x.detach().cpu().reshape(x.shape[0], -1).double().numpy()


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    C: float = 1.0,
    max_iter: int = 2000,
) -> float:
    """Held-out accuracy of a logistic regression on frozen features: the linear evaluation protocol.

    The standard way to score an unsupervised representation: freeze it, fit a linear classifier
    on the training set's features, report its accuracy on the test set's. Features are
    standardised with the *training* set's mean and standard deviation; the classifier is
    ``sklearn.linear_model.LogisticRegression`` (multinomial, L2 penalty with strength ``1 / C``).

    Args:
        train_features: ``(N, F)`` tensor or array (``(N, ...)`` is flattened, e.g. raw images).
        train_labels: ``(N,)`` integer class labels.
        test_features: ``(M, F)``, the same features for held-out data.
        test_labels: ``(M,)`` integer class labels.
        C: inverse L2 regularisation strength.
        max_iter: iterations of the solver (lbfgs).

    Returns:
        Accuracy on the test set, in [0, 1].

    Raises:
        TypeError / ValueError: bad shapes, feature sizes that differ between train and test,
            float labels, fewer than two classes in the training labels, test labels of a class the
            training labels never show, NaN or infinite features.

    References:
        Donahue, Kraehenbuehl, Darrell, "Adversarial Feature Learning", ICLR 2017, section 4.3 and
        Table 3 (the fc8 column: only a linear classifier is trained on frozen features);
        Dumoulin et al., "Adversarially Learned Inference", ICLR 2017, section 4.3 and Table 1
        (a linear L2-SVM on the encoder's features).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    check_positive(C, "C")
    check_positive_int(max_iter, "max_iter")
    xtr, xte = _features(train_features, "train_features"), _features(test_features, "test_features")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train_features and test_features must have the same number of features, "
                         f"got {xtr.shape[1]} and {xte.shape[1]}")
    ytr = check_labels(train_labels, "train_labels", len(xtr), per="row of train_features")
    yte = check_labels(test_labels, "test_labels", len(xte), per="row of test_features")
    if len(np.unique(ytr)) < 2:
        raise ValueError("train_labels must contain at least two classes")
    unseen = np.setdiff1d(yte, ytr)
    if len(unseen):
        raise ValueError(f"test_labels hold classes {unseen.tolist()} that train_labels never show: a linear probe "
                         "cannot predict them; split the data so that every class is in the training set")
    scaler = StandardScaler().fit(xtr)
    classifier = LogisticRegression(C=C, max_iter=max_iter).fit(scaler.transform(xtr), ytr)
    return float(classifier.score(scaler.transform(xte), yte))


def same_mode_rate(
    x: torch.Tensor,
    x_rec: torch.Tensor,
    data: D.MixtureSameFamily | None = None,
    *,
    centres: torch.Tensor | None = None,
) -> float:
    """Fraction of reconstructions whose nearest mode is the nearest mode of their input.

    For an encoder/generator pair on a mixture with known modes: ``x -> z -> x_rec`` should stay in
    the mode it started from even when it does not return to the same point.

    Args:
        x: inputs ``(N, d)``.
        x_rec: their reconstructions ``(N, d)``, row ``i`` reconstructing ``x[i]``.
        data: a Gaussian mixture (e.g. :func:`igmlib.data.grid`), whose centres are used; or
        centres: mode centres ``(K, d)``.

    Returns:
        The fraction in [0, 1].

    Raises:
        TypeError / ValueError: bad shapes, ``x`` and ``x_rec`` of different shapes, NaN or
            infinite values, neither or both of ``data`` and ``centres``.
    """
    if (data is None) == (centres is None):
        raise ValueError("pass either data (a Gaussian mixture) or centres=, not both or neither")
    if data is not None:
        centres = mixture_modes(data)[0]
    centres = check_tensor(torch.as_tensor(centres), "centres", ndim=2)
    x = check_tensor(x, "x", ndim=2, last_dim=centres.shape[1])
    x_rec = check_tensor(x_rec, "x_rec", ndim=2, last_dim=centres.shape[1])
    if x.shape != x_rec.shape:
        raise ValueError(f"x_rec must have the shape of x, {shape_str(x.shape)}, got {shape_str(x_rec.shape)}: "
                         "pass one reconstruction per input")
    check_finite(("x", x), ("x_rec", x_rec))
    centres = centres.detach().cpu().double()
    nearest = torch.cdist(x.detach().cpu().double(), centres).argmin(dim=1)
    nearest_rec = torch.cdist(x_rec.detach().cpu().double(), centres).argmin(dim=1)
    return float((nearest == nearest_rec).double().mean())
