"""Input checks shared by every public function.

Each check raises a ``TypeError`` or ``ValueError`` that says what was expected, what came, and
how to fix it (scikit-learn's error style). They never use ``assert`` (stripped by ``python -O``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch


def shape_str(shape: Sequence[int]) -> str:
    """Format a shape as ``(64, 2)`` (with a trailing comma for one dimension: ``(64,)``)."""
    shape = tuple(shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_tensor(
    x,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    last_dim: int | None = None,
    floating: bool = True,
) -> torch.Tensor:
    """Check that ``x`` is a tensor of the expected rank, last dimension and dtype kind.

    Args:
        x: the value to check.
        name: the argument's name, used in the error message.
        ndim: the allowed number of dimensions (one int or several).
        last_dim: the required size of the last dimension.
        floating: require a floating-point dtype.

    Returns:
        ``x`` unchanged.

    Raises:
        TypeError: ``x`` is not a tensor, or not floating point when required.
        ValueError: wrong number of dimensions or wrong last dimension, or an empty tensor.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}: "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype, got {x.dtype}: use {name}.float()"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(
                f"{name} must be {want}, got shape {shape_str(x.shape)} ({x.dim()}-D)"
                + (f": use {name}.reshape(-1, {last_dim})" if last_dim is not None else "")
            )
    if last_dim is not None and (x.dim() == 0 or x.shape[-1] != last_dim):
        raise ValueError(
            f"{name} must have shape (N, {last_dim}), got {shape_str(x.shape)}: "
            f"use {name}.reshape(-1, {last_dim})"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {shape_str(x.shape)}): pass at least one sample")
    return x


def check_features(x, name: str, *, last_dim: int | None = None) -> torch.Tensor:
    """Check a feature set ``(N, d)`` (:func:`check_tensor` with ``ndim=2``), with a hint for raw images.

    Raises:
        TypeError: not a floating-point tensor.
        ValueError: images ``(N, C, H, W)`` instead of features, not 2-D, or not ``last_dim`` wide.
    """
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        raise ValueError(f"{name} must be features (N, d), got images of shape {shape_str(x.shape)}: pass a "
                         f"classifier's features, e.g. igmlib.classifiers.reference_classifier().features(images)")
    return check_tensor(x, name, ndim=2, last_dim=last_dim)


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Check that ``value`` is one of ``choices`` (strings).

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: ``value`` is not among ``choices``; the message lists the valid ones.
    """
    choices = sorted(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of: {', '.join(choices)}; got {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value


def check_positive_int(value, name: str, *, allow_zero: bool = False) -> int:
    """Check that ``value`` is an int > 0 (or >= 0 with ``allow_zero``); bools are rejected.

    Raises:
        TypeError: not an int.
        ValueError: not positive.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Check that ``value`` is a finite real number > 0 (or >= 0 with ``allow_zero``).

    Raises:
        TypeError: not a real number.
        ValueError: not positive, or not finite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not value == value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_module(module, name: str):
    """Return ``module`` if it is a ``torch.nn.Module``; else raise a TypeError naming ``name``."""
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    return module


def check_image_size(image_size: int) -> int:
    """Check that ``image_size`` (the side of square images in pixels) is an int > 0 divisible by 4,
    as the convolutional nets of :mod:`igmlib.nets` need (two stride-2 layers).

    Raises:
        TypeError: not an int.
        ValueError: not positive, or not divisible by 4.
    """
    check_positive_int(image_size, "image_size")
    if image_size % 4:
        raise ValueError(f"image_size must be divisible by 4 (e.g. 8, 28, 32), got {image_size}")
    return image_size


def check_labels(labels, name: str, n: int | None = None, *, per: str = "image", classes: int | None = None,
                 of: str = "the classifier") -> np.ndarray:
    """Check integer class labels (a tensor, an array or a list) and return them as a 1-D NumPy array.

    Args:
        labels: the labels.
        name: the argument's name, used in the error message.
        n: the required number of labels, or None.
        per: what each label belongs to, for the message (``"image"``, ``"row of features"``).
        classes: the number of classes, or None: labels must then lie in ``[0, classes)``.
        of: what has ``classes`` classes, for the message.

    Raises:
        TypeError: the labels are not integers (floats, e.g. ``torch.float32``).
        ValueError: empty, not 1-D, not ``n`` of them, or outside ``[0, classes)``.
    """
    if isinstance(labels, torch.Tensor):
        if labels.is_floating_point() or labels.is_complex():
            raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}: use {name}.long()")
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError(f"{name} is empty: pass at least one label")
    if labels.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,), got shape {shape_str(labels.shape)}: use {name}.reshape(-1)")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have shape ({n},), one label per {per}, got {shape_str(labels.shape)}")
    if classes is not None and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{name} must be class indices in [0, {classes}) ({of} has {classes} classes), got values in "
                         f"[{labels.min()}, {labels.max()}]: relabel them 0..{classes - 1}, or pass a model with "
                         "one output per class")
    return labels


