"""Adversarial losses as pure functions of discriminator outputs (logits).

All are means over the batch, to be *minimised* by the named player, and written in numerically
stable form (``softplus`` instead of ``log(sigmoid(.))`` or ``log(1 - D)``). With
``D(x) = sigmoid(l)``: ``log D = -softplus(-l)`` and ``log(1 - D) = -softplus(l)``.

Kinds:

``minimax``
    Goodfellow et al. 2014, eq. (1): D maximises ``E log D(x) + E log(1 - D(G(z)))``;
    G minimises ``E log(1 - D(G(z)))`` (saturates when D rejects the samples).
``non_saturating``
    Same D loss; G maximises ``E log D(G(z))`` (Goodfellow et al. 2014, section 3).
``least_squares``
    Mao et al. 2017 (LSGAN), eq. (2) with ``a = 0, b = c = 1``: outputs are scores, not logits.
``wasserstein``
    Arjovsky et al. 2017 (WGAN), eq. (3) and Algorithm 1: outputs are critic scores ``f(x)``; the
    critic minimises ``E f(G(z)) - E f(x)`` (so its negation estimates W1 when ``f`` is
    1-Lipschitz), the generator minimises ``-E f(G(z))``. Used by :class:`igmlib.models.WGAN`.
``hinge``
    Lim and Ye 2017 ("Geometric GAN", the SVM margin loss); Miyato et al. 2018 (SN-GAN: the hinge
    version of the loss in their experiments); Brock et al. 2019 (BigGAN): outputs are scores
    ``D(x)``; D minimises
    ``E relu(1 - D(x)) + E relu(1 + D(G(z)))`` (a margin of 1: no gradient from real scores above 1
    or fake scores below -1), G minimises ``-E D(G(z))``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validation import check_choice

# The one registry of loss kinds: models, the Dirac-GAN and the tests take their names from here.
#: The kinds of :class:`igmlib.models.GAN` (and InfoGAN).
GAN_LOSSES = ("minimax", "non_saturating", "least_squares", "hinge")
#: Every kind :func:`discriminator_loss` and :func:`generator_loss` take.
LOSSES = (*GAN_LOSSES, "wasserstein")
#: The kinds whose value has the form ``V = f(l(x)) + f(-l(G(z)))`` (``f = log sigmoid``, or the
#: identity for ``wasserstein``): the ones :mod:`igmlib.dynamics` analyses (LSGAN's is not of this form,
#: and hinge's generator does not minimise the discriminator's value).
SYMMETRIC_LOSSES = ("minimax", "non_saturating", "wasserstein")


def _check_logits(logits: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {logits.dtype}: use {name}.float()")
    if logits.dim() == 2 and logits.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got {tuple(logits.shape)}")
    if logits.dim() not in (1, 2):
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got {tuple(logits.shape)}")
    return logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "minimax") -> torch.Tensor:
    """The discriminator's loss (to minimise) on real and generated samples.

    Args:
        real_logits: ``D``'s outputs on data, shape ``(N,)`` or ``(N, 1)``.
        fake_logits: ``D``'s outputs on generator samples, shape ``(M,)`` or ``(M, 1)``.
        kind: ``minimax`` or ``non_saturating`` (both: binary cross-entropy), ``least_squares``,
            ``wasserstein`` (the critic's ``E f(G(z)) - E f(x)``) or ``hinge``
            (``E relu(1 - D(x)) + E relu(1 + D(G(z)))``).

    Returns:
        A scalar tensor (nats for the cross-entropy kinds).

    Raises:
        TypeError / ValueError: non-tensor or non-float logits, bad shapes, unknown ``kind``.
    """
    check_choice(kind, "kind", LOSSES)
    real_logits = _check_logits(real_logits, "real_logits")
    fake_logits = _check_logits(fake_logits, "fake_logits")
    if kind == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    if kind == "least_squares":
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    # -E log D(x) - E log(1 - D(G(z)))
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss (to minimise) from ``D``'s outputs on its samples.

    Args:
        fake_logits: ``D``'s outputs on generator samples, shape ``(N,)`` or ``(N, 1)``.
        kind: ``minimax`` (``E log(1 - D)``), ``non_saturating`` (``-E log D``), ``least_squares``,
            ``wasserstein`` or ``hinge`` (both ``-E D(G(z))``).

    Returns:
        A scalar tensor.

    Raises:
        TypeError / ValueError: as :func:`discriminator_loss`.
    """
    check_choice(kind, "kind", LOSSES)
    fake_logits = _check_logits(fake_logits, "fake_logits")
    if kind in ("wasserstein", "hinge"):
        return -fake_logits.mean()
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()  # E log(1 - D(G(z)))
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()  # -E log D(G(z))
    return 0.5 * ((fake_logits - 1) ** 2).mean()
