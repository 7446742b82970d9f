"""Plot helpers: return Axes, draw on a given Axes, leave global matplotlib state alone."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from scipy import stats

import igmlib as igm


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rc_unchanged():
    before = matplotlib.rcParams.copy()
    yield
    assert matplotlib.rcParams == before


def draw_samples(ax):
    data = igm.data.ring()
    return igm.plot.samples(data.sample((100,)), torch.randn(50, 2), ax=ax, title="ring")


def draw_density(ax):
    density = igm.data.lognormal(0.0, 0.5)
    return igm.plot.density(density, density.sample((300,)), ax=ax)


def draw_image_grid(ax):
    return igm.plot.image_grid(igm.data.digits("test").x[:10], nrow=5, ax=ax, title="digits")


def draw_history(ax):
    return igm.plot.history({"generator": list(np.linspace(1, 0, 30)), "discriminator": [0.7] * 30}, ax=ax, smooth=5)


HELPERS = [draw_samples, draw_density, draw_image_grid, draw_history]


@pytest.mark.parametrize("draw", HELPERS)
def test_helper_returns_new_axes(draw, rc_unchanged):
    n_figures = len(plt.get_fignums())
    ax = draw(None)
    assert isinstance(ax, Axes)
    assert len(plt.get_fignums()) == n_figures + 1


@pytest.mark.parametrize("draw", HELPERS)
def test_helper_draws_on_given_axes(draw, rc_unchanged):
    fig, axes = plt.subplots(1, 2)
    n_figures = len(plt.get_fignums())
    assert draw(axes[1]) is axes[1]
    assert len(plt.get_fignums()) == n_figures  # no new figure
    assert axes[1].has_data() and not axes[0].has_data()


def test_samples_draws_both_sets():
    ax = igm.plot.samples(torch.zeros(10, 2), torch.ones(7, 2))
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [10, 7]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model"]
    with pytest.raises(ValueError, match=r"model must have shape \(N, 2\), got \(7, 3\)"):
        igm.plot.samples(torch.zeros(10, 2), torch.ones(7, 3))


def test_density_curve_is_the_pdf():
    density = igm.data.beta(2.0, 5.0)
    ax = igm.plot.density(density, range=(0.0, 1.0), points=101)
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y[1:-1], 30 * x[1:-1] * (1 - x[1:-1]) ** 4, rtol=1e-4)  # Beta(2, 5) pdf


def test_density_is_zero_outside_the_support():
    # a range padded past the support must not make log_prob raise
    density = igm.data.lognormal(0.0, 1.0)
    ax = igm.plot.density(density, range=(-1.0, 3.0), points=81)
    x, y = ax.lines[0].get_data()
    assert bool((y[x <= 0] == 0).all())
    np.testing.assert_allclose(y[x > 0], stats.lognorm(s=1.0).pdf(x[x > 0]), rtol=1e-4, atol=1e-7)


def test_image_grid_layout():
    images = torch.full((6, 1, 4, 4), 1.0)
    ax = igm.plot.image_grid(images, nrow=3)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 5 + 1, 3 * 5 + 1)  # 2 rows x 3 columns of 4x4 tiles, 1 px gaps
    with pytest.raises(ValueError, match=r"images must be 4-D"):
        igm.plot.image_grid(torch.zeros(6, 4, 4))


def test_history_smoothing_and_unknown_keys():
    hist = {"a": [0.0, 1.0, 2.0, 3.0, 4.0], "b": [1.0] * 5}
    ax = igm.plot.history(hist, ["a"], smooth=3)
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, [1.0, 2.0, 3.0])  # moving average of 3
    np.testing.assert_allclose(x, [3, 4, 5])  # plotted at the window's last step
    with pytest.raises(ValueError, match=r"keys \['c'\] not in the history; it has: a, b"):
        igm.plot.history(hist, ["a", "c"])


def test_animation_of_2d_snapshots(rc_unchanged):
    model = igm.models.GAN(igm.nets.MLP(2, 2, hidden=(8,)), igm.nets.MLP(2, 1, hidden=(8,)), latent_dim=2)
    snaps = igm.Snapshots(every=2, n=30)
    igm.fit(model, igm.data.ring(), steps=4, batch_size=16, callbacks=[snaps])
    n_figures = len(plt.get_fignums())
    html = igm.plot.animation(snaps, igm.data.ring().sample((100,)))
    assert "<script" in html.data
    assert len(plt.get_fignums()) == n_figures  # its figure is closed
    # plays offline: no stylesheet from a CDN, the buttons are inline SVG (no icon font, no Unicode glyph)
    assert "https://" not in html.data and 'class="fa ' not in html.data
    assert html.data.count("<svg") >= 5 and "&#9654;" not in html.data


def test_animation_of_image_snapshots():
    snaps = igm.Snapshots(every=1)
    snaps.steps, snaps.samples = [1, 2], [torch.zeros(4, 1, 8, 8), torch.ones(4, 1, 8, 8)]
    assert "<script" in igm.plot.animation(snaps).data


def test_animation_rejects_empty_snapshots():
    with pytest.raises(ValueError, match=r"snapshots is empty: pass it to fit\(\.\.\., callbacks=\[snapshots\]\) first"):
        igm.plot.animation(igm.Snapshots(every=1))
