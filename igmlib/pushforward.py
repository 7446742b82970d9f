"""The density of a 1-D push-forward ``y = f(x)``, ``x ~ p_x``, by the change of variables.

For a differentiable ``f: R -> R`` the density of ``y = f(x)`` sums over every preimage of ``y``::

    p_y(y) = sum_{x : f(x) = y} p_x(x) / |f'(x)|

:func:`pushforward_density` evaluates this numerically for any elementwise torch function (a
small network included): it tabulates ``f`` on a fine grid of ``x``, finds every grid segment on
which ``f(x) - y`` changes sign, places the root by linear interpolation inside that segment, takes
``f'`` at the root by autograd and sums ``p_x / |f'|`` over the roots. This works only in one
dimension: in ``d`` dimensions the set of preimages cannot be tabulated (the reason implicit
models have no tractable density).

:func:`one_layer_network` builds the small scalar networks ``y = sum_j a_j act(w_j x + b_j)``
that the book's first chapter and :mod:`igmlib.book.widgets` push a Gaussian through.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributions as D

from ._validation import check_positive_int, check_tensor, shape_str
from .nets import make_activation


def _base_range(base: D.Distribution, tail: float = 1e-9) -> tuple[float, float]:
    """An x-range holding all but ``2 * tail`` of the base's mass, clipped to its support."""
    dist = base.base_dist if isinstance(base, D.Independent) else base
    try:
        q = dist.icdf(torch.tensor([tail, 1.0 - tail], dtype=torch.float64)).reshape(-1)
        lo, hi = float(q[0]), float(q[-1])
    except (NotImplementedError, AttributeError, ValueError, RuntimeError):
        try:
            mean, std = float(base.mean.reshape(-1)[0]), float(base.stddev.reshape(-1)[0])
        except (NotImplementedError, AttributeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"cannot choose an x-range for {type(base).__name__} (no icdf, mean or stddev): "
                "pass x_range=(low, high) covering the base distribution's mass"
            ) from err
        lo, hi = mean - 12.0 * std, mean + 12.0 * std
    support = dist.support
    lower = getattr(support, "lower_bound", None)
    upper = getattr(support, "upper_bound", None)
    if lower is not None:
        lo = max(lo, float(lower))
    if upper is not None:
        hi = min(hi, float(upper))
    if not (lo < hi) or lo != lo or hi != hi or abs(lo) == float("inf") or abs(hi) == float("inf"):
        raise ValueError(
            f"cannot choose a finite x-range for {type(base).__name__} (got ({lo}, {hi})): "
            "pass x_range=(low, high)"
        )
    return lo, hi


def _check_base(base) -> None:
    if not isinstance(base, D.Distribution):
        raise TypeError(
            f"base must be a torch.distributions.Distribution, got {type(base).__name__}: "
            "e.g. torch.distributions.Normal(0.0, 1.0)"
        )
    if tuple(base.batch_shape) != () or tuple(base.event_shape) not in ((), (1,)):
        raise ValueError(
            "base must be a single 1-D distribution (batch_shape (), event_shape () or (1,)), got "
            f"batch_shape {shape_str(base.batch_shape)} and event_shape {shape_str(base.event_shape)}"
        )


def _base_density(base: D.Distribution, x: torch.Tensor) -> torch.Tensor:
    """``p_x(x)`` for points ``x`` of shape ``(K,)``; zero outside the base's support."""
    inside = base.support.check(x[:, None] if base.event_shape == (1,) else x)
    if base.event_shape == (1,) and inside.dim() == 2:
        inside = inside[:, 0]
    p = torch.zeros_like(x)
    if inside.any():
        xs = x[inside]
        p[inside] = base.log_prob(xs[:, None] if base.event_shape == (1,) else xs).exp().to(x.dtype)
    return p


