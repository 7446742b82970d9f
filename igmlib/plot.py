"""Plot helpers. Each takes ``ax=None`` (a new figure if None), returns the Axes, and never
changes global matplotlib state (no ``rcParams``, no ``plt.style``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch

from ._validation import check_tensor


def _axes(ax, figsize=(4.5, 4.5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def samples(data=None, model=None, *, ax=None, labels=("data", "model"), s: float = 3, alpha: float = 0.4, title=None):
    """Scatter 2-D data samples and model samples, each ``(N, 2)``, on equal axes."""
    ax = _axes(ax)
    for x, label, colour in ((data, labels[0], "tab:blue"), (model, labels[1], "tab:orange")):
        if x is None:
            continue
        x = _np(check_tensor(torch.as_tensor(x), label, ndim=2, last_dim=2))
        ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color=colour, label=label, linewidths=0)
    ax.set_aspect("equal")
    if data is not None and model is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def density(dist=None, samples=None, *, range=None, bins: int = 60, ax=None, label="density", sample_label="samples", points: int = 400):
    """A 1-D density curve (from ``dist.log_prob``) over a histogram of 1-D samples.

    Args:
        dist: a distribution with 1-D events (``log_prob`` on ``(M, 1)``) or scalar events, or None.
        samples: shape ``(N,)`` or ``(N, 1)``, or None.
        range: ``(low, high)`` of the plot; default from the samples or the distribution.
    """
    ax = _axes(ax, figsize=(5, 3.2))
    if range is None:
        ref = _np(samples).reshape(-1) if samples is not None else _np(dist.sample((5000,))).reshape(-1)
        lo, hi = np.quantile(ref, [0.001, 0.999])
        pad = 0.1 * (hi - lo)
        range = (lo - pad, hi + pad)
    if samples is not None:
        ax.hist(_np(samples).reshape(-1), bins=bins, range=range, density=True, alpha=0.5, color="tab:orange", label=sample_label)
    if dist is not None:
        grid = torch.linspace(float(range[0]), float(range[1]), points)
        x = grid[:, None] if len(dist.event_shape) == 1 else grid
        with torch.no_grad():
            try:  # the density is 0 outside the support (log_prob would raise there)
                inside = dist.support.check(x)
            except NotImplementedError:
                inside = torch.ones(points, dtype=torch.bool)
            pdf = torch.zeros(points)
            pdf[inside] = dist.log_prob(x[inside]).exp().float()
        ax.plot(grid.numpy(), _np(pdf), color="tab:blue", label=label)
    ax.set_xlim(*range)
    ax.legend(fontsize="small")
    return ax


def image_grid(images: torch.Tensor, *, nrow: int | None = None, ax=None, title=None, cmap="gray"):
    """Tile images ``(N, C, H, W)`` with pixels in [-1, 1] into one picture (1 px white gaps)."""
    images = check_tensor(images, "images", ndim=4)
    x = (_np(images).clip(-1, 1) + 1) / 2  # [0, 1]
    n, c, h, w = x.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    canvas = np.ones((ncol * (h + 1) + 1, nrow * (w + 1) + 1, c))
    for i in np.arange(n):
        r, q = divmod(i, nrow)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = x[i].transpose(1, 2, 0)
    ax = _axes(ax, figsize=(4, 4 * canvas.shape[0] / canvas.shape[1]))
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap=cmap if c == 1 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def history(hist: dict[str, Sequence[float]], keys: Sequence[str] | None = None, *, ax=None, smooth: int = 1, title=None):
    """Plot losses per step from :func:`igmlib.fit`'s history, with an optional moving average."""
    ax = _axes(ax, figsize=(5, 3.2))
    keys = list(keys) if keys is not None else list(hist)
    missing = [k for k in keys if k not in hist]
    if missing:
        raise ValueError(f"keys {missing} not in the history; it has: {', '.join(hist)}")
    for key in keys:
        y = np.asarray(hist[key], dtype=float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(1, len(y) + 1) + (smooth - 1 if smooth > 1 else 0), y, label=key, lw=1)
    ax.set_xlabel("step")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def animation(snapshots, data=None, *, interval: int = 150, lim=None, figsize=(4, 4)):
    """An animation of training from :class:`igmlib.train.Snapshots`, playable in static HTML.

    2-D snapshots ``(n, 2)`` are scattered over ``data`` samples; image snapshots ``(n, C, H, W)``
    are tiled with :func:`image_grid`.

    Returns:
        ``IPython.display.HTML`` with a JavaScript player (no server needed).
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    if not snapshots.samples:
        raise ValueError("snapshots is empty: pass it to fit(..., callbacks=[snapshots]) first")
    fig, ax = plt.subplots(figsize=figsize)
    images = snapshots.samples[0].dim() == 4
    if lim is None and not images:
        ref = _np(data) if data is not None else _np(snapshots.samples[-1])
        m = float(np.abs(ref).max()) * 1.15
        lim = (-m, m)

    def draw(i):
        ax.clear()
        if images:
            image_grid(snapshots.samples[i], ax=ax)
        else:
            samples(data, snapshots.samples[i], ax=ax)
            ax.set_xlim(*lim)
            ax.set_ylim(*lim)
        ax.set_title(f"step {snapshots.steps[i]}")
        return ()

    anim = FuncAnimation(fig, draw, frames=len(snapshots.samples), interval=interval, blit=False)
    html = HTML(_offline_player(anim.to_jshtml(default_mode="once")))
    plt.close(fig)
    return html


# matplotlib's player loads Font Awesome from a CDN for its button icons: use Unicode symbols
# instead, so the animation plays offline and its page makes no external request
_PLAYER_ICONS = {
    "fa fa-minus": "&#8722;", "fa fa-fast-backward": "&#9198;", "fa fa-step-backward": "&#9664;&#124;",
    "fa fa-play fa-flip-horizontal": "&#9664;", "fa fa-pause": "&#9208;", "fa fa-play": "&#9654;",
    "fa fa-step-forward": "&#124;&#9654;", "fa fa-fast-forward": "&#9197;", "fa fa-plus": "+",
}


def _offline_player(html: str) -> str:
    html = re.sub(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html)
    for icon, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    return html
