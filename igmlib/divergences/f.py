"""The f-divergences of f-GAN as data: generator ``f``, conjugate ``f*``, output activation ``g_f``.

For a convex ``f: (0, inf) -> R`` with ``f(1) = 0``, the f-divergence of ``P`` from ``Q`` (densities
``p``, ``q``) is

.. math::  D_f(P \\,\\|\\, Q) = \\int q(x)\\, f\\!\\left(\\frac{p(x)}{q(x)}\\right) \\mathrm{d}x ,

in nats. With the convex conjugate ``f*(t) = sup_u (u t - f(u))`` every function ``T`` with values
in ``dom f*`` gives the lower bound (Nguyen, Wainwright, Jordan 2010)

.. math::  D_f(P \\,\\|\\, Q) \\ge \\mathbb{E}_{P}[T(x)] - \\mathbb{E}_{Q}[f^*(T(x))],

tight at ``T*(x) = f'(p(x) / q(x))``. f-GAN writes ``T = g_f(V)`` with an unconstrained network
output ``V`` and an *output activation* ``g_f: R -> dom f*``. Every activation here is increasing,
so a larger ``V`` always means "more like ``P``" (any increasing bijection onto ``dom f*`` gives the
same supremum).

Note on Jensen-Shannon: with the table's ``f(u) = u log u - (u + 1) log((u + 1) / 2)``,
``D_f = KL(P || M) + KL(Q || M)`` with ``M = (P + Q) / 2``, i.e. *twice* the Jensen-Shannon
divergence as usually defined (so it lies in ``[0, 2 log 2]``). The GAN entry
``f(u) = u log u - (u + 1) log(u + 1)`` is kept as in the paper although ``f(1) = -log 4``, not 0: it
gives ``D_f = 2 JSD - log 4``, the value of the GAN discriminator's game, which is 0 at
``-log 4`` rather than at ``P = Q``.

References:
    Nowozin, Cseke, Tomioka, "f-GAN: Training Generative Neural Samplers using Variational
    Divergence Minimization", NeurIPS 2016, Tables 1 and 2 (f, f*, g_f, f'(1)), eq. (4)-(6).
    Nguyen, Wainwright, Jordan, "Estimating divergence functionals and the likelihood ratio by
    convex risk minimization", IEEE Trans. Inf. Theory 56(11), 2010.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .._validation import check_choice, check_tensor

Fn = Callable[[torch.Tensor], torch.Tensor]
LOG2 = math.log(2.0)


def log1mexp(a: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(a))`` for ``a <= 0``, accurate everywhere (Maechler 2012: expm1 near 0, log1p far)."""
    return torch.where(a > -LOG2, torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


def log_wright_omega(x: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """``log w`` where ``w = W(exp(x))`` (the Wright omega function), solving ``w + log w = x``.

    Newton's method on ``y = log w`` (``h(y) = exp(y) + y - x`` is convex and increasing, so it
    converges from any start), run without gradients; one last Newton step with gradients gives
    the exact derivative ``dy/dx = 1 / (1 + w)`` at the solution.
    """
    with torch.no_grad():
        y = torch.where(x > 1, torch.log((x - torch.log(x.clamp_min(1.0))).clamp_min(1e-30)), x)
        for _ in range(iterations):
            y = y - (torch.exp(y) + y - x) / (torch.exp(y) + 1)
    return y - (torch.exp(y) + y - x) / (torch.exp(y) + 1)


@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table. All callables are elementwise on tensors (device/dtype kept).

    Attributes:
        name: registry key (e.g. ``"kl"``).
        label: human-readable name (e.g. ``"Kullback-Leibler"``).
        f: the generator ``f(u)`` for ``u > 0``, convex, with ``f(1) = 0`` (except the GAN
            entry: ``f(1) = -log 4``, see the module notes).
        f_prime: its derivative ``f'(u)``; the optimal variational function is
            ``T*(x) = f'(p(x) / q(x))`` (a subgradient where ``f`` has a kink).
        conjugate: ``f*(t)`` on ``dom f*``; ``+inf`` outside it.
        activation: ``g_f(v)``, mapping every real ``v`` into ``dom f*``.
        conjugate_of_activation: ``f*(g_f(v))`` in a numerically stable closed form
            (e.g. ``softplus(v)`` for the GAN entry instead of ``-log(1 - exp(log sigmoid(v)))``).
        f_prime_at_1: ``f'(1)``, the value of ``T*`` where ``p = q`` (a constant ``V`` with
            ``g_f(V) = f'(1)`` makes the bound 0).
        domain: ``dom f*`` as an interval ``(low, high)`` (``-inf`` / ``inf`` for open-ended).
        closed: whether the finite ends of ``domain`` belong to it (only total variation).
    """

    name: str
    label: str
    f: Fn = field(repr=False)
    f_prime: Fn = field(repr=False)
    conjugate: Fn = field(repr=False)
    activation: Fn = field(repr=False)
    conjugate_of_activation: Fn = field(repr=False)
    f_prime_at_1: float
    domain: tuple[float, float]
    closed: bool = False

    def in_domain(self, t: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the entries of ``t`` inside ``dom f*``."""
        low, high = self.domain
        if self.closed:
            return (t >= low) & (t <= high)
        return (t > low) & (t < high)

    def variational_bound(self, t_p: torch.Tensor, t_q: torch.Tensor) -> torch.Tensor:
        """``mean(T(x_p)) - mean(f*(T(x_q)))`` from values ``T`` at samples of ``P`` and of ``Q`` (nats).

        Shapes:
            ``t_p (N, ...)``, ``t_q (M, ...)`` -> scalar.
        """
        return t_p.mean() - self.conjugate(t_q).mean()

    def bound(self, v_p: torch.Tensor, v_q: torch.Tensor) -> torch.Tensor:
        """The f-GAN objective ``mean(g_f(V(x_p))) - mean(f*(g_f(V(x_q))))`` from critic outputs ``V`` (nats).

        Uses the stable :attr:`conjugate_of_activation`; differentiable in ``v_p`` and ``v_q``.

        Shapes:
            ``v_p (N, ...)``, ``v_q (M, ...)`` -> scalar.

        References:
            Nowozin et al. 2016, eq. (6) with ``T = g_f(V)``.
        """
        return self.activation(v_p).mean() - self.conjugate_of_activation(v_q).mean()

    def pointwise(self, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """The integrand ``q f(p / q)`` of ``D_f(P || Q)`` from log-densities (integrate it over ``x``).

        Shapes:
            ``log_p``, ``log_q`` broadcastable -> their broadcast shape.
        """
        return torch.exp(log_q) * self.f(torch.exp(log_p - log_q))


def _conjugate(raw: Fn, domain: tuple[float, float], closed: bool, inside_point: float) -> Fn:
    """``raw`` on ``dom f*`` and ``+inf`` outside, without NaN gradients from the unused branch."""
    low, high = domain

    def conjugate(t: torch.Tensor) -> torch.Tensor:
        inside = ((t >= low) & (t <= high)) if closed else ((t > low) & (t < high))
        safe = torch.where(inside, t, torch.full_like(t, inside_point))
        return torch.where(inside, raw(safe), torch.full_like(t, math.inf))

    return conjugate


def _jeffrey_conjugate(t: torch.Tensor) -> torch.Tensor:
    # f*(t) = W(e^{1-t}) + 1 / W(e^{1-t}) + t - 2 = 2 cosh(log W) + t - 2
    return 2.0 * torch.cosh(log_wright_omega(1.0 - t)) + t - 2.0


def _make(name, label, f, f_prime, raw_conjugate, activation, conj_act, f1, domain, closed=False):
    conjugate = _conjugate(raw_conjugate, domain, closed, f1)
    return FDivergence(name, label, f, f_prime, conjugate, activation, conj_act, f1, domain, closed)


_INF = math.inf
F_DIVERGENCES: dict[str, FDivergence] = {d.name: d for d in [
    _make("kl", "Kullback-Leibler",
          lambda u: torch.xlogy(u, u), lambda u: torch.log(u) + 1,
          lambda t: torch.exp(t - 1), lambda v: v, lambda v: torch.exp(v - 1),
          1.0, (-_INF, _INF)),
    _make("reverse_kl", "reverse Kullback-Leibler",
          lambda u: -torch.log(u), lambda u: -1 / u,
          lambda t: -1 - torch.log(-t), lambda v: -torch.exp(-v), lambda v: v - 1,
          -1.0, (-_INF, 0.0)),
    _make("pearson", "Pearson chi^2",
          lambda u: (u - 1) ** 2, lambda u: 2 * (u - 1),
          lambda t: 0.25 * t * t + t, lambda v: v, lambda v: 0.25 * v * v + v,
          0.0, (-_INF, _INF)),
    _make("neyman", "Neyman chi^2",
          lambda u: (1 - u) ** 2 / u, lambda u: 1 - u ** -2,
          lambda t: 2 - 2 * torch.sqrt(1 - t), lambda v: -torch.expm1(-v), lambda v: 2 - 2 * torch.exp(-0.5 * v),
          0.0, (-_INF, 1.0)),
    _make("hellinger", "squared Hellinger",
          lambda u: (torch.sqrt(u) - 1) ** 2, lambda u: 1 - u ** -0.5,
          lambda t: t / (1 - t), lambda v: -torch.expm1(-v), torch.expm1,
          0.0, (-_INF, 1.0)),
    _make("jeffrey", "Jeffrey",
          lambda u: (u - 1) * torch.log(u), lambda u: torch.log(u) + 1 - 1 / u,
          _jeffrey_conjugate, lambda v: v, _jeffrey_conjugate,
          0.0, (-_INF, _INF)),
    _make("js", "Jensen-Shannon (x2)",
          lambda u: torch.xlogy(u, u) - (u + 1) * (torch.log1p(u) - LOG2),
          lambda u: LOG2 + torch.log(u) - torch.log1p(u),
          lambda t: -LOG2 - log1mexp(t - LOG2), lambda v: LOG2 + F.logsigmoid(v), lambda v: F.softplus(v) - LOG2,
          0.0, (-_INF, LOG2)),
    _make("gan", "GAN",
          lambda u: torch.xlogy(u, u) - (u + 1) * torch.log1p(u), lambda u: torch.log(u) - torch.log1p(u),
          lambda t: -log1mexp(t), F.logsigmoid, F.softplus,
          -LOG2, (-_INF, 0.0)),
    _make("total_variation", "total variation",
          lambda u: 0.5 * torch.abs(u - 1), lambda u: 0.5 * torch.sign(u - 1),
          lambda t: t, lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v),
          0.0, (-0.5, 0.5), closed=True),
]}


def f_divergence(name: str | FDivergence) -> FDivergence:
    """Look up an f-divergence by name (an :class:`FDivergence` is returned unchanged).

    Names: ``kl, reverse_kl, pearson, neyman, hellinger, jeffrey, js, gan, total_variation``.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: unknown name; the message lists the valid ones.
    """
    if isinstance(name, FDivergence):
        return name
    return F_DIVERGENCES[check_choice(name, "divergence", F_DIVERGENCES)]


def alpha_divergence(alpha: float) -> FDivergence:
    """The alpha-divergence ``D_alpha(P || Q)`` as an :class:`FDivergence` (Amari's family, in the
    convention of Minka 2005 and Cichocki and Amari 2010).

    ``f_alpha(u) = (u^alpha - alpha u - (1 - alpha)) / (alpha (alpha - 1))``, so that

    .. math::  D_\\alpha(P \\,\\|\\, Q) = \\int q\\, f_\\alpha(p / q)
               = \\frac{1 - \\int p^\\alpha q^{1 - \\alpha}}{\\alpha (1 - \\alpha)} \\quad\\text{(nats)}.

    Members: ``alpha -> 1`` gives ``KL(P || Q)``, ``alpha -> 0`` the reverse ``KL(Q || P)``
    (the limits of ``f_alpha`` are ``u log u - u + 1`` and ``u - 1 - log u``); ``alpha = 1/2`` gives
    ``2 int (sqrt p - sqrt q)^2``, twice the ``"hellinger"`` entry; ``alpha = 2`` half the Pearson
    chi^2 and ``alpha = -1`` half the Neyman chi^2. Small ``alpha`` is zero-forcing (mode-seeking),
    large ``alpha`` mass-covering. The entries (``u = p / q``, ``s = 1 + (alpha - 1) t``):

    - ``f'(u) = (u^(alpha - 1) - 1) / (alpha - 1)``, ``f'(1) = 0``;
    - ``f*(t) = (s^(alpha / (alpha - 1)) - 1) / alpha`` where ``s > 0``; ``dom f*`` is
      ``(-inf, 1 / (1 - alpha))`` for ``0 < alpha < 1`` (closed at the end for ``alpha < 0``), and all
      of ``R`` for ``alpha > 1`` (where ``f*(t) = -1 / alpha`` for ``t <= -1 / (alpha - 1)``);
    - ``g_f(v) = f'(e^v) = (e^((alpha - 1) v) - 1) / (alpha - 1)``: the optimal ``V`` is
      ``log(p / q)``, as for every ``alpha``; ``f*(g_f(v)) = (e^(alpha v) - 1) / alpha``.

    Values are computed with ``expm1`` / ``log1p`` forms that stay accurate near ``alpha = 0`` and 1.

    Args:
        alpha: a real number other than 0 and 1.

    Returns:
        An :class:`FDivergence` named ``"alpha=<alpha>"``.

    Raises:
        TypeError: ``alpha`` is not a real number.
        ValueError: ``alpha`` is 0 or 1 (the limits: use ``f_divergence("reverse_kl")`` or
            ``f_divergence("kl")``, the same divergences with ``f`` shifted by a multiple of
            ``u - 1``), or not finite.

    References:
        Minka, "Divergence measures and message passing", Microsoft Research MSR-TR-2005-173, eq. (5)-(8).
        Cichocki and Amari, "Families of Alpha- Beta- and Gamma-Divergences", Entropy 12, 2010, eq. (4).
        Amari, "Differential-Geometrical Methods in Statistics", 1985. The lecture notes of B. Cseke,
        "Generative Adversarial Networks: personal favourites from 2016-2017" (the family after Minka).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    a = float(alpha)
    if not math.isfinite(a):
        raise ValueError(f"alpha must be finite, got {alpha!r}")
    if a in (0.0, 1.0):
        limit = "reverse_kl" if a == 0.0 else "kl"
        raise ValueError(f"alpha = {alpha:g} is the limit of the family, not a member: use "
                         f"f_divergence({limit!r}) (the same divergence, f shifted by a multiple of u - 1)")
    b = a - 1.0

    def f(u):
        log_u = torch.log(u)
        if a <= 0.5:  # (expm1(a L) / a - (u - 1)) / (a - 1): no cancellation as a -> 0
            return (torch.expm1(a * log_u) / a - (u - 1)) / b
        return (u * torch.expm1(b * log_u) / b - (u - 1)) / a  # no cancellation as a -> 1

    def raw_conjugate(t):
        bt = b * t
        inside = bt > -1
        safe = torch.where(inside, bt, torch.zeros_like(bt))
        value = torch.expm1(a / b * torch.log1p(safe)) / a
        return torch.where(inside, value, torch.full_like(t, -1.0 / a))  # s <= 0: the limit -1/alpha

    domain = (-_INF, _INF) if a > 1 else (-_INF, 1.0 / (1.0 - a))
    return _make(f"alpha={a:g}", f"alpha-divergence (alpha = {a:g})", f,
                 lambda u: torch.expm1(b * torch.log(u)) / b, raw_conjugate,
                 lambda v: torch.expm1(b * v) / b, lambda v: torch.expm1(a * v) / a,
                 0.0, domain, closed=a < 0)


def f_divergence_bound(v_p: torch.Tensor, v_q: torch.Tensor, divergence: str | FDivergence) -> torch.Tensor:
    """The f-GAN variational lower bound on ``D_f(P || Q)`` from critic outputs (nats).

    ``mean_i g_f(V(x_i)) - mean_j f*(g_f(V(y_j)))`` with ``x_i ~ P`` (data) and ``y_j ~ Q`` (model).

    Args:
        v_p: critic outputs on samples of ``P``, ``(N,)`` or ``(N, 1)``.
        v_q: critic outputs on samples of ``Q``, ``(M,)`` or ``(M, 1)``.
        divergence: a name of :data:`F_DIVERGENCES` or an :class:`FDivergence`.

    Returns:
        A scalar tensor, differentiable in both inputs.

    Raises:
        TypeError / ValueError: non-float tensors, empty inputs, an unknown divergence.

    References:
        Nowozin et al. 2016, eq. (6); Nguyen et al. 2010.
    """
    check_tensor(v_p, "v_p")
    check_tensor(v_q, "v_q")
    return f_divergence(divergence).bound(v_p, v_q)
