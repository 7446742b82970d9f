"""Interactive figures (ipywidgets front-ends) for the book.

``ipywidgets`` is in the ``[book]`` extra only: it is imported inside the functions that need it,
and ``igmlib`` itself imports this module only when ``igm.book`` is first used. Sliders need a
live kernel (Jupyter, Colab); in the static HTML book they do nothing, so each widget has a plain
plotting function beside it (here :func:`plot_network_density`), and :mod:`igmlib.book.static`
turns those into players that respond without a kernel (precomputed frames).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.distributions as D

from .._validation import check_choice, check_positive_int
from ..nets import ACTIVATIONS
from ..pushforward import one_layer_network, pushforward_density
from ..runtime import fork_rng


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
        activation: one of :data:`igmlib.nets.ACTIVATIONS`.
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
    with torch.no_grad(), fork_rng(seed):  # seeded, global RNG state untouched
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
        activation: one of :data:`igmlib.nets.ACTIVATIONS` (``tanh`` by default).
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


def plot_f_divergence(divergence, *, density: D.Distribution | None = None, fits: dict | None = None,
                      x_range: tuple[float, float] = (-5.0, 5.0), axes=None):
    """One row of the f-divergence table drawn: ``f(u)``, ``f*(t)`` and (optionally) Gaussian fits.

    Args:
        divergence: a name of :data:`igmlib.divergences.F_DIVERGENCES` or an ``FDivergence``.
        density: a 1-D target distribution (``log_prob`` of ``(N, 1)`` points); with ``fits`` a
            third panel shows it under the Gaussians ``N(mu, sigma^2)`` of ``fits[name]``.
        fits: ``{name: {"exact": (mu, sigma), "learned": (mu, sigma)}}`` (either key optional),
            e.g. the exact minimiser of the divergence and the one f-GAN learned.
        x_range: x-range of the third panel.
        axes: two or three Axes to draw on (a new figure if None).

    Returns:
        The list of Axes.

    Raises:
        ValueError: unknown divergence name.
    """
    import matplotlib.pyplot as plt

    from ..divergences.f import f_divergence

    d = f_divergence(divergence)
    fit = (fits or {}).get(d.name) if density is not None else None
    new_figure = axes is None
    if new_figure:
        _, axes = plt.subplots(1, 3 if fit is not None else 2, figsize=(11 if fit is not None else 7.5, 3.2))
    axes = list(np.atleast_1d(axes))
    u = torch.linspace(1e-3, 4, 400, dtype=torch.float64)
    axes[0].plot(u.numpy(), d.f(u).numpy(), color="tab:blue")
    axes[0].axvline(1.0, color="0.7", lw=0.8)
    axes[0].set(xlabel="u = p / q", title=f"f(u), {d.label}")
    low, high = max(d.domain[0], -3.0), min(d.domain[1], 3.0)
    t = torch.linspace(low, high, 400, dtype=torch.float64)
    t = t[d.in_domain(t)]
    ft = d.conjugate(t)
    keep = ft < 20  # f* grows fast near the open end of its domain
    axes[1].plot(t[keep].numpy(), ft[keep].numpy(), color="tab:red")
    axes[1].axvline(d.f_prime_at_1, color="0.7", lw=0.8, ls="--")
    axes[1].set(xlabel="t", title="f*(t) (dashed: f'(1))")
    if fit is not None:
        x = torch.linspace(*x_range, 500, dtype=torch.float64)
        p = density.log_prob(x[:, None].to(torch.get_default_dtype())).exp().double()
        axes[2].fill_between(x.numpy(), p.numpy(), color="0.85", label="target p")
        styles = {"exact": ("k", "--", "exact minimiser"), "learned": ("tab:orange", "-", "f-GAN")}
        for key, (color, ls, label) in styles.items():
            if fit.get(key) is not None:
                mu, sigma = fit[key]
                q = D.Normal(torch.tensor(float(mu), dtype=torch.float64), float(sigma)).log_prob(x).exp()
                axes[2].plot(x.numpy(), q.numpy(), color=color, ls=ls, label=f"{label} N({mu:.2f}, {sigma:.2f}²)")
        axes[2].set(xlabel="x", title="Gaussian fits")
        axes[2].legend(fontsize="x-small")
    if new_figure:
        axes[0].figure.tight_layout()
    return axes


def divergence_picker(*, density: D.Distribution | None = None, fits: dict | None = None,
                      x_range: tuple[float, float] = (-5.0, 5.0), names=None):
    """A dropdown over the f-divergences redrawing :func:`plot_f_divergence` (``f``, ``f*`` and fits).

    Args:
        density, fits, x_range: as in :func:`plot_f_divergence` (precomputed results: nothing is
            trained when the dropdown changes).
        names: divergences offered (default: all of :data:`igmlib.divergences.F_DIVERGENCES`).

    Returns:
        An ``ipywidgets.interactive`` widget.

    Raises:
        ImportError: ipywidgets is not installed (``pip install "igmlib[book]"``).
        ValueError: an unknown divergence name.
    """
    try:
        import ipywidgets as widgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("divergence_picker needs ipywidgets: pip install ipywidgets (or igmlib[book])") from err
    import matplotlib.pyplot as plt

    from ..divergences.f import F_DIVERGENCES, f_divergence

    names = [f_divergence(n).name for n in (names or F_DIVERGENCES)]

    def update(divergence):
        axes = plot_f_divergence(divergence, density=density, fits=fits, x_range=x_range)
        plt.show()
        plt.close(axes[0].figure)

    return widgets.interactive(update, divergence=widgets.Dropdown(options=names, value=names[0],
                                                                   description="divergence"))


def plot_infogan_codes(model, c: int = 0, continuous=None, *, noise: int = 8, seed: int = 0, ax=None, title=None):
    """A row of an InfoGAN's images for one setting of its codes and ``noise`` noise draws.

    Args:
        model: a trained :class:`igmlib.models.InfoGAN`.
        c: value of the categorical code, in ``0..K-1``.
        continuous: values of the continuous codes (``L`` floats; default all 0).
        noise: number of noise draws ``z`` (columns); the same draws for every setting (``seed``).
        seed: seed of the noise (a forked random state; the global stream is untouched).
        ax: Axes to draw on (a new figure if None).
        title: Axes title (default: the codes).

    Returns:
        The matplotlib Axes.

    Raises:
        ValueError: codes of the wrong size or range.
    """
    from ..plot import image_grid

    check_positive_int(noise, "noise")
    u = torch.zeros(model.continuous) if continuous is None else torch.as_tensor(continuous, dtype=torch.float32)
    if u.shape != (model.continuous,):
        raise ValueError(f"continuous must hold {model.continuous} values, got shape {tuple(u.shape)}")
    device = next(model.parameters()).device
    with torch.no_grad(), fork_rng(seed):
        z = torch.randn(noise, model.latent_dim).to(device)
        images = model.generate(z, torch.full((noise,), int(c), device=device) if model.categorical else None,
                                u.to(device).expand(noise, -1))
    if title is None:
        title = f"c = {c}" + "".join(f", u{j + 1} = {float(v):+.1f}" for j, v in enumerate(u))
    return image_grid(images.cpu(), nrow=noise, ax=ax, title=title)


def infogan_code_explorer(model, *, noise: int = 8, seed: int = 0, span: tuple[float, float] = (-2.0, 2.0)):
    """A dropdown for the categorical code and one slider per continuous code of a trained InfoGAN,
    showing :func:`plot_infogan_codes` (the same noise draws for every setting).

    Args:
        model: a trained :class:`igmlib.models.InfoGAN` (put it in eval mode first).
        noise: number of noise draws shown side by side.
        seed: seed of the noise.
        span: range of the continuous sliders (training uses [-1, 1]; the paper also looks at [-2, 2]).

    Returns:
        An ``ipywidgets.interactive`` widget.

    Raises:
        ImportError: ipywidgets is not installed (``pip install "igmlib[book]"``).
    """
    try:
        import ipywidgets as widgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("infogan_code_explorer needs ipywidgets: pip install ipywidgets (or igmlib[book])") from err
    import matplotlib.pyplot as plt

    controls = {}
    if model.categorical:
        controls["c"] = widgets.Dropdown(options=list(range(model.categorical)), value=0, description="c")
    for j in range(model.continuous):
        controls[f"u{j + 1}"] = widgets.FloatSlider(value=0.0, min=span[0], max=span[1], step=0.1,
                                                    description=f"u{j + 1}", continuous_update=False)

    def update(**values):
        u = [values[f"u{j + 1}"] for j in range(model.continuous)]
        fig, ax = plt.subplots(figsize=(1.0 * noise, 1.4))
        plot_infogan_codes(model, values.get("c", 0), u, noise=noise, seed=seed, ax=ax)
        plt.show()
        plt.close(fig)

    return widgets.interactive(update, **controls)
