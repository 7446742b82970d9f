"""Training dynamics of the Dirac-GAN (Mescheder et al. 2018), the smallest GAN that fails to converge.

The data distribution is a point mass at 0, the generator a point mass at ``theta``, and the
discriminator's logit (critic score) is linear, ``l(x) = psi * x``. The unique equilibrium is
``theta = psi = 0``. The two players' losses are igmlib's own (:mod:`igmlib.losses`,
:mod:`igmlib.models.wgan`, :mod:`igmlib.penalties`) evaluated on this model, so the gradient
vector field

``v(theta, psi) = (-dL_G / dtheta, -dL_D / dpsi)``

comes from autograd. igmlib's convention is a positive logit on data (Mescheder et al. use the
opposite sign of ``psi``; the eigenvalues are the same).

Linearised at the equilibrium, every loss of the form ``V = f(l(x_data)) + f(-l(x_model))``
(``f(t) = log sigmoid(t)`` for the GAN, ``f(t) = t`` for the WGAN) and a penalty whose second
derivative in ``psi`` is ``c`` give the Jacobian ``[[0, a], [-a, -c]]`` with ``a = f'(0)``, whose
eigenvalues are ``-c/2 +- sqrt(c^2/4 - a^2)`` (:func:`analytic_eigenvalues`): purely imaginary
without a penalty (no convergence), negative real parts with one.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ._validation import check_choice, check_positive, check_positive_int
from .losses import SYMMETRIC_LOSSES, discriminator_loss
from .losses import generator_loss as gan_generator_loss
from .penalties import PENALTIES, gradient_penalty, r1_penalty, roth_penalty

MODES = ("simultaneous", "alternating")


def _check_loss(loss):
    if callable(loss):
        return loss
    return check_choice(loss, "loss", SYMMETRIC_LOSSES)


def dirac_gan_losses(
    theta: torch.Tensor,
    psi: torch.Tensor,
    *,
    loss: str | Callable[[torch.Tensor], torch.Tensor] = "minimax",
    penalty: str | None = None,
    weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's and the discriminator's losses (both minimised) of the Dirac-GAN.

    Args:
        theta: the generator's position (scalar tensor).
        psi: the discriminator's slope, ``l(x) = psi * x`` (scalar tensor).
        loss: ``"minimax"``, ``"non_saturating"`` (GAN, :mod:`igmlib.losses`), ``"wasserstein"``
            (:func:`igmlib.losses.discriminator_loss` with ``kind="wasserstein"``), or a function ``f``: D maximises
            ``f(l(0)) + f(-l(theta))`` and G minimises ``f(-l(theta))`` (minimax form).
        penalty: ``None``, ``"r1"`` (adds ``weight / 2 * E_data ||grad l||^2``), ``"gan_dp"``
            (adds ``weight / 2`` times Roth et al.'s regulariser) or ``"wgan_gp"`` (adds
            ``weight * E(||grad l|| - 1)^2``), as :class:`igmlib.models.GAN` and
            :class:`igmlib.models.WGAN` do.
        weight: the penalty's ``gamma`` (``lambda`` for ``"wgan_gp"``).

    Returns:
        ``(generator_loss, discriminator_loss)``, scalar tensors.

    Raises:
        ValueError / TypeError: unknown names, negative weight.
    """
    loss = _check_loss(loss)
    if penalty is not None:
        check_choice(penalty, "penalty", PENALTIES)
    weight = check_positive(weight, "weight", allow_zero=True)
    real = torch.zeros(1, 1, dtype=psi.dtype, device=psi.device)  # the data: a point mass at 0
    fake = theta.reshape(1, 1)                                     # the model: a point mass at theta

    def logit(x):  # the linear discriminator, (N, 1) -> (N, 1)
        return psi * x

    real_logit, fake_logit = logit(real), logit(fake)
    if callable(loss):
        value = loss(real_logit).mean() + loss(-fake_logit).mean()
        lg, ld = loss(-fake_logit).mean(), -value
    elif loss == "wasserstein":
        lg, ld = gan_generator_loss(fake_logit, "wasserstein"), discriminator_loss(real_logit, fake_logit, "wasserstein")
    else:
        lg, ld = gan_generator_loss(fake_logit, loss), discriminator_loss(real_logit, fake_logit, loss)
    if penalty == "r1":
        ld = ld + 0.5 * weight * r1_penalty(logit, real)
    elif penalty == "gan_dp":
        ld = ld + 0.5 * weight * roth_penalty(logit, real, fake)
    elif penalty == "wgan_gp":
        ld = ld + weight * gradient_penalty(logit, real, fake)
    return lg, ld


