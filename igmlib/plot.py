"""Plot helpers. Each takes ``ax=None`` (a new figure if None), returns the Axes, and never
changes global matplotlib state (no ``rcParams``, no ``plt.style``).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ._validation import check_choice, check_positive_int, check_tensor


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
        bins: histogram bins, an int >= 1; points: curve points, an int >= 1.

    Raises:
        ValueError: ``bins`` or ``points`` not a positive int.
    """
    bins = check_positive_int(bins, "bins")
    points = check_positive_int(points, "points")
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


#: image_grid clips noisy samples to [-1, 1] but refuses pixels beyond this (another scale, e.g. 0-255)
_PIXEL_LIMIT = 10.0


def image_grid(images: torch.Tensor, *, nrow: int | None = None, ax=None, title=None, cmap="gray"):
    """Tile images ``(N, C, H, W)`` with pixels in [-1, 1] into one picture (1 px white gaps).

    Pixels a little outside [-1, 1] (samples with observation noise) are clipped; ``nrow`` images
    per row (default: a square).

    Raises:
        ValueError: not 4-D; ``nrow`` not a positive int; pixels beyond +-10, i.e. images on another
            scale such as 0-255 (rescale with ``x / 127.5 - 1``).
    """
    images = check_tensor(images, "images", ndim=4)
    if nrow is not None:
        nrow = check_positive_int(nrow, "nrow")
    peak = float(images.detach().abs().max()) if images.numel() else 0.0
    if peak > _PIXEL_LIMIT:
        raise ValueError(f"images must have pixels in [-1, 1], got values up to {peak:.4g} in absolute value: "
                         "rescale them, e.g. x / 127.5 - 1 for 0-255 pixels, 2 * x - 1 for [0, 1] pixels")
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
    """Plot losses per step from :func:`igmlib.fit`'s history, with an optional moving average.

    Args:
        hist: ``{name: values per step}``, e.g. ``igm.fit(...)``'s return value.
        keys: the names to plot (default: all).
        smooth: the moving-average window in steps, an int >= 1 (1: no smoothing).

    Raises:
        TypeError: ``hist`` not a mapping.
        ValueError: ``smooth`` not a positive int; a key not in ``hist``.
    """
    if not isinstance(hist, Mapping):
        raise TypeError(f"hist must be a mapping {{name: values per step}} such as igm.fit(...)'s return value, "
                        f"got {type(hist).__name__}")
    smooth = check_positive_int(smooth, "smooth")
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


def animation(snapshots, data=None, *, interval: int = 150, lim=None, figsize=(4, 4), dpi: int = 72):
    """An animation of training from :class:`igmlib.train.Snapshots`, playable in static HTML.

    2-D snapshots ``(n, 2)`` are scattered over ``data`` samples; image snapshots ``(n, C, H, W)``
    are tiled with :func:`image_grid`. One PNG frame per snapshot, shown by :func:`player` (a step
    slider with play controls, no server needed).

    Args:
        snapshots: a filled :class:`igmlib.Snapshots`.
        data: data samples ``(N, 2)`` drawn under 2-D snapshots (optional).
        interval: milliseconds per frame when playing.
        lim: ``(low, high)`` of both axes for 2-D snapshots (default: from ``data``).
        figsize, dpi: size of each frame.

    Returns:
        ``IPython.display.HTML`` with the frames and a JavaScript player.

    Raises:
        ValueError: ``snapshots`` is empty.
    """
    import matplotlib.pyplot as plt

    if not snapshots.samples:
        raise ValueError("snapshots is empty: pass it to fit(..., callbacks=[snapshots]) first")
    images = snapshots.samples[0].dim() == 4
    if lim is None and not images:
        ref = _np(data) if data is not None else _np(snapshots.samples[-1])
        m = float(np.abs(ref).max()) * 1.15
        lim = (-m, m)
    index = {step: i for i, step in enumerate(snapshots.steps)}

    def draw(step):
        fig, ax = plt.subplots(figsize=figsize)
        i = index[step]
        if images:
            image_grid(snapshots.samples[i], ax=ax)
        else:
            samples(data, snapshots.samples[i], ax=ax)
            ax.set_xlim(*lim)
            ax.set_ylim(*lim)
        ax.set_title(f"step {step}")
        return fig

    return player(draw, {"step": list(snapshots.steps)}, interval=interval, dpi=dpi, max_frames=len(index))