def check_event_shape(event_shape, name: str = "event_shape", *, optional: bool = False) -> tuple[int, ...] | None:
    """Check the shape of one data point, e.g. ``(2,)`` or ``(1, 8, 8)`` (an int ``d`` means ``(d,)``).

    Returns:
        The shape as a tuple of ints, or ``None`` if ``event_shape`` is ``None`` and ``optional``.

    Raises:
        TypeError: an entry is not an int.
        ValueError: a non-positive entry, no dimension at all, or ``None`` where a shape is required.
    """
    if event_shape is None:
        if optional:
            return None
        raise ValueError(f"{name} is required: the shape of one data point, e.g. (2,) or (1, 8, 8)")
    if isinstance(event_shape, int):
        event_shape = (event_shape,)
    shape = tuple(check_positive_int(s, f"{name} entry") for s in event_shape)
    if not shape:
        raise ValueError(f"{name} must have at least one dimension, e.g. (2,)")
    return shape


def check_batch(x, event_shape: Sequence[int] | None, name: str = "x") -> torch.Tensor:
    """Check a batch of data points ``(N, *event_shape)`` and return its flat ``(N, D)`` view.

    Args:
        x: the batch.
        event_shape: the shape of one data point, or ``None`` to accept any batch ``(N, ...)``.
        name: the argument's name, used in the error message.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``x`` is empty, not a batch (fewer than 2 dimensions when ``event_shape`` is
            ``None``), or its points do not have ``event_shape``; the message says how to reshape.
    """
    check_tensor(x, name)
    if event_shape is None:
        if x.dim() < 2:
            raise ValueError(f"{name} must be a batch (N, ...), got shape {shape_str(x.shape)}: "
                             f"use {name}.reshape(1, -1) for one data point")
    elif tuple(x.shape[1:]) != tuple(event_shape) or x.dim() != 1 + len(event_shape):
        dims = ", ".join(str(s) for s in event_shape)
        raise ValueError(f"{name} must have shape (N, {dims}), got {shape_str(x.shape)}: use {name}.reshape(-1, {dims})")
    return x.reshape(len(x), -1)


def check_finite(*named: tuple[str, torch.Tensor]) -> None:
    """Raise a ValueError naming the first of the ``(name, tensor)`` pairs holding NaN or infinite
    values (one host synchronisation when the tensors share a device). Metrics call it at the door:
    a NaN would otherwise come out as ``nan`` or, worse, as a plausible number."""
    flags = [torch.isfinite(t).all() for _, t in named]
    if len({f.device for f in flags}) == 1:
        ok = torch.stack(flags).tolist()
    else:
        ok = [bool(f) for f in flags]
    for (name, t), fine in zip(named, ok):
        if not fine:
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name} contains NaN or infinite values ({bad} of {t.numel()} entries): metrics need "
                             f"finite inputs; drop them first, e.g. {name}[torch.isfinite({name}).flatten(1).all(1)]")


def check_betas(betas, name: str = "betas") -> tuple[float, float]:
    """Check Adam's ``betas``: a pair ``(beta1, beta2)`` of numbers in [0, 1); return it as a tuple of floats.

    Raises:
        TypeError: not a pair (a single number, a string), or entries that are not numbers.
        ValueError: not two entries, or an entry outside [0, 1) (NaN included).
    """
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Iterable):
        raise TypeError(f"{name} must be a pair (beta1, beta2) of numbers in [0, 1), e.g. (0.5, 0.999); "
                        f"got {type(betas).__name__} ({betas!r})")
    betas = tuple(betas)
    if len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {len(betas)} value{'s' if len(betas) != 1 else ''}: "
                         "pass e.g. (0.5, 0.999)")
    for b in betas:
        if isinstance(b, bool) or not isinstance(b, (int, float)):
            raise TypeError(f"{name} must hold numbers, got {type(b).__name__} ({b!r}): pass e.g. (0.5, 0.999)")
    if not all(0 <= b < 1 for b in betas):
        raise ValueError(f"{name} must be two numbers in [0, 1), got {tuple(float(b) for b in betas)}: "
                         "Adam's decay rates, e.g. (0.5, 0.999)")
    return float(betas[0]), float(betas[1])


#: slack for pixels that rounding put just outside [-1, 1]
PIXEL_SLACK = 1e-3


def check_pixel_range(x: torch.Tensor, name: str = "images") -> None:
    """Raise a ValueError if the images ``x`` have NaN/Inf values or pixels outside [-1, 1] (every
    igmlib image model, net and image metric works in [-1, 1]; 0-255 or [0, 2] images would be
    scored or trained on silently). One host synchronisation: call it once, at the door.

    Raises:
        ValueError: NaN or infinite pixels, or pixels outside [-1, 1]; the message says how to rescale.
    """
    lo, hi = torch.aminmax(x.detach())
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        check_finite((name, x))
    if lo < -1 - PIXEL_SLACK or hi > 1 + PIXEL_SLACK:
        raise ValueError(f"{name} must have pixel values in [-1, 1], got values in [{lo:.4g}, {hi:.4g}]: rescale them, "
                         f"e.g. x / 127.5 - 1 for 0-255 pixels, 2 * x - 1 for [0, 1] pixels (x.clamp(-1, 1) for samples "
                         "with observation noise)")


def check_path(path, name: str, *, file: bool = True):
    """Check that ``path`` is a file path (``str`` or ``os.PathLike``) and, with ``file``, not an existing folder.

    Raises:
        TypeError: ``path`` is not a ``str`` or ``os.PathLike`` (e.g. an int or bytes).
        ValueError: ``path`` names an existing directory.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {type(path).__name__} ({path!r})")
    if file and os.path.isdir(path):
        raise ValueError(f"{name} {os.fspath(path)!r} is a directory: pass a file path, e.g. "
                         f"{os.path.join(os.fspath(path), 'run.pt')!r}")
    return path