def vector_field(point: torch.Tensor, **game) -> torch.Tensor:
    """The gradient vector field ``v = (-dL_G/dtheta, -dL_D/dpsi)`` at ``point = (theta, psi)``.

    Args:
        point: shape ``(2,)``. If it requires gradients, the result is differentiable (used by
            :func:`jacobian`); otherwise the result is detached.
        **game: ``loss``, ``penalty``, ``weight`` of :func:`dirac_gan_losses`.

    Shapes:
        ``(2,)`` in, ``(2,)`` out.
    """
    point = torch.as_tensor(point)
    if point.shape != (2,):
        raise ValueError(f"point must have shape (2,) = (theta, psi), got {tuple(point.shape)}")
    differentiable = point.requires_grad
    with torch.enable_grad():
        p = point if differentiable else point.detach().requires_grad_(True)
        lg, ld = dirac_gan_losses(p[0], p[1], **game)
        g_theta = torch.autograd.grad(lg, p, create_graph=differentiable, retain_graph=True)[0][0]
        g_psi = torch.autograd.grad(ld, p, create_graph=differentiable)[0][1]
    v = -torch.stack([g_theta, g_psi])
    return v if differentiable else v.detach()


def field_on_grid(thetas: torch.Tensor, psis: torch.Tensor, **game) -> tuple[torch.Tensor, torch.Tensor]:
    """The vector field at every point of a grid, e.g. for ``plt.quiver``.

    Shapes:
        ``thetas``, ``psis``: the same shape ``S`` (e.g. from ``torch.meshgrid``); returns two tensors of shape ``S``.
    """
    if thetas.shape != psis.shape:
        raise ValueError(f"thetas and psis must have the same shape, got {tuple(thetas.shape)} and {tuple(psis.shape)}")
    v = torch.stack([vector_field(torch.stack([t, s]), **game) for t, s in zip(thetas.reshape(-1), psis.reshape(-1))])
    return v[:, 0].reshape(thetas.shape), v[:, 1].reshape(thetas.shape)


def update(point: torch.Tensor, *, lr: float, mode: str = "simultaneous", n_critic: int = 1, **game) -> torch.Tensor:
    """One gradient step of both players from ``point = (theta, psi)``.

    ``"simultaneous"``: ``x + lr * v(x)``. ``"alternating"``: ``n_critic`` discriminator steps,
    then one generator step at the new ``psi`` (the order :func:`igmlib.fit` uses).
    Differentiable in ``point`` if it requires gradients.
    """
    check_positive(lr, "lr")
    check_choice(mode, "mode", MODES)
    check_positive_int(n_critic, "n_critic")
    point = torch.as_tensor(point)
    if mode == "simultaneous":
        return point + lr * vector_field(point, **game)
    theta, psi = point[0], point[1]
    for _ in range(n_critic):
        psi = psi + lr * vector_field(torch.stack([theta, psi]), **game)[1]
    theta = theta + lr * vector_field(torch.stack([theta, psi]), **game)[0]
    return torch.stack([theta, psi])


def trajectory(start, *, steps: int, lr: float, mode: str = "simultaneous", n_critic: int = 1, **game) -> torch.Tensor:
    """Iterate :func:`update` from ``start = (theta, psi)``; returns the path, shape ``(steps + 1, 2)``."""
    check_positive_int(steps, "steps")
    x = torch.as_tensor(start, dtype=torch.get_default_dtype() if not torch.is_tensor(start) else None).detach()
    path = [x]
    for _ in range(steps):
        x = update(x, lr=lr, mode=mode, n_critic=n_critic, **game).detach()
        path.append(x)
    return torch.stack(path)


def jacobian(point=(0.0, 0.0), *, dtype=torch.float64, **game) -> torch.Tensor:
    """The Jacobian ``dv/d(theta, psi)`` of the vector field at ``point`` (autograd), shape ``(2, 2)``."""
    x = torch.as_tensor(point, dtype=dtype)
    return torch.autograd.functional.jacobian(lambda p: vector_field(p, **game), x, create_graph=False)


def update_jacobian(point=(0.0, 0.0), *, lr: float, mode: str = "simultaneous", n_critic: int = 1,
                    dtype=torch.float64, **game) -> torch.Tensor:
    """The Jacobian of one :func:`update` (the discrete dynamics) at ``point``, shape ``(2, 2)``."""
    x = torch.as_tensor(point, dtype=dtype)
    return torch.autograd.functional.jacobian(lambda p: update(p, lr=lr, mode=mode, n_critic=n_critic, **game), x)


