"""Tests of igmlib.pushforward (and the widgets built on it): numerical change-of-variables
densities against analytic ones, normalisation, and input checks."""
import numpy as np
import pytest
import torch
import torch.distributions as D
from scipy import stats
from scipy.integrate import trapezoid

import igmlib as igm
from igmlib.nets import ACTIVATIONS, make_activation
from igmlib.pushforward import one_layer_network, pushforward_density

F64 = torch.float64


def std_normal(dtype=F64):
    return D.Normal(torch.tensor(0.0, dtype=dtype), torch.tensor(1.0, dtype=dtype))


def test_exp_of_gaussian_is_lognormal():
    y = torch.linspace(0.02, 12.0, 500, dtype=F64)
    got = pushforward_density(torch.exp, std_normal(), y)
    want = D.LogNormal(torch.tensor(0.0, dtype=F64), torch.tensor(1.0, dtype=F64)).log_prob(y).exp()
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_base_with_one_dimensional_events_matches_scalar_events():
    y = torch.linspace(0.05, 6.0, 200, dtype=F64)
    base_1d = D.Independent(D.Normal(torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64)), 1)
    want = pushforward_density(torch.exp, std_normal(), y)
    torch.testing.assert_close(pushforward_density(torch.exp, base_1d, y), want)


def test_square_of_gaussian_is_chi2_with_one_degree_of_freedom():
    # two preimages +-sqrt(y) each contribute p(sqrt y) / (2 sqrt y)
    y = torch.linspace(0.01, 9.0, 400, dtype=F64)
    got = pushforward_density(torch.square, std_normal(), y)
    want = torch.from_numpy(stats.chi2(1).pdf(y.numpy()))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # no preimage below 0
    below = pushforward_density(torch.square, std_normal(), torch.tensor([-1.0, -0.1], dtype=F64))
    assert torch.equal(below, torch.zeros(2, dtype=F64))


@pytest.mark.parametrize("slope, shift", [(2.0, 1.0), (-0.5, 3.0)])
def test_affine_map_gives_the_analytic_normal_in_float32(slope, shift):
    y = torch.linspace(-4.0, 6.0, 300)
    got = pushforward_density(lambda x: slope * x + shift, D.Normal(0.0, 1.0), y)
    want = D.Normal(shift, abs(slope)).log_prob(y).exp()
    assert got.dtype == torch.float32 and got.shape == y.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_deep_tanh_composition_matches_the_inverse_function_formula():
    # f = g o g o g with g(x) = tanh(1.4 x + 0.2) is increasing: p_y(y) = p(f^-1(y)) (f^-1)'(y) (Devroye Thm 4.1)
    def g(x):
        return torch.tanh(1.4 * x + 0.2)

    def g_inv(y):
        return (torch.atanh(y) - 0.2) / 1.4

    y = torch.linspace(-0.5, 0.85, 200, dtype=F64).requires_grad_(True)
    x = g_inv(g_inv(g_inv(y)))
    (dx,) = torch.autograd.grad(x.sum(), y)
    want = std_normal().log_prob(x).exp() * dx.abs()
    got = pushforward_density(lambda t: g(g(g(t))), std_normal(), y.detach())
    torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-7)


def test_tanh_network_density_integrates_to_one():
    # increasing network (all a_j w_j > 0) with gentle slopes: the density is smooth, with no spike
    # narrower than the y grid (saturation piles mass near the asymptotes +-sum|a_j| for large w_j)
    f = one_layer_network([1.0, 0.6, 0.4], [0.8, 0.5, 0.3], [0.2, -0.3, 0.5])
    y = torch.linspace(-2.1, 2.1, 4001, dtype=F64)
    p = pushforward_density(f, std_normal(), y)
    assert trapezoid(p.numpy(), y.numpy()) == pytest.approx(1.0, abs=1e-6)


