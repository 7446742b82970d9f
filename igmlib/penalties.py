"""Lipschitz constraints and gradient penalties for critics and discriminators.

Pure functions of a network (any callable ``(N, ...) -> (N,)`` or ``(N, 1)``) and samples. The
penalties return the *unweighted* expectation; a model multiplies it by its weight:

``clip_weights``
    WGAN (Arjovsky et al. 2017, Algorithm 1, line 7): clamp every parameter to ``[-c, c]``.
``gradient_penalty``
    WGAN-GP (Gulrajani et al. 2017, eq. 3): ``E[(||grad f(x_hat)||_2 - 1)^2]`` at random
    interpolates ``x_hat = eps * x + (1 - eps) * x~`` with one ``eps ~ U[0, 1]`` per sample.
``r1_penalty``
    Mescheder et al. 2018, eq. (9): ``E_data ||grad D(x)||^2`` (the paper's R1 is ``gamma / 2`` times it).
``roth_penalty``
    Roth et al. 2017 (GAN-DP), the Jensen-Shannon regulariser:
    ``E_P[(1 - sigmoid(l))^2 ||grad l||^2] + E_Q[sigmoid(l)^2 ||grad l||^2]`` for the logit ``l``
    (the paper and its code add ``gamma / 2`` times it to the discriminator's loss).

Every gradient is taken with ``create_graph=True``, so the penalty can be back-propagated to the
network's parameters. Gradients are per sample, which holds only if the network treats samples
independently: no BatchNorm in the critic (Gulrajani et al. 2017, section 4).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._validation import check_module, check_positive, check_tensor, shape_str

Critic = Callable[[torch.Tensor], torch.Tensor]

# The one registry of penalty names: the models and the Dirac-GAN take their names from here.
#: The penalties of a GAN's discriminator (``igmlib.models.GAN(penalty=...)``).
GAN_PENALTIES = ("r1", "gan_dp")
#: Every penalty name, WGAN-GP's included (``igmlib.models.WGAN(constraint="gp")``, :mod:`igmlib.dynamics`).
PENALTIES = (*GAN_PENALTIES, "wgan_gp")


def clip_weights(module: nn.Module, c: float = 0.01) -> None:
    """Clamp every parameter of ``module`` to ``[-c, c]``, in place (WGAN's weight clipping).

    Args:
        module: the critic.
        c: the clipping bound (WGAN: 0.01).

    Raises:
        TypeError: ``module`` is not an ``nn.Module``.
        ValueError: ``c`` is not positive.

    References:
        Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017, Algorithm 1 (``c = 0.01``).
    """
    check_module(module, "module")
    c = check_positive(c, "c")
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)


def _check_samples(x: torch.Tensor, name: str) -> torch.Tensor:
    x = check_tensor(x, name)
    if x.dim() < 2:
        raise ValueError(
            f"{name} must have shape (N, ...) with a batch dimension, got {shape_str(x.shape)}: "
            f"use {name}.reshape(-1, 1) for N scalar samples"
        )
    return x


def _check_pair(real: torch.Tensor, fake: torch.Tensor) -> None:
    _check_samples(real, "real")
    _check_samples(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {shape_str(real.shape)} and {shape_str(fake.shape)}: "
            "draw as many generator samples as data samples"
        )


def _output(critic: Critic, x: torch.Tensor) -> torch.Tensor:
    out = critic(x)
    if not isinstance(out, torch.Tensor) or out.shape not in ((len(x),), (len(x), 1)):
        got = shape_str(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the critic must map (N, ...) to (N,) or (N, 1), got {got} for N = {len(x)}")
    return out.reshape(-1)


def input_gradient(critic: Critic, x: torch.Tensor, *, create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's outputs and their gradients with respect to the inputs, per sample.

    Args:
        critic: maps ``(N, ...)`` to ``(N,)`` or ``(N, 1)``.
        x: inputs ``(N, ...)``. If ``x`` already requires gradients (e.g. a generator's output), the
            gradient's graph also reaches whatever produced ``x``: pass ``x.detach()`` to stop that.
        create_graph: keep the graph of the gradient (needed to train on a penalty).

    Shapes:
        Returns outputs ``(N,)`` and gradients with the shape of ``x``.

    Raises:
        TypeError / ValueError: ``x`` not a float tensor with a batch dimension, bad critic output.
    """
    x = _check_samples(x, "x")
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = _output(critic, x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph)
    return out, grad


def gradient_norms(critic: Critic, x: torch.Tensor, *, create_graph: bool = True) -> torch.Tensor:
    """``||grad_x critic(x)||_2`` for every sample, shape ``(N,)`` (flattening ``C, H, W`` ...)."""
    _, grad = input_gradient(critic, x, create_graph=create_graph)
    return grad.flatten(1).norm(2, dim=1)


def interpolate(real: torch.Tensor, fake: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random points on the segments between paired samples: ``eps * real + (1 - eps) * fake``.

    One ``eps ~ U[0, 1]`` per sample, broadcast over the other dimensions (shape ``(N, 1, ..., 1)``),
    as in WGAN-GP's Algorithm 1 (not one per pixel). Both inputs are detached.

    Shapes:
        ``real``, ``fake``: ``(N, ...)`` (the same); returns ``(N, ...)``.

    Raises:
        ValueError: the shapes differ or lack a batch dimension.
    """
    _check_pair(real, fake)
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype,
                     generator=generator)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    target: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's two-sided penalty ``E[(||grad_x f(x_hat)||_2 - target)^2]``.

    Args:
        critic: ``f``, maps ``(N, ...)`` to ``(N,)`` or ``(N, 1)``; no BatchNorm (per-sample gradients).
        real: data samples ``(N, ...)``, any shape after the batch dimension.
        fake: generator samples, same shape as ``real`` (detached here).
        target: the gradient norm to pull towards (1 for a 1-Lipschitz critic).
        generator: a ``torch.Generator`` for the interpolation coefficients (default: global RNG).

    Returns:
        A scalar tensor, differentiable with respect to the critic's parameters.

    Raises:
        TypeError / ValueError: non-float inputs, different shapes, no batch dimension, a critic
            output that is not ``(N,)`` or ``(N, 1)``.

    References:
        Gulrajani, Ahmed, Arjovsky, Dumoulin, Courville, "Improved Training of Wasserstein GANs",
        NeurIPS 2017, eq. (3) and Algorithm 1 (``lambda = 10`` is applied by the model).
    """
    x_hat = interpolate(real, fake, generator=generator)
    return ((gradient_norms(critic, x_hat) - float(target)) ** 2).mean()


def r1_penalty(discriminator: Critic, real: torch.Tensor) -> torch.Tensor:
    """``E_data ||grad_x D(x)||_2^2``, the gradient of the discriminator's logit on real data.

    Mescheder et al. add ``gamma / 2`` times this to the discriminator's loss (the R1 regulariser).

    Args:
        discriminator: maps ``(N, ...)`` to logits ``(N,)`` or ``(N, 1)``.
        real: data samples ``(N, ...)``.

    Returns:
        A scalar tensor, differentiable with respect to the discriminator's parameters.

    Raises:
        TypeError / ValueError: as :func:`gradient_penalty`.

    References:
        Mescheder, Geiger, Nowozin, "Which Training Methods for GANs do actually Converge?",
        ICML 2018, eq. (9).
    """
    _, grad = input_gradient(discriminator, real)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def roth_penalty(discriminator: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The GAN-DP regulariser of Roth et al. for the Jensen-Shannon GAN, with ``D = sigmoid(l)``:

    ``E_P[(1 - D(x))^2 ||grad_x l(x)||^2] + E_Q[D(x)^2 ||grad_x l(x)||^2]``,

    estimated as the mean over the real and fake batches of the per-sample sum (as the authors'
    code does). The weights ``(1 - D)^2`` and ``D^2`` are not detached. The discriminator's loss
    gets ``gamma / 2`` times this (the authors anneal ``gamma``; 2 is a typical value).

    Args:
        discriminator: maps ``(N, ...)`` to logits ``(N,)`` or ``(N, 1)``.
        real: data samples ``(N, ...)`` (``P``).
        fake: generator samples ``(N, ...)`` (``Q``), same shape; not detached here (pass
            ``fake.detach()`` in a discriminator update, as :class:`igmlib.models.GAN` does).

    Returns:
        A scalar tensor, differentiable with respect to the discriminator's parameters.

    Raises:
        TypeError / ValueError: as :func:`gradient_penalty`.

    References:
        Roth, Lucchi, Nowozin, Hofmann, "Stabilizing Training of Generative Adversarial Networks
        through Regularization", NeurIPS 2017 (the regulariser ``Omega_JS`` for the JS-GAN);
        the authors' code (github.com/rothk/Stabilizing_GANs) adds ``gamma / 2`` times it.
    """
    _check_pair(real, fake)
    real_logits, real_grad = input_gradient(discriminator, real)
    fake_logits, fake_grad = input_gradient(discriminator, fake)
    real_term = (1 - torch.sigmoid(real_logits)) ** 2 * real_grad.flatten(1).pow(2).sum(dim=1)
    fake_term = torch.sigmoid(fake_logits) ** 2 * fake_grad.flatten(1).pow(2).sum(dim=1)
    return (real_term + fake_term).mean()


__all__ = ["clip_weights", "gradient_norms", "gradient_penalty", "input_gradient", "interpolate", "r1_penalty", "roth_penalty"]