def eigenvalues(matrix: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a square matrix as a complex tensor, sorted by imaginary then real part."""
    return _sorted(complex(z) for z in torch.linalg.eigvals(matrix.to(torch.float64)).tolist())


def equilibrium_constants(loss="minimax", penalty: str | None = None, weight: float = 1.0) -> tuple[float, float]:
    """``(a, c)`` of the Jacobian ``[[0, a], [-a, -c]]`` at the equilibrium, derived by hand.

    ``a = f'(0)``: 1/2 for the GAN losses (``f = log sigmoid``), 1 for the WGAN, autograd for a
    callable ``f``. ``c``: 0 without a penalty; ``gamma`` for R1 (``gamma/2 * psi^2``);
    ``gamma / 2`` for GAN-DP (its second derivative in ``psi`` at the equilibrium is
    ``2[(1 - D)^2 + D^2] = 1`` with ``D = 1/2``); ``2 lambda`` for WGAN-GP, *one-sided* (for
    ``psi -> 0+`` or ``0-``): the penalty ``lambda (|psi| - 1)^2`` is not differentiable at
    ``psi = 0``, where ``v_psi`` jumps by ``4 lambda``, so ``(0, 0)`` is no regular equilibrium.

    References:
        Mescheder, Geiger, Nowozin, "Which Training Methods for GANs do actually Converge?",
        ICML 2018, sections 2-3 (unregularised: eigenvalues ``+-f'(0) i``; R1:
        ``-gamma/2 +- sqrt(gamma^2/4 - f'(0)^2)``).
    """
    loss = _check_loss(loss)
    if callable(loss):
        t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        a = float(torch.autograd.grad(loss(t), t)[0])
    else:
        a = 1.0 if loss == "wasserstein" else 0.5
    weight = check_positive(weight, "weight", allow_zero=True)
    c = {None: 0.0, "r1": weight, "gan_dp": weight / 2, "wgan_gp": 2 * weight}[
        None if penalty is None else check_choice(penalty, "penalty", PENALTIES)]
    return a, c


def analytic_eigenvalues(a: float, c: float = 0.0) -> torch.Tensor:
    """Eigenvalues of ``[[0, a], [-a, -c]]``: ``-c/2 +- sqrt(c^2/4 - a^2)`` (complex128, sorted).

    ``c = 0``: ``+-a i`` (the unregularised GAN: rotation, no convergence); ``0 < c < 2|a|``:
    damped rotation; ``c >= 2|a|``: two negative reals (Mescheder et al. 2018: with R1 and
    ``a = 1/2`` the critical ``gamma`` is 1).
    """
    root = complex(c * c / 4 - a * a) ** 0.5
    return _sorted([-c / 2 + root, -c / 2 - root])


def _sorted(values) -> torch.Tensor:
    values = sorted(values, key=lambda z: (round(z.imag, 9), z.real))
    return torch.tensor(values, dtype=torch.complex128)


def analytic_update_eigenvalues(a: float, c: float, lr: float, mode: str = "simultaneous") -> torch.Tensor:
    """Eigenvalues of the linearised one-step update at the equilibrium (complex128, sorted).

    Simultaneous: ``1 + lr * lambda`` for each ``lambda`` of :func:`analytic_eigenvalues`
    (modulus ``sqrt(1 + lr^2 a^2) > 1`` without a penalty: the iterates spiral outwards).
    Alternating (D then G, one step each): the roots of ``mu^2 - (2 - h c - h^2 a^2) mu + (1 - h c)``
    with ``h = lr`` (modulus 1 without a penalty when ``h |a| < 2``: the iterates circle forever).
    """
    check_choice(mode, "mode", MODES)
    if mode == "simultaneous":
        return _sorted([1 + lr * complex(z) for z in analytic_eigenvalues(a, c).tolist()])
    trace, det = 2 - lr * c - lr * lr * a * a, 1 - lr * c
    root = complex(trace * trace / 4 - det) ** 0.5
    return _sorted([trace / 2 + root, trace / 2 - root])


__all__ = [
    "MODES", "analytic_eigenvalues", "analytic_update_eigenvalues", "dirac_gan_losses",
    "eigenvalues", "equilibrium_constants", "field_on_grid", "jacobian", "trajectory", "update", "update_jacobian",
    "vector_field",
]
