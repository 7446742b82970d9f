"""CycleGAN (Zhu et al. 2017): unpaired translation between two image domains X and Y.

Two generators ``G: X -> Y`` and ``F: Y -> X`` and two discriminators ``D_Y`` (real y vs ``G(x)``)
and ``D_X`` (real x vs ``F(y)``), with least-squares adversarial losses, an L1 cycle-consistency
loss ``F(G(x)) ~ x``, ``G(F(y)) ~ y``, an optional identity loss ``G(y) ~ y``, ``F(x) ~ x``, and
discriminators trained on a history of generated images.
"""
from __future__ import annotations

import torch
from torch import nn

from .._validation import check_betas, check_module, check_positive, check_positive_int, check_tensor
from .. import losses
from ..player import Player, linear_decay
from .base import PlayerLR, adam


def cycle_consistency_loss(original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``E |reconstructed - original|`` over every pixel.

    The paper writes ``E ||F(G(x)) - x||_1``; its implementation (and this function) averages over
    pixels instead of summing, so that the weight ``lambda = 10`` does not depend on the image size.

    Shapes:
        two tensors of the same shape ``(N, C, H, W)`` -> a scalar.

    Raises:
        ValueError: the shapes differ.

    References:
        Zhu et al. 2017, eq. (2).
    """
    if original.shape != reconstructed.shape:
        raise ValueError(f"original {tuple(original.shape)} and reconstructed {tuple(reconstructed.shape)} must have the same shape")
    return (reconstructed - original).abs().mean()


class ImageHistory(nn.Module):
    """A buffer of previously generated images for the discriminator updates.

    ``query(images)`` takes a batch of new images, one at a time: while the buffer holds fewer than
    ``capacity`` images, each new image is stored and returned unchanged; once it is full, each new
    image is, with probability ``probability``, swapped with a uniformly chosen stored one (the old
    image is returned, the new one stored), and otherwise returned unchanged. The discriminator so
    sees a mix of current and past generator outputs, which damps oscillations. With
    ``capacity=0`` it returns its input.

    The stored images are part of ``state_dict`` (extra state), so checkpoints resume exactly.
    Random draws use torch's global RNG (seeded by :func:`igmlib.fit`) unless a ``generator``
    (``torch.Generator`` on the CPU) is given.

    Args:
        capacity: the most images held (CycleGAN: 50).
        probability: the chance that a new image is swapped for an old one once full (0.5).
        generator: optional source of randomness.

    Shapes:
        ``query``: ``(N, ...) -> (N, ...)``, detached.

    References:
        Shrivastava et al., "Learning from Simulated and Unsupervised Images through Adversarial
        Training", CVPR 2017, section 2.3. Zhu et al. 2017, section 4 (a buffer of 50 images).
    """

    def __init__(self, capacity: int = 50, probability: float = 0.5, *, generator: torch.Generator | None = None):
        super().__init__()
        self.capacity = check_positive_int(capacity, "capacity", allow_zero=True)
        self.probability = check_positive(probability, "probability", allow_zero=True)
        if self.probability > 1:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        self.generator = generator
        self.images: torch.Tensor | None = None  # (size, ...) once something was stored

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        check_tensor(images, "images")
        images = images.detach()
        if self.capacity == 0:
            return images
        if self.images is not None and (self.images.shape[1:] != images.shape[1:]):
            raise ValueError(f"images of shape {tuple(images.shape[1:])} do not match the stored {tuple(self.images.shape[1:])}")
        out = images.clone()
        free = self.capacity - len(self)
        if free > 0:  # fill: store and return the first `free` new images unchanged
            stored = images[:free]
            self.images = stored.clone() if self.images is None else torch.cat([self.images.to(images), stored])
        rest = len(images) - max(free, 0)
        if rest <= 0:
            return out
        self.images = self.images.to(images)
        swap = torch.rand(rest, generator=self.generator) < self.probability  # (rest,)
        slots = torch.randint(self.capacity, (rest,), generator=self.generator)
        offset = len(images) - rest
        for i in torch.nonzero(swap).flatten().tolist():  # in order, as the reference pool does
            slot = int(slots[i])
            out[offset + i] = self.images[slot]
            self.images[slot] = images[offset + i]
        return out

    def get_extra_state(self) -> dict:
        return {"images": self.images if self.images is not None else torch.empty(0)}

    def set_extra_state(self, state: dict) -> None:
        images = state["images"]
        self.images = images.clone() if images.numel() else None


class CycleGAN(nn.Module):
    """Unpaired translation ``G: X -> Y`` and ``F: Y -> X`` (Zhu et al. 2017).

    Players, each one Adam update per step on a fresh minibatch ``(x, y)`` (x from X, y from Y, drawn
    independently, e.g. :meth:`igmlib.data.UnpairedDomains.sampler`):

    1. ``generators`` (G and F) minimise, with the least-squares adversarial loss,
       ``E (D_Y(G(x)) - 1)^2 + E (D_X(F(y)) - 1)^2 + cycle_weight * L_cyc + identity_weight * L_idt``,
       ``L_cyc = E|F(G(x)) - x| + E|G(F(y)) - y|``, ``L_idt = E|G(y) - y| + E|F(x) - x|`` (eq. (3));
       the loss minimised is half of that, written with :func:`igmlib.losses.generator_loss`
       (which has LSGAN's 1/2) and :meth:`cycle_loss`: the same minimiser, and Adam's updates
       do not change when a loss is scaled by a constant.
    2. ``discriminators`` (D_X and D_Y) minimise the LSGAN loss
       ``1/2 E (D(real) - 1)^2 + 1/2 E D(fake)^2`` in each domain, the fakes drawn through an
       :class:`ImageHistory` per domain.

    Both learning rates are constant for the first ``decay_start`` fraction of the run, then decay
    linearly to 0 (:func:`igmlib.linear_decay`).

    CycleGAN keeps no weight average of its generators (no ``ema`` option: the paper uses none).
    CycleGAN has no prior to sample from, so it has no ``sample(n)``: it translates given images with
    :meth:`translate_xy` / :meth:`translate_yx` (no gradients) and ``forward(x) = G(x)``
    (differentiable).

    Args:
        generator_xy: ``G``, images of X ``(N, C, H, W)`` -> images of Y, e.g.
            :class:`igmlib.nets.ConvTranslator`.
        generator_yx: ``F``, images of Y -> images of X.
        discriminator_x: ``D_X``, images of X -> scores ``(N, 1)``.
        discriminator_y: ``D_Y``, images of Y -> scores ``(N, 1)``.
        cycle_weight: ``lambda`` of the cycle loss (paper: 10); 0 switches it off (an ablation).
        identity_weight: weight of the identity loss (paper: 0, or ``0.5 * lambda`` = 5 for
            painting <-> photo); needs X and Y of the same shape.
        history: capacity of each image history (paper: 50); 0 uses the current fakes only.
        lr: Adam learning rate of both players (paper: 2e-4).
        lr_generators, lr_discriminators: one player's own learning rate (``None``: ``lr``; the
            two time-scale update rule of Heusel et al. 2017).
        betas: Adam betas (paper: (0.5, 0.999)).
        decay_start: fraction of the run before the linear decay starts (paper: 100 of 200 epochs,
            0.5); ``None`` keeps the learning rate constant.

    Raises:
        TypeError: a network is not an ``nn.Module``, ``betas`` is not a pair of numbers, a weight or
            ``decay_start`` is not a number; in training (:func:`igmlib.fit`), a minibatch that is not a
            pair ``(x_a, x_b)`` of the two domains (e.g. one tensor of images).
        ValueError: negative weights, a negative history, a learning rate <= 0, ``decay_start`` outside [0, 1),
            ``betas`` outside [0, 1).

    References:
        Zhu, Park, Isola, Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent
        Adversarial Networks", ICCV 2017: eqs. (1)-(3), section 4 (least squares, history of 50
        images, lambda = 10, Adam 2e-4 with linear decay), section 5.2 (identity loss).
        Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017.
    """

    # lr_<player>: the value given, else lr (see PlayerLR)
    lr_generators = PlayerLR()
    lr_discriminators = PlayerLR()

    def __init__(
        self,
        generator_xy: nn.Module,
        generator_yx: nn.Module,
        discriminator_x: nn.Module,
        discriminator_y: nn.Module,
        *,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.0,
        history: int = 50,
        lr: float = 2e-4,
        lr_generators: float | None = None,
        lr_discriminators: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        decay_start: float | None = 0.5,
    ):
        super().__init__()
        self.generator_xy = check_module(generator_xy, "generator_xy")
        self.generator_yx = check_module(generator_yx, "generator_yx")
        self.discriminator_x = check_module(discriminator_x, "discriminator_x")
        self.discriminator_y = check_module(discriminator_y, "discriminator_y")
        self.cycle_weight = check_positive(cycle_weight, "cycle_weight", allow_zero=True)
        self.identity_weight = check_positive(identity_weight, "identity_weight", allow_zero=True)
        self.history_x = ImageHistory(check_positive_int(history, "history", allow_zero=True))  # fakes F(y)
        self.history_y = ImageHistory(history)  # fakes G(x)
        self.lr = check_positive(lr, "lr")
        self.lr_generators = lr_generators
        self.lr_discriminators = lr_discriminators
        self.betas = check_betas(betas)
        if decay_start is not None and check_positive(decay_start, "decay_start", allow_zero=True) >= 1:
            raise ValueError(f"decay_start must be a fraction of the run in [0, 1) or None, got {decay_start!r}")
        self.decay_start = decay_start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``G(x)``, differentiably."""
        return self.generator_xy(x)

    @torch.no_grad()
    def translate_xy(self, x: torch.Tensor) -> torch.Tensor:
        """``G(x)``: images of X ``(N, C, H, W)`` to Y, without gradients."""
        return self.generator_xy(check_tensor(x, "x", ndim=4))

    @torch.no_grad()
    def translate_yx(self, y: torch.Tensor) -> torch.Tensor:
        """``F(y)``: images of Y ``(N, C, H, W)`` to X, without gradients."""
        return self.generator_yx(check_tensor(y, "y", ndim=4))

    @torch.no_grad()
    def cycle_x(self, x: torch.Tensor) -> torch.Tensor:
        """``F(G(x))``: the round trip X -> Y -> X, without gradients."""
        return self.generator_yx(self.generator_xy(check_tensor(x, "x", ndim=4)))

    @torch.no_grad()
    def cycle_y(self, y: torch.Tensor) -> torch.Tensor:
        """``G(F(y))``: the round trip Y -> X -> Y, without gradients."""
        return self.generator_xy(self.generator_yx(check_tensor(y, "y", ndim=4)))

    def cycle_loss(self, x: torch.Tensor, y: torch.Tensor, *, fake_y: torch.Tensor | None = None,
                   fake_x: torch.Tensor | None = None) -> torch.Tensor:
        """``E|F(G(x)) - x| + E|G(F(y)) - y|`` (Zhu et al. 2017, eq. (2)), differentiable.

        ``fake_y = G(x)`` and ``fake_x = F(y)``, when given, are reused instead of translated again.
        """
        fake_y = self.generator_xy(x) if fake_y is None else fake_y
        fake_x = self.generator_yx(y) if fake_x is None else fake_x
        return (cycle_consistency_loss(x, self.generator_yx(fake_y))
                + cycle_consistency_loss(y, self.generator_xy(fake_x)))

    def identity_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``E|G(y) - y| + E|F(x) - x|`` (Zhu et al. 2017, section 5.2), differentiable."""
        return cycle_consistency_loss(y, self.generator_xy(y)) + cycle_consistency_loss(x, self.generator_yx(x))

    def generators_loss(self, batch) -> dict[str, torch.Tensor]:
        # (1) Update G and F: fool D_Y and D_X, and come back (cycle), with D_X, D_Y fixed.
        # igmlib's least-squares losses carry LSGAN's 1/2 (Mao et al. 2017) and CycleGAN's eq. (1) does not,
        # so this is half of eq. (3): L_LS(G) + L_LS(F) + lambda/2 L_cyc. Same minimiser, and Adam's
        # updates do not change when the loss is scaled by a constant.
        x, y = _domains(batch)
        fake_y, fake_x = self.generator_xy(x), self.generator_yx(y)
        adversarial = (losses.generator_loss(self.discriminator_y(fake_y), "least_squares")
                       + losses.generator_loss(self.discriminator_x(fake_x), "least_squares"))
        cycle = self.cycle_loss(x, y, fake_y=fake_y, fake_x=fake_x)
        loss = adversarial + 0.5 * self.cycle_weight * cycle
        out = {"adversarial": adversarial.detach(), "cycle": cycle.detach()}
        if self.identity_weight > 0:
            identity = self.identity_loss(x, y)
            loss = loss + 0.5 * self.identity_weight * identity
            out["identity"] = identity.detach()
        return {"loss": loss, **out}

    def discriminators_loss(self, batch) -> dict[str, torch.Tensor]:
        # (2) Update D_X and D_Y: real images -> 1, generated ones (from the histories) -> 0.
        x, y = _domains(batch)
        with torch.no_grad():
            fake_y = self.history_y.query(self.generator_xy(x))
            fake_x = self.history_x.query(self.generator_yx(y))
        loss_y = losses.discriminator_loss(self.discriminator_y(y), self.discriminator_y(fake_y), "least_squares")
        loss_x = losses.discriminator_loss(self.discriminator_x(x), self.discriminator_x(fake_x), "least_squares")
        return {"loss": loss_x + loss_y, "D_X": loss_x.detach(), "D_Y": loss_y.detach()}

    def players(self) -> list[Player]:
        scheduler = linear_decay(self.decay_start) if self.decay_start is not None else None
        return [
            Player("generators", [self.generator_xy, self.generator_yx], self.generators_loss,
                   adam(self.lr_generators, self.betas), scheduler=scheduler),
            Player("discriminators", [self.discriminator_x, self.discriminator_y], self.discriminators_loss,
                   adam(self.lr_discriminators, self.betas), scheduler=scheduler),
        ]


def _domains(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch ``(x, y)`` of both domains (a type check only: no host synchronisation).

    Raises:
        TypeError: ``batch`` is not a pair of tensors (e.g. one tensor of images).
    """
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(isinstance(t, torch.Tensor) for t in batch)):
        got = f"a tuple of {len(batch)}" if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}"
        raise TypeError(f"CycleGAN expects a pair of domains (x_a, x_b) per minibatch, got {got}: train on "
                        "igmlib.data.unpaired_digits(...).sampler(), igmlib.data.unpaired_sampler(x_a, x_b), "
                        "or a tuple (x_a, x_b) of two image tensors")
    return batch[0], batch[1]
