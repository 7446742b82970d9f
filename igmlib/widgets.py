"""Interactive figures (ipywidgets front-ends) for the book.

``ipywidgets`` is in the ``[book]`` extra only: it is imported inside the functions that need it,
and ``igmlib`` itself imports this module only when ``igm.widgets`` is first used. Sliders need a
live kernel (Jupyter, Colab); in the static HTML book they do nothing, so each widget has a plain
plotting function beside it (here :func:`plot_network_density`) for a static grid of settings.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.distributions as D

from ._validation import check_choice, check_positive_int
from .pushforward import ACTIVATIONS, one_layer_network, pushforward_density


def _default_base(base):
    if base is None:
        return D.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    return base


def _fmt(values) -> str:
    return "[" + ", ".join(f"{float(t):.2g}" for t in torch.as_tensor(values).reshape(-1)) + "]"


def plot_network_density(
    a,
    w,
    b,
    *,
    base: D.Distribution | None = None,
    activation: str = "tanh",
    samples: int = 20000,
    seed: int = 0,
    points: int = 4001,
    y_points: int = 600,
    ax=None,
    title: str | None = None,
):
    """Histogram of ``y = sum_j a_j act(w_j x + b_j)``, ``x ~ base``, under its exact density.

    The density comes from :func:`igmlib.pushforward.pushforward_density`; the histogram from
    ``samples`` draws of ``x`` (seeded, the global random state is untouched).

    Args:
        a, w, b: the network's output weights, input weights and biases, each ``(H,)``.
        base: the distribution of ``x`` (scalar or ``(1,)`` events); default ``N(0, 1)``.
        activation: one of :data:`igmlib.pushforward.ACTIVATIONS`.
        samples: number of samples in the histogram.
        seed: seed of the samples.
        points: x-grid size for the density.
        y_points: number of ``y`` where the density is drawn.
        ax: Axes to draw on (a new figure if None).
        title: Axes title (default: the weights).

    Returns:
        The matplotlib Axes.

    Raises:
        TypeError / ValueError: as :func:`pushforward_density` and :func:`one_layer_network`.
    """
    import matplotlib.pyplot as plt

    base = _default_base(base)
    check_positive_int(samples, "samples")
    check_positive_int(y_points, "y_points")
    f = one_layer_network(a, w, b, activation=activation)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):  # seeded, global RNG state untouched
        torch.manual_seed(seed)
        x = base.sample((samples,)).reshape(-1).to("cpu", torch.float64)
        ys = f(x)
    lo, hi = np.quantile(ys.numpy(), [0.0005, 0.9995])
    pad = 0.08 * (hi - lo) + 1e-3
    lo, hi = lo - pad, hi + pad
    y = torch.linspace(lo, hi, y_points, dtype=torch.float64)
    density = pushforward_density(f, base, y, points=points)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    heights, _, _ = ax.hist(
        ys.numpy(), bins=80, range=(lo, hi), density=True, alpha=0.45, color="tab:orange", label="samples"
    )
    ax.plot(y.numpy(), density.numpy(), color="tab:blue", lw=1.3, label="density (change of variables)")
    # spikes at critical values are infinite: keep the histogram readable
    ax.set_ylim(0, 1.3 * max(float(np.max(heights)), 1e-3))
    ax.set_xlim(lo, hi)
    ax.set_xlabel("y")
    if title is None:
        title = f"a={_fmt(a)} w={_fmt(w)} b={_fmt(b)}"
    ax.set_title(title, fontsize="small")
    return ax


def weight_slider_density(
    base: D.Distribution | None = None,
    *,
    hidden: int = 2,
    activation: str = "tanh",
    weight_range: tuple[float, float] = (-3.0, 3.0),
    seed: int = 0,
    samples: int = 20000,
    points: int = 4001,
):
    """Sliders over the weights of ``y = sum_j a_j act(w_j x + b_j)`` showing the density of ``y``.

    One slider per weight (``a_j``, ``w_j``, ``b_j`` for ``j < hidden``); each change redraws
    :func:`plot_network_density`. Sliders start at seeded random weights.

    Args:
        base: the distribution of ``x`` (scalar or ``(1,)`` events); default ``N(0, 1)``.
        hidden: the hidden width ``H``.
        activation: one of :data:`igmlib.pushforward.ACTIVATIONS` (``tanh`` by default).
        weight_range: ``(low, high)`` of every slider.
        seed: seed of the starting weights and of the histogram's samples.
        samples: number of samples in the histogram.
        points: x-grid size for the density.

    Returns:
        An ``ipywidgets.interactive`` widget (display it, or leave it last in a cell).

    Raises:
        ImportError: ipywidgets is not installed (``pip install "igmlib[book]"``).
        TypeError / ValueError: bad ``hidden``, ``activation`` or ``weight_range``.
    """
    try:
        import ipywidgets as widgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("weight_slider_density needs ipywidgets: pip install ipywidgets (or igmlib[book])") from err
    import matplotlib.pyplot as plt

    check_positive_int(hidden, "hidden")
    check_choice(activation, "activation", ACTIVATIONS)
    try:
        lo, hi = (float(v) for v in weight_range)
    except (TypeError, ValueError) as err:
        raise ValueError(f"weight_range must be a pair (low, high), got {weight_range!r}") from err
    if not lo < hi:
        raise ValueError(f"weight_range must have low < high, got ({lo}, {hi})")
    base = _default_base(base)

    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(3, hidden, generator=gen, dtype=torch.float64).clamp(lo, hi)  # rows: a, w, b
    sliders = {}
    for row, name in enumerate("awb"):
        for j in range(hidden):
            sliders[f"{name}{j}"] = widgets.FloatSlider(
                value=round(float(start[row, j]), 2), min=lo, max=hi, step=0.05,
                description=f"{name}{j}", continuous_update=False, readout_format=".2f",
            )

    def update(**values):
        a, w, b = ([values[f"{name}{j}"] for j in range(hidden)] for name in "awb")
        fig, ax = plt.subplots(figsize=(6, 3.5))
        plot_network_density(
            a, w, b, base=base, activation=activation, samples=samples, seed=seed, points=points, ax=ax
        )
        plt.show()
        plt.close(fig)

    return widgets.interactive(update, **sliders)