def _values_and_slopes(
    f: Callable, x: torch.Tensor, *, slopes: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``f(x)`` and (if ``slopes``) ``f'(x)`` by autograd, for an elementwise ``f`` on ``x`` of shape ``(K,)``."""
    x = x.detach().requires_grad_(slopes)
    with torch.set_grad_enabled(slopes):
        fx = f(x)
        if not isinstance(fx, torch.Tensor):
            raise TypeError(f"f must return a torch.Tensor, got {type(fx).__name__}")
        if fx.shape != x.shape:
            if fx.dim() == 2 and fx.shape == (x.shape[0], 1):
                fx = fx[:, 0]
            else:
                raise ValueError(
                    f"f must map a tensor of shape {shape_str(x.shape)} elementwise to the same shape, "
                    f"got {shape_str(fx.shape)}: for a network on (N, 1) pass lambda x: net(x[:, None])[:, 0]"
                )
        slope = None
        if slopes:
            if not fx.requires_grad:
                raise ValueError(
                    "f(x) does not depend differentiably on x (no autograd graph): f must be built from "
                    "differentiable torch operations, without .detach() or torch.no_grad()"
                )
            (slope,) = torch.autograd.grad(fx.sum(), x, allow_unused=True)
            if slope is None:
                raise ValueError("f(x) does not depend on x: its derivative is undefined")
            slope = slope.detach()
    fx = fx.detach()
    finite = torch.isfinite(fx) if slope is None else torch.isfinite(fx) & torch.isfinite(slope)
    if not finite.all():
        bad = x.detach()[~finite]
        raise ValueError(
            f"f or its derivative is not finite at {bad.numel()} point(s) (first x = {float(bad[0]):.4g}): "
            "restrict x_range to where f is defined"
        )
    return fx, slope


def pushforward_density(
    f: Callable[[torch.Tensor], torch.Tensor],
    base: D.Distribution,
    y: torch.Tensor,
    *,
    x_range: tuple[float, float] | None = None,
    points: int = 20001,
) -> torch.Tensor:
    """Density of ``y = f(x)``, ``x ~ base``, summed over all preimages (change of variables).

    ``p_y(y) = sum_{x: f(x) = y} p_x(x) / |f'(x)|``, evaluated numerically: ``f`` is tabulated on
    ``points`` equally spaced ``x`` in ``x_range``; for every ``y`` each grid segment
    ``[x_j, x_{j+1})`` whose values bracket ``y`` holds one root, placed by linear interpolation;
    ``f'`` at the root comes from autograd. Roots outside ``x_range`` are missed (their mass is
    lost), and near a critical value of ``f`` (where ``f' = 0``) the density is infinite and its
    numerical value large and grid-dependent.

    Args:
        f: an elementwise differentiable torch function ``R -> R``: called on a tensor of shape
            ``(M,)`` it returns shape ``(M,)`` (or ``(M, 1)``). For a network ``net`` on ``(N, 1)``
            pass ``lambda x: net(x[:, None])[:, 0]``.
        base: the distribution of ``x``, a torch Distribution with ``batch_shape ()`` and
            ``event_shape ()`` or ``(1,)`` (e.g. ``Normal(0., 1.)``).
        y: points where the density is wanted; any shape, floating point. The ``x`` grid takes
            ``y``'s dtype and device (so ``f`` must accept them: use float64 for accuracy).
        x_range: ``(low, high)`` of the ``x`` grid. Default: the base's quantiles ``1e-9`` and
            ``1 - 1e-9`` (from ``icdf``; else mean +- 12 standard deviations), clipped to its support;
            heavy-tailed bases (Cauchy) need an explicit, narrower range.
        points: number of grid points (at least 3). The root error shrinks as ``points ** -2``.

    Shapes:
        ``y``: any shape ``S``; returns shape ``S``.

    Returns:
        The density ``p_y(y)`` (per unit of ``y``; 0 where ``y`` has no preimage in ``x_range``),
        without gradients.

    Raises:
        TypeError: ``f`` not callable or not returning a tensor; ``base`` not a Distribution;
            ``y`` not a floating-point tensor; ``points`` not an int.
        ValueError: ``base`` not 1-D; ``y`` empty or not finite; a bad ``x_range``; ``points < 3``;
            ``f`` not elementwise-shaped, not differentiable, or not finite on the grid.

    References:
        L. Devroye, *Non-Uniform Random Variate Generation*, Springer 1986, chapter I.4
        (Theorem 4.1: the density of a monotone transformation; sum over monotone pieces).
    """
    if not callable(f):
        raise TypeError(f"f must be callable (a function or nn.Module on x of shape (M,)), got {type(f).__name__}")
    _check_base(base)
    check_tensor(y, "y")
    if not torch.isfinite(y).all():
        raise ValueError("y must be finite: drop NaN/Inf values before asking for their density")
    check_positive_int(points, "points")
    if points < 3:
        raise ValueError(f"points must be >= 3, got {points}: use thousands for an accurate density")
    if x_range is None:
        lo, hi = _base_range(base)
    else:
        try:
            lo, hi = (float(v) for v in x_range)
        except (TypeError, ValueError) as err:
            raise ValueError(f"x_range must be a pair of numbers (low, high), got {x_range!r}") from err
        if not (lo < hi) or abs(lo) == float("inf") or abs(hi) == float("inf"):
            raise ValueError(f"x_range must be finite with low < high, got ({lo}, {hi})")

    x = torch.linspace(lo, hi, points, dtype=y.dtype, device=y.device)  # (M,)
    fx, _ = _values_and_slopes(f, x, slopes=False)  # the grid needs values only
    f0, f1 = fx[:-1], fx[1:]  # (M-1,) segment end values
    seg_lo, seg_hi = torch.minimum(f0, f1), torch.maximum(f0, f1)

    yf = y.detach().reshape(-1)  # (Y,)
    # Segment j brackets y iff seg_lo_j <= y < seg_hi_j (half-open: a y equal to a shared grid value
    # is counted in one segment only). With y sorted, the y's it brackets are one contiguous run.
    y_sorted, order = torch.sort(yf)
    first = torch.searchsorted(y_sorted, seg_lo)  # (M-1,) first sorted y >= seg_lo
    stop = torch.searchsorted(y_sorted, seg_hi)  # (M-1,) first sorted y >= seg_hi
    counts = stop - first  # roots contributed by each segment
    cols = torch.repeat_interleave(torch.arange(points - 1, device=y.device), counts)  # (K,) segment of each root
    offsets = torch.cumsum(counts, 0) - counts  # (M-1,) where each segment's run starts among the K roots
    rows = order[first[cols] + torch.arange(cols.numel(), device=y.device) - offsets[cols]]  # (K,) y index

    density = torch.zeros_like(yf)
    if rows.numel():
        t = (yf[rows] - f0[cols]) / (f1[cols] - f0[cols])  # in [0, 1)
        roots = x[cols] + t * (x[cols + 1] - x[cols])  # (K,)
        _, slope = _values_and_slopes(f, roots)
        contrib = _base_density(base, roots) / slope.abs()
        density.index_add_(0, rows, contrib)
    return density.reshape(y.shape)


def one_layer_network(a, w, b, *, activation: str = "tanh") -> Callable[[torch.Tensor], torch.Tensor]:
    """The scalar network ``x -> sum_j a_j act(w_j x + b_j)`` as an elementwise function.

    Args:
        a: output weights, shape ``(H,)`` (numbers, a list or a tensor).
        w: input weights, shape ``(H,)``.
        b: hidden biases, shape ``(H,)``.
        activation: a name of :data:`igmlib.nets.ACTIVATIONS` (``tanh``, ``relu``, ``softplus``, ...).

    Shapes:
        the returned function maps ``x`` of any shape to the same shape.

    Returns:
        A function usable as ``f`` in :func:`pushforward_density`; it follows ``x``'s dtype and device.

    Raises:
        ValueError: ``a``, ``w``, ``b`` not 1-D of one length; unknown ``activation``.
    """
    act = make_activation(activation)  # elementwise, no parameters
    params = [torch.as_tensor(v, dtype=torch.float64).reshape(-1) if not isinstance(v, torch.Tensor) else v.detach()
              for v in (a, w, b)]
    if len({p.numel() for p in params}) != 1 or any(p.dim() != 1 for p in params):
        raise ValueError(
            "a, w and b must be 1-D with one length (the hidden width), got shapes "
            + ", ".join(shape_str(p.shape) for p in params)
        )
    a, w, b = params

    def network(x: torch.Tensor) -> torch.Tensor:
        aa, ww, bb = (p.to(x.device, x.dtype) for p in (a, w, b))
        return (aa * act(ww * x[..., None] + bb)).sum(-1)

    return network