def test_non_monotone_network_interval_probability_matches_exact():
    # f rises from 0.2 (x -> -inf) to a local max ~1.006 near x = 0.06, then falls to -0.2: every y in
    # (0.3, 0.9) has two preimages. Compare P(0.3 < Y < 0.9) with an integral over x.
    f = one_layer_network([1.0, -0.7, 0.5], [2.0, 1.5, -3.0], [0.3, -0.5, 1.0])
    x = torch.linspace(-8.0, 8.0, 400001, dtype=F64)
    fx, px = f(x), std_normal().log_prob(x).exp()
    critical = fx[1:-1][((fx[1:-1] - fx[:-2]) * (fx[2:] - fx[1:-1])) < 0]
    t1, t2 = 0.3, 0.9
    assert not ((critical > t1 - 0.05) & (critical < t2 + 0.05)).any()  # no singularity inside the interval
    exact = torch.trapezoid(px * ((fx > t1) & (fx < t2)), x)
    y = torch.linspace(t1, t2, 4001, dtype=F64)
    p = pushforward_density(f, std_normal(), y)
    assert trapezoid(p.numpy(), y.numpy()) == pytest.approx(float(exact), abs=1e-4)
    # each preimage alone gives less: the sum over both branches is what matches
    roots_left = pushforward_density(f, std_normal(), y, x_range=(-8.0, 0.0567))
    assert trapezoid(roots_left.numpy(), y.numpy()) == pytest.approx(float(exact) - float(
        torch.trapezoid(px * ((fx > t1) & (fx < t2) & (x > 0.0567)), x)), abs=1e-4)


def test_bounded_support_base_without_x_range():
    # Uniform(0, 1): default x-range from icdf, clipped to the support
    y = torch.tensor([-0.5, 0.1, 0.9, 1.5, 2.5], dtype=F64)
    base = D.Uniform(torch.tensor(0.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    got = pushforward_density(lambda x: 2.0 * x, base, y)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.5, 0.5, 0.5, 0.0], dtype=F64))


def test_base_without_icdf_uses_mean_and_stddev():
    base = D.Gumbel(torch.tensor(0.5, dtype=F64), torch.tensor(2.0, dtype=F64))
    y = torch.linspace(-4.0, 12.0, 100, dtype=F64)
    torch.testing.assert_close(pushforward_density(lambda x: x, base, y), base.log_prob(y).exp(), rtol=1e-6, atol=1e-9)


def test_output_follows_y_shape_and_order():
    f = one_layer_network([1.0, -0.7], [2.0, 1.5], [0.3, -0.5])
    y = torch.linspace(-1.5, 1.5, 60, dtype=F64)
    flat = pushforward_density(f, std_normal(), y)
    perm = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(pushforward_density(f, std_normal(), y[perm]), flat[perm])
    torch.testing.assert_close(pushforward_density(f, std_normal(), y.reshape(3, 4, 5)), flat.reshape(3, 4, 5))


def test_network_module_through_a_lambda():
    torch.manual_seed(0)
    net = igm.nets.MLP(1, 1, hidden=(8, 8, 8), activation="tanh").double()
    f = lambda x: net(x[:, None])[:, 0]  # noqa: E731
    with torch.no_grad():
        ys = f(torch.linspace(-7, 7, 2001, dtype=F64))
    y = torch.linspace(float(ys.min()) - 0.05, float(ys.max()) + 0.05, 4001, dtype=F64)
    p = pushforward_density(f, std_normal(), y)
    assert torch.isfinite(p).all() and (p >= 0).all()
    # the network's output lies in (min, max) of f on the grid: no density outside
    assert float(p[0]) == 0.0 and float(p[-1]) == 0.0
    # an (N, 1)-shaped output is accepted too
    torch.testing.assert_close(pushforward_density(lambda x: net(x[:, None]), std_normal(), y), p)


def test_one_layer_network_matches_the_formula():
    a, w, b = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.3]), torch.tensor([0.1, -0.2])
    x = torch.linspace(-2, 2, 7)
    for name, act in [("tanh", torch.tanh), ("softplus", torch.nn.functional.softplus)]:
        want = a[0] * act(w[0] * x + b[0]) + a[1] * act(w[1] * x + b[1])
        torch.testing.assert_close(one_layer_network(a, w, b, activation=name)(x), want)
    assert one_layer_network([1.0], [1.0], [0.0])(x.double()).dtype == F64


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_one_layer_network_takes_every_activation_of_the_one_registry(name):
    # one registry (igmlib.nets.ACTIVATIONS) serves the MLPs, the push-forward networks and the widgets
    x = torch.linspace(-2, 2, 9, dtype=F64)
    want = 2.0 * make_activation(name)(0.5 * x - 0.1)
    torch.testing.assert_close(one_layer_network([2.0], [0.5], [-0.1], activation=name)(x), want)
    y = torch.linspace(-0.5, 0.5, 5, dtype=F64) + 0.01
    assert bool(torch.isfinite(pushforward_density(one_layer_network([1.0], [1.0], [0.0], activation=name),
                                                   std_normal(), y)).all())


