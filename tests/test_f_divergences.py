"""The f-divergence table (igmlib.divergences.f): f, f*, g_f, f'(1), and the variational bound."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from igmlib.divergences import (
    F_DIVERGENCES,
    FDivergence,
    alpha_divergence,
    f_divergence,
    f_divergence_bound,
    log_wright_omega,
)

NAMES = sorted(F_DIVERGENCES)
U = torch.logspace(-3, 3, 400, dtype=torch.float64)  # a grid of ratios u = p / q
V = torch.linspace(-20, 20, 401, dtype=torch.float64)  # a grid of critic outputs


def t_grid(d: FDivergence) -> torch.Tensor:
    """Points of dom f* (clipped to [-6, 6])."""
    low, high = max(d.domain[0], -6.0), min(d.domain[1], 6.0)
    t = torch.linspace(low, high, 301, dtype=torch.float64)
    return t[d.in_domain(t)]


def test_registry_names():
    assert set(NAMES) == {"kl", "reverse_kl", "pearson", "neyman", "hellinger", "jeffrey", "js", "gan",
                          "total_variation"}
    for name, d in F_DIVERGENCES.items():
        assert d.name == name and f_divergence(name) is d and f_divergence(d) is d


@pytest.mark.parametrize("name", NAMES)
def test_f_at_one(name):
    d = F_DIVERGENCES[name]
    expected = -math.log(4.0) if name == "gan" else 0.0  # the paper's GAN f is shifted by -log 4
    assert float(d.f(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_f_is_convex(name):
    u = torch.linspace(0.01, 10, 2001, dtype=torch.float64)
    fu = F_DIVERGENCES[name].f(u)
    second = fu[2:] - 2 * fu[1:-1] + fu[:-2]
    assert bool((second >= -1e-12).all())


@pytest.mark.parametrize("name", NAMES)
def test_f_prime_matches_autograd_and_f_prime_at_1(name):
    d = F_DIVERGENCES[name]
    u = torch.linspace(0.05, 8, 97, dtype=torch.float64)  # avoids the kink of total variation at 1
    u = u[(u - 1).abs() > 1e-3].requires_grad_(True)
    (grad,) = torch.autograd.grad(d.f(u).sum(), u)
    torch.testing.assert_close(d.f_prime(u.detach()), grad)
    assert float(d.f_prime(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(d.f_prime_at_1, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young_inequality_and_equality(name):
    d = F_DIVERGENCES[name]
    u, t = U[:, None], t_grid(d)[None, :]
    gap = d.f(u) + d.conjugate(t) - u * t  # (400, T)
    assert bool((gap >= -1e-9 * (1 + (u * t).abs())).all())
    t_star = d.f_prime(U)  # the supremum defining f*(t) is attained at u with t = f'(u)
    torch.testing.assert_close(d.f(U) + d.conjugate(t_star), U * t_star, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_supremum(name):
    """f*(t) = sup_u (u t - f(u)), checked by brute force over a fine grid of u."""
    d = F_DIVERGENCES[name]
    t = t_grid(d)
    t = t[(t > d.f_prime(U[0])) & (t < d.f_prime(U[-1]))]  # where the maximiser lies in the grid
    u = torch.logspace(-3, 3, 20001, dtype=torch.float64)[:, None]
    brute = (u * t[None, :] - d.f(u)).max(dim=0).values
    torch.testing.assert_close(brute, d.conjugate(t), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_activation_maps_reals_into_the_domain(name):
    d = F_DIVERGENCES[name]
    g = d.activation(V)
    assert bool(d.in_domain(g).all())
    assert bool(torch.isfinite(d.conjugate_of_activation(V)).all())
    # the stable composite equals f*(g_f(v)) where the plain composition is accurate
    v = torch.linspace(-8, 8, 161, dtype=torch.float64)
    torch.testing.assert_close(d.conjugate_of_activation(v), d.conjugate(d.activation(v)), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in NAMES if F_DIVERGENCES[n].domain[1] < math.inf])
def test_conjugate_is_infinite_outside_the_domain_without_nan_gradients(name):
    d = F_DIVERGENCES[name]
    t = torch.tensor([d.domain[1] + 0.5, d.f_prime_at_1], dtype=torch.float64, requires_grad=True)
    value = d.conjugate(t)
    assert value[0] == math.inf and math.isfinite(float(value[1].detach()))
    (grad,) = torch.autograd.grad(value[1], t)
    assert bool(torch.isfinite(grad).all())


def test_wright_omega_against_scipy_and_gradcheck():
    x = torch.linspace(-30, 40, 141, dtype=torch.float64)
    torch.testing.assert_close(log_wright_omega(x).exp(), torch.from_numpy(special.wrightomega(x.numpy()).real))
    xs = torch.tensor([-3.0, 0.2, 1.0, 7.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(log_wright_omega, (xs,))
    jeffrey = F_DIVERGENCES["jeffrey"]
    assert torch.autograd.gradcheck(jeffrey.conjugate, (xs,))


# ------------------------------------------------ the bound at T* equals the divergence

P_MU, P_SIGMA, Q_MU, Q_SIGMA = 0.0, 1.0, 0.5, 1.1


def exact_divergence(name: str) -> float:
    """D_f(P || Q) for P = N(0, 1), Q = N(0.5, 1.1^2): closed forms where they exist, else quadrature
    of an integrand written independently of igmlib."""
    p, q = stats.norm(P_MU, P_SIGMA), stats.norm(Q_MU, Q_SIGMA)
    kl_pq = math.log(Q_SIGMA / P_SIGMA) + (P_SIGMA**2 + (P_MU - Q_MU) ** 2) / (2 * Q_SIGMA**2) - 0.5
    kl_qp = math.log(P_SIGMA / Q_SIGMA) + (Q_SIGMA**2 + (P_MU - Q_MU) ** 2) / (2 * P_SIGMA**2) - 0.5
    s2 = P_SIGMA**2 + Q_SIGMA**2
    bhattacharyya = math.sqrt(2 * P_SIGMA * Q_SIGMA / s2) * math.exp(-((P_MU - Q_MU) ** 2) / (4 * s2))
    closed = {"kl": kl_pq, "reverse_kl": kl_qp, "jeffrey": kl_pq + kl_qp, "hellinger": 2 * (1 - bhattacharyya)}
    if name in closed:
        return closed[name]

    def js(x):
        a, b = p.pdf(x), q.pdf(x)
        m = (a + b) / 2
        return special.xlogy(a, a / m) + special.xlogy(b, b / m)

    integrands = {
        "pearson": lambda x: (p.pdf(x) - q.pdf(x)) ** 2 / q.pdf(x),
        "neyman": lambda x: (p.pdf(x) - q.pdf(x)) ** 2 / p.pdf(x),
        "js": js,
        "gan": js,
        "total_variation": lambda x: 0.5 * abs(p.pdf(x) - q.pdf(x)),
    }
    value = integrate.quad(integrands[name], -20, 20, limit=200, points=[0.0, 0.5])[0]
    return value - math.log(4.0) if name == "gan" else value


@pytest.mark.parametrize("name", NAMES)
def test_bound_at_the_optimal_critic_equals_the_divergence(name):
    d = F_DIVERGENCES[name]
    g = torch.Generator().manual_seed(0)
    n = 200_000
    p = torch.distributions.Normal(torch.tensor(P_MU, dtype=torch.float64), P_SIGMA)
    q = torch.distributions.Normal(torch.tensor(Q_MU, dtype=torch.float64), Q_SIGMA)
    xp = P_MU + P_SIGMA * torch.randn(n, generator=g, dtype=torch.float64)
    xq = Q_MU + Q_SIGMA * torch.randn(n, generator=g, dtype=torch.float64)

    def t_star(x):  # T*(x) = f'(p(x) / q(x))
        return d.f_prime(torch.exp(p.log_prob(x) - q.log_prob(x)))

    tp, ftq = t_star(xp), d.conjugate(t_star(xq))
    estimate = float(d.variational_bound(t_star(xp), t_star(xq)))
    standard_error = math.sqrt(float(tp.var()) / n + float(ftq.var()) / n)
    exact = exact_divergence(name)
    assert standard_error < 0.03  # the test has power: T* is accurate to a few hundredths
    assert abs(estimate - exact) < 4 * standard_error + 1e-12
    # a worse T (here: T* shrunk towards f'(1)) gives a smaller bound: it is a lower bound
    worse = float(d.variational_bound(0.5 * (tp + d.f_prime_at_1), 0.5 * (t_star(xq) + d.f_prime_at_1)))
    assert worse < estimate


@pytest.mark.parametrize("name", NAMES)
def test_pointwise_integrates_to_the_divergence(name):
    d = F_DIVERGENCES[name]
    x = torch.linspace(-20, 20, 40001, dtype=torch.float64)
    log_p = torch.distributions.Normal(P_MU, P_SIGMA).log_prob(x)
    log_q = torch.distributions.Normal(Q_MU, Q_SIGMA).log_prob(x)
    value = float(torch.trapezoid(d.pointwise(log_p, log_q), x))
    assert value == pytest.approx(exact_divergence(name), rel=1e-6, abs=1e-8)


def test_bound_function_uses_the_stable_composite():
    v = torch.tensor([-60.0, 0.0, 60.0])
    value = f_divergence_bound(v, v, "gan")  # log sigmoid and softplus: finite at |v| = 60 in float32
    assert torch.isfinite(value)
    torch.testing.assert_close(value, torch.nn.functional.logsigmoid(v).mean() - torch.nn.functional.softplus(v).mean())


@pytest.mark.parametrize(
    "name, error, match",
    [("kll", ValueError, "unknown divergence 'kll'; choose one of: gan, hellinger, jeffrey, js, kl"),
     (3, TypeError, "divergence must be a string")],
)
def test_bad_divergence_names(name, error, match):
    with pytest.raises(error, match=match):
        f_divergence(name)


def test_bound_rejects_non_tensors():
    with pytest.raises(TypeError, match="v_p must be a torch.Tensor"):
        f_divergence_bound(np.zeros(3), torch.zeros(3), "kl")


# ------------------------------------------------ the alpha-divergences (Minka 2005; Cichocki and Amari 2010)

ALPHAS = [-1.5, -0.5, 0.01, 0.25, 0.5, 0.75, 0.99, 1.5, 2.0, 3.0]


def exact_alpha_divergence(alpha: float) -> float:
    """(1 - int p^a q^(1-a)) / (a (1 - a)) for P = N(0, 1), Q = N(0.5, 1.1^2), by quadrature."""
    p, q = stats.norm(P_MU, P_SIGMA), stats.norm(Q_MU, Q_SIGMA)
    overlap = integrate.quad(lambda x: p.pdf(x) ** alpha * q.pdf(x) ** (1 - alpha), -30, 30, limit=200)[0]
    return (1 - overlap) / (alpha * (1 - alpha))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_alpha_f_is_convex_zero_at_one_and_its_derivative_is_right(alpha):
    d = alpha_divergence(alpha)
    one = torch.tensor(1.0, dtype=torch.float64)
    assert float(d.f(one)) == pytest.approx(0.0, abs=1e-12) and d.f_prime_at_1 == 0.0
    u = torch.linspace(0.05, 8, 97, dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(d.f(u).sum(), u)
    torch.testing.assert_close(d.f_prime(u.detach()), grad)
    assert float(d.f_prime(one)) == pytest.approx(0.0, abs=1e-12)
    fu = d.f(torch.linspace(0.01, 10, 2001, dtype=torch.float64))
    assert bool((fu[2:] - 2 * fu[1:-1] + fu[:-2] >= -1e-12).all())
    # the textbook form, written independently
    u = U
    torch.testing.assert_close(d.f(u), (u**alpha - alpha * u - (1 - alpha)) / (alpha * (alpha - 1)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_alpha_conjugate_is_the_supremum_and_activation_composite(alpha):
    d = alpha_divergence(alpha)
    u = torch.logspace(-8, 8, 200_001, dtype=torch.float64)
    for t in torch.linspace(-5, 5, 41, dtype=torch.float64):
        sup = float((u * t - d.f(u)).max())
        value = float(d.conjugate(t))
        if bool(d.in_domain(t)):
            assert value == pytest.approx(sup, rel=1e-7, abs=1e-6) and value >= sup - 1e-9, float(t)
        else:
            assert value == math.inf and sup > 1.0  # unbounded: the grid's sup is large
    v = V[V.abs() <= 8]
    t = d.activation(v)
    assert bool(d.in_domain(t).all())
    torch.testing.assert_close(d.conjugate(t), d.conjugate_of_activation(v))
    # g_f(v) = f'(e^v): the optimal critic output is V* = log(p / q)
    torch.testing.assert_close(t, d.f_prime(torch.exp(v)))


@pytest.mark.parametrize("alpha", [0.25, 0.5, 2.0, -0.5])
def test_alpha_bound_at_the_optimal_critic_and_pointwise_integral_equal_the_divergence(alpha):
    d = alpha_divergence(alpha)
    exact = exact_alpha_divergence(alpha)
    x = torch.linspace(-20, 20, 40001, dtype=torch.float64)
    log_p = torch.distributions.Normal(P_MU, P_SIGMA).log_prob(x)
    log_q = torch.distributions.Normal(Q_MU, Q_SIGMA).log_prob(x)
    assert float(torch.trapezoid(d.pointwise(log_p, log_q), x)) == pytest.approx(exact, rel=1e-6)
    # the bound E_P g(V*) - E_Q f*(g(V*)) with V* = log p/q, by quadrature: equals D_alpha
    v = log_p - log_q
    bound = torch.trapezoid(log_p.exp() * d.activation(v) - log_q.exp() * d.conjugate_of_activation(v), x)
    assert float(bound) == pytest.approx(exact, rel=1e-6)
    # and by Monte Carlo with the generic FDivergence.bound
    g = torch.Generator().manual_seed(0)
    xp = P_MU + P_SIGMA * torch.randn(100_000, generator=g, dtype=torch.float64)
    xq = Q_MU + Q_SIGMA * torch.randn(100_000, generator=g, dtype=torch.float64)

    def log_ratio(z):
        return torch.distributions.Normal(P_MU, P_SIGMA).log_prob(z) - torch.distributions.Normal(Q_MU, Q_SIGMA).log_prob(z)

    assert float(d.bound(log_ratio(xp), log_ratio(xq))) == pytest.approx(exact, abs=0.01)


def test_alpha_members_and_limits():
    x = torch.linspace(-20, 20, 40001, dtype=torch.float64)
    log_p = torch.distributions.Normal(P_MU, P_SIGMA).log_prob(x)
    log_q = torch.distributions.Normal(Q_MU, Q_SIGMA).log_prob(x)

    def value(d):
        return float(torch.trapezoid(d.pointwise(log_p, log_q), x))

    assert value(alpha_divergence(0.5)) == pytest.approx(2 * value(f_divergence("hellinger")), rel=1e-9)
    assert value(alpha_divergence(2.0)) == pytest.approx(0.5 * value(f_divergence("pearson")), rel=1e-9)
    assert value(alpha_divergence(-1.0)) == pytest.approx(0.5 * value(f_divergence("neyman")), rel=1e-9)
    kl, reverse = value(f_divergence("kl")), value(f_divergence("reverse_kl"))
    gaps_1 = [abs(value(alpha_divergence(1 - e)) - kl) for e in (1e-1, 1e-2, 1e-3, 1e-4)]
    gaps_0 = [abs(value(alpha_divergence(e)) - reverse) for e in (1e-1, 1e-2, 1e-3, 1e-4)]
    for gaps in (gaps_1, gaps_0):
        assert all(b < a for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-4
    assert abs(value(alpha_divergence(1 + 1e-4)) - kl) < 1e-4
    assert abs(value(alpha_divergence(-1e-4)) - reverse) < 1e-4


@pytest.mark.parametrize(
    "alpha, error, match",
    [(0, ValueError, r"alpha = 0 is the limit .*f_divergence\('reverse_kl'\)"),
     (1.0, ValueError, r"alpha = 1 is the limit .*f_divergence\('kl'\)"),
     (math.inf, ValueError, "alpha must be finite"),
     ("0.5", TypeError, "alpha must be a real number"),
     (True, TypeError, "alpha must be a real number")],
)
def test_alpha_bad_values(alpha, error, match):
    with pytest.raises(error, match=match):
        alpha_divergence(alpha)