# ------------------------------------------------------------------ the static player
# Icons are inline SVG (no icon font, no Unicode glyph that a browser may lack); nothing is fetched.
_ICONS = {
    "first": "M2 3h2v10H2zM9 3v10L4 8zM15 3v10l-5-5z", "back": "M11 3v10L4 8zM12 3h2v10h-2z",
    "play": "M4 2.5v11L13 8z", "pause": "M4 3h3v10H4zM9 3h3v10H9z",
    "forward": "M5 3v10l7-5zM2 3h2v10H2z", "last": "M1 3v10l5-5zM7 3v10l5-5zM12 3h2v10h-2z",
}
_STYLE = ("<style>.igm-player button{display:inline-flex;align-items:center;justify-content:center;"
          "width:30px;height:26px;margin:0 2px;padding:0;border:1px solid #999;border-radius:4px;"
          "background:#f4f4f4;color:#222;cursor:pointer}.igm-player label{margin-right:14px;"
          "font-size:0.85em;white-space:nowrap}.igm-player input[type=range]{vertical-align:middle}"
          ".igm-player img{max-width:100%;display:block}</style>")
_SCRIPT = """<script>(function () {
  var root = document.getElementById(%(id)s), frames = %(frames)s, labels = %(labels)s;
  var img = root.querySelector("img"), icons = %(icons)s, timer = null;
  var ctrls = root.querySelectorAll("[data-igm-param]"), outs = root.querySelectorAll("output");
  function show() {
    var i = 0;
    for (var k = 0; k < ctrls.length; k++) {
      i = i * labels[k].length + Number(ctrls[k].value);
      if (outs[k]) outs[k].textContent = labels[k][Number(ctrls[k].value)];
    }
    img.src = "data:image/png;base64," + frames[i];
  }
  ctrls.forEach(function (c) { c.addEventListener("input", show); c.addEventListener("change", show); });
  var play = root.querySelector("[data-igm=play]");
  if (!play) return;
  var n = labels[0].length, s = ctrls[0];
  function go(k) { s.value = Math.max(0, Math.min(n - 1, k)); show(); }
  function stop() { clearInterval(timer); timer = null; play.innerHTML = icons.play; play.title = "play"; }
  var moves = {first: function () { return 0; }, back: function () { return Number(s.value) - 1; },
               forward: function () { return Number(s.value) + 1; }, last: function () { return n - 1; }};
  Object.keys(moves).forEach(function (name) {
    root.querySelector("[data-igm=" + name + "]").addEventListener("click", function () { stop(); go(moves[name]()); });
  });
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    if (Number(s.value) >= n - 1) go(0);
    play.innerHTML = icons.pause; play.title = "pause";
    timer = setInterval(function () { if (Number(s.value) >= n - 1) stop(); else go(Number(s.value) + 1); }, %(interval)d);
  });
})();</script>"""
_players = itertools.count()


def _svg(name: str) -> str:
    return (f'<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">'
            f'<path d="{_ICONS[name]}" fill="currentColor"/></svg>')