def test_there_is_one_activation_registry():
    assert not hasattr(igm.pushforward, "ACTIVATIONS")
    assert igm.book.widgets.ACTIVATIONS is igm.nets.ACTIVATIONS


class NoMoments(D.Distribution):
    arg_constraints = {}
    support = D.constraints.real

    def __init__(self):
        super().__init__(validate_args=False)

    def log_prob(self, value):
        return -value.abs() - np.log(2.0)


def _detached(x):
    return x.detach() * 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(f="exp"), TypeError, "f must be callable"),
        (dict(base="normal"), TypeError, "base must be a torch.distributions.Distribution"),
        (dict(base=D.MultivariateNormal(torch.zeros(2), torch.eye(2))), ValueError, r"event_shape \(2,\)"),
        (dict(base=D.Normal(torch.zeros(3), torch.ones(3))), ValueError, r"batch_shape \(3,\)"),
        (dict(y=[0.5, 1.0]), TypeError, "y must be a torch.Tensor"),
        (dict(y=torch.tensor([1, 2])), TypeError, "floating-point"),
        (dict(y=torch.tensor([])), ValueError, "y is empty"),
        (dict(y=torch.tensor([0.5, float("nan")])), ValueError, "y must be finite"),
        (dict(x_range=(2.0, -2.0)), ValueError, "low < high"),
        (dict(x_range=(0.0, float("inf"))), ValueError, "finite"),
        (dict(x_range=(1.0,)), ValueError, "pair of numbers"),
        (dict(points=2), ValueError, "points must be >= 3"),
        (dict(points=100.0), TypeError, "points must be an int"),
        (dict(f=lambda x: x[:-1]), ValueError, "elementwise to the same shape"),
        (dict(f=_detached), ValueError, "does not depend differentiably"),
        (dict(f=torch.log), ValueError, "not finite at"),
        (dict(base=NoMoments()), ValueError, "pass x_range"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = dict(f=torch.exp, base=D.Normal(0.0, 1.0), y=torch.tensor([0.5, 1.0]))
    args.update(kwargs)
    f, base, y = args.pop("f"), args.pop("base"), args.pop("y")
    with pytest.raises(error, match=match):
        pushforward_density(f, base, y, **args)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([1.0, 2.0], [1.0], [0.0, 0.0]), {}, "one length"),
        (([1.0], [1.0], [0.0]), dict(activation="swish"), "unknown activation 'swish'"),
    ],
)
def test_one_layer_network_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        one_layer_network(*args, **kwargs)


def test_weight_slider_widget_builds_and_redraws():
    pytest.importorskip("ipywidgets")
    widget = igm.book.widgets.weight_slider_density(hidden=2, samples=2000, points=1001)
    sliders = [c for c in widget.children if hasattr(c, "min") and hasattr(c, "max")]
    assert sorted(s.description for s in sliders) == ["a0", "a1", "b0", "b1", "w0", "w1"]
    assert all(s.min == -3.0 and s.max == 3.0 for s in sliders)
    sliders[0].value = 1.25
    assert widget.kwargs[sliders[0].description] == 1.25
    widget.f(**widget.kwargs)  # the redraw itself (interactive only logs its exceptions)
    with pytest.raises(ValueError, match="low < high"):
        igm.book.widgets.weight_slider_density(weight_range=(1.0, 1.0))


def test_plot_network_density_returns_axes():
    import matplotlib.pyplot as plt

    ax = igm.book.widgets.plot_network_density([1.0], [2.0], [0.0], samples=1000, points=1001)
    assert len(ax.lines) == 1 and len(ax.patches) == 80
    plt.close(ax.figure)
