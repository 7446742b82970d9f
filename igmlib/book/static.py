"""The book's interactive figures as static players: they respond on the static web page too.

Each function precomputes one frame per setting (per combination of settings) of the matching
ipywidgets front-end of :mod:`igmlib.book.widgets` and returns :func:`igmlib.plot.player`'s HTML
(sliders, selects and play buttons driven by inline JavaScript; no kernel, nothing fetched). The
ipywidgets versions stay for Jupyter and Colab, where any value can be tried.
"""
from __future__ import annotations

import torch.distributions as D

from ..plot import player
from .widgets import plot_f_divergence, plot_infogan_codes, plot_network_density


def weight_density_player(*, first=(1.0, 1.0, 0.0), a1=(-1.0, -0.5, 0.5, 1.0), w1=(0.5, 1.0, 2.0, 4.0, 8.0),
                          b1=(-2.0, 0.0, 2.0), base: D.Distribution | None = None, activation: str = "tanh",
                          samples: int = 20000, points: int = 4001, seed: int = 0):
    """The density of ``y = a0 act(w0 x + b0) + a1 act(w1 x + b1)`` over a grid of the second unit's weights.

    The static counterpart of :func:`igmlib.book.widgets.weight_slider_density` with ``hidden=2``:
    the first unit is fixed, and one slider per weight of the second unit picks among the given
    values (``len(a1) * len(w1) * len(b1)`` frames of :func:`plot_network_density`).

    Args:
        first: ``(a0, w0, b0)``, the fixed first unit.
        a1, w1, b1: values offered for the second unit's weights (non-empty sequences of floats).
        base, activation, samples, points, seed: as in :func:`plot_network_density`.

    Returns:
        ``IPython.display.HTML``: the frames with three sliders.

    Raises:
        ValueError: an empty value list, too many combinations (more than 120), or what
            :func:`plot_network_density` raises.
    """
    import matplotlib.pyplot as plt

    a0, w0, b0 = first

    def draw(a1, w1, b1):
        fig, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
        plot_network_density([a0, a1], [w0, w1], [b0, b1], base=base, activation=activation, samples=samples,
                             seed=seed, points=points, ax=ax)
        ax.legend(fontsize="x-small", loc="upper right")
        return fig

    return player(draw, {"a1": a1, "w1": w1, "b1": b1})


def divergence_player(*, density: D.Distribution | None = None, fits: dict | None = None,
                      x_range: tuple[float, float] = (-5.0, 5.0), names=None):
    """A select over the f-divergences showing :func:`plot_f_divergence`: the static
    counterpart of :func:`igmlib.book.widgets.divergence_picker`.

    Args:
        density, fits, x_range: as in :func:`plot_f_divergence`.
        names: divergences offered (default: all of :data:`igmlib.divergences.F_DIVERGENCES`).

    Returns:
        ``IPython.display.HTML``: one frame per divergence, a select and step/play buttons.

    Raises:
        ValueError: an unknown divergence name.
    """
    from ..divergences.f import F_DIVERGENCES, f_divergence

    names = [f_divergence(n).name for n in (names or F_DIVERGENCES)]

    def draw(divergence):
        return plot_f_divergence(divergence, density=density, fits=fits, x_range=x_range)[0].figure

    return player(draw, {"divergence": names})


def infogan_code_player(model, *, noise: int = 8, seed: int = 0, values=(-2.0, 0.0, 2.0)):
    """One slider for the categorical code and one per continuous code of a trained InfoGAN,
    showing :func:`plot_infogan_codes` with fixed noise: the static counterpart of
    :func:`igmlib.book.widgets.infogan_code_explorer`.

    Args:
        model: a trained :class:`igmlib.models.InfoGAN` (in eval mode).
        noise: number of noise draws shown side by side.
        seed: seed of the noise.
        values: values offered for each continuous code.

    Returns:
        ``IPython.display.HTML``: ``K * len(values) ** L`` frames (``K`` categories, ``L``
        continuous codes) with one slider per code.

    Raises:
        ValueError: more than 120 combinations (offer fewer ``values``), or an empty ``values``.
    """
    import matplotlib.pyplot as plt

    params = {"c": list(range(model.categorical))} if model.categorical else {}
    params.update({f"u{j + 1}": list(values) for j in range(model.continuous)})

    def draw(c=0, **codes):
        fig, ax = plt.subplots(figsize=(1.0 * noise, 1.4), layout="constrained")
        plot_infogan_codes(model, c, [codes[f"u{j + 1}"] for j in range(model.continuous)], noise=noise, seed=seed,
                           ax=ax)
        return fig

    return player(draw, params)