def _png(fig, dpi: int) -> str:
    """``fig`` as a base64 PNG with at most 256 colours (a quarter of the bytes of full colour)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    out = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors=256).save(out, format="PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def _check_params(params, max_frames: int) -> dict[str, list]:
    if not isinstance(params, dict) or not params:
        raise ValueError(f"params must be a non-empty dict {{name: values}}, got {params!r}")
    out = {}
    for name, values in params.items():
        if not isinstance(name, str) or not name or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"params must map names (str) to sequences of values, got {name!r}: {values!r}")
        out[name] = list(values)
        if not out[name]:
            raise ValueError(f"parameter {name!r} has no values: give it at least one")
    if (n := math.prod(len(v) for v in out.values())) > max_frames:
        sizes = " x ".join(str(len(v)) for v in out.values())
        raise ValueError(f"params give {sizes} = {n} frames, more than max_frames={max_frames}: use fewer values")
    return out


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _control(k: int, name: str, values: list, control: str) -> str:
    labels = [html.escape(_label(v)) for v in values]
    if control == "slider" or control == "auto" and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return (f'<label>{html.escape(name)} <input type="range" data-igm-param="{k}" min="0" max="{len(values) - 1}"'
                f' step="1" value="0" aria-label="{html.escape(name)}"> <output>{labels[0]}</output></label>')
    options = "".join(f'<option value="{i}">{label}</option>' for i, label in enumerate(labels))
    return f'<label>{html.escape(name)} <select data-igm-param="{k}">{options}</select></label>'


def player(draw, params: dict, *, control: str = "auto", interval: int = 200, dpi: int = 72, max_frames: int = 120):
    """A figure over a grid of settings that responds without a kernel (static HTML, Jupyter, Colab).

    ``draw`` is called once per combination of the parameter values; each figure becomes a PNG
    frame (256 colours, base64) in the page. Each parameter gets a slider or a select; a single parameter also gets first / back / play-pause / forward / last
    buttons with inline SVG icons. Inline JavaScript swaps the frames: nothing is fetched.

    Args:
        draw: ``draw(**values) -> matplotlib.figure.Figure``, one keyword per parameter; the player
            closes each figure after saving it.
        params: ``{name: values}``, each a non-empty sequence; frames are the product of the values
            in this order (the last parameter varies fastest).
        control: ``"slider"``, ``"select"`` or ``"auto"`` (a slider for numeric values, else a select).
        interval: milliseconds per frame when playing.
        dpi: resolution of the frames.
        max_frames: the largest product of the parameters' sizes accepted.

    Returns:
        ``IPython.display.HTML`` (display it, or leave it last in a cell).

    Raises:
        ValueError: ``params`` is not a non-empty dict of non-empty sequences, it gives more than
            ``max_frames`` frames, or ``control`` is unknown.
        TypeError: ``draw`` does not return a matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.figure import Figure

    params = _check_params(params, max_frames)
    check_choice(control, "control", ("auto", "slider", "select"))
    frames = []
    for combo in itertools.product(*params.values()):
        fig = draw(**dict(zip(params, combo)))
        if not isinstance(fig, Figure):
            raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
        frames.append(_png(fig, dpi))
        plt.close(fig)
    uid = f"igm-player-{next(_players)}-{hashlib.sha1(''.join(frames).encode()).hexdigest()[:8]}"
    controls = "".join(_control(k, name, values, control) for k, (name, values) in enumerate(params.items()))
    if len(params) == 1:
        controls += "<span>" + "".join(f'<button type="button" data-igm="{b}" title="{b}">{_svg(b)}</button>'
                                       for b in ("first", "back", "play", "forward", "last")) + "</span>"
    script = _SCRIPT % {
        "id": json.dumps(uid), "frames": json.dumps(frames), "interval": interval,
        "labels": json.dumps([[_label(v) for v in values] for values in params.values()]).replace("</", "<\\/"),
        "icons": json.dumps({"play": _svg("play"), "pause": _svg("pause")}),
    }
    return HTML(f'<div class="igm-player" id="{uid}">{_STYLE}<img alt="figure" src="data:image/png;base64,{frames[0]}">'
                f'<div style="margin-top:4px">{controls}</div>{script}</div>')
