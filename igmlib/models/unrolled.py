"""The unrolled GAN (Metz et al. 2017): the generator's loss looks k discriminator steps ahead."""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .._validation import check_choice, check_positive, check_positive_int
from .. import losses
from ..player import Player
from .base import adam
from .gan import GAN

#: The optimizers the unrolled discriminator steps can replay.
UNROLL_OPTIMIZERS = ("adam", "sgd")


class UnrolledGAN(GAN):
    """A :class:`GAN` whose generator minimises its loss against the discriminator *after* ``k``
    more discriminator updates, differentiating through those updates.

    With ``theta_D^0`` the discriminator's current parameters and
    ``theta_D^{i+1} = step(theta_D^i, grad_D L_D(theta_G, theta_D^i))`` (the discriminator's own
    update rule, ``L_D`` its loss), the generator minimises its loss at ``theta_D^k``, a function of
    ``theta_G`` through the ``k`` steps (the paper's surrogate loss ``f_K``, section 2)::

        L_G^k(theta_G) = E_z g(l(G(z); theta_D^k(theta_G, theta_D)))

    ``g`` is the generator's loss of the GAN's ``loss`` kind (:func:`igmlib.losses.generator_loss`).
    Its gradient is the plain GAN's at the unrolled discriminator plus a term through
    ``d theta_D^k / d theta_G``: how the discriminator would react to the generator's move, which is
    what discourages the generator from hopping onto whatever mode the current discriminator
    favours. ``k = 0`` is the plain GAN. The discriminator itself is updated as in the plain GAN;
    the unrolled copies are computed with :func:`torch.func.functional_call` and never change its
    parameters or buffers. As in the authors' demo notebook, the ``k`` unrolled steps reuse one
    data minibatch and one generator minibatch (the generator player therefore receives data), and
    the steps replay the discriminator's Adam (its current moments, step count and learning rate,
    when the model is trained by :func:`igmlib.fit` with its own optimizers) or a plain SGD step.

    Cost: each generator update runs ``k`` discriminator forward and backward passes with their
    graphs kept, then back-propagates through all of them: roughly ``k + 1`` times a plain
    generator update in time and memory.

    Args:
        generator, discriminator, latent_dim, loss: as :class:`GAN`.
        lr, lr_discriminator, lr_generator, betas: as :class:`GAN` (the authors' 2-D demo:
            discriminator 1e-4, generator 1e-3, beta1 0.5).
        ema, decay_start: as :class:`GAN`.
        unrolled_steps: ``k`` (the authors' demo: 5; ``0`` is the plain GAN).
        unroll_optimizer: ``"adam"`` (replay the discriminator's Adam; a fresh Adam state when the
            model is not being trained by ``fit`` with its own optimizer, e.g. called directly)
            or ``"sgd"`` (``theta <- theta - unroll_lr * grad``, the paper's gradient step).
        unroll_lr: the step size of the unrolled steps (``None``: ``lr_discriminator``, the
            discriminator optimizer's current rate under ``fit``).

    Raises:
        TypeError / ValueError: as :class:`GAN`; a negative ``unrolled_steps``, an unknown
            ``unroll_optimizer``, a non-positive ``unroll_lr``, or a ``penalty`` (the unrolled steps
            replay the unpenalised loss only).

    References:
        Metz, Poole, Pfau, Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017,
        section 2 (unrolling, the surrogate loss and its extra gradient term) and the 2-D mixture
        experiment (Figure 1); the authors' demo
        notebook (github.com/poolio/unrolled_gan, ``Unrolled GAN demo.ipynb``: Keras' Adam unrolled
        with ``graph_replace``, 5 steps, one minibatch).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        latent_dim: int,
        *,
        unrolled_steps: int = 5,
        unroll_optimizer: str = "adam",
        unroll_lr: float | None = None,
        loss: str = "non_saturating",
        lr: float = 2e-4,
        lr_discriminator: float | None = None,
        lr_generator: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
        penalty: str | None = None,
        ema: float | None = None,
        decay_start: float | None = None,
    ):
        if penalty is not None:
            raise ValueError(f"UnrolledGAN does not support penalty={penalty!r}: its unrolled discriminator "
                             "steps replay the unpenalised loss; use penalty=None")
        super().__init__(generator, discriminator, latent_dim, loss=loss, lr=lr, lr_discriminator=lr_discriminator,
                         lr_generator=lr_generator, betas=betas, ema=ema, decay_start=decay_start)
        self.unrolled_steps = check_positive_int(unrolled_steps, "unrolled_steps", allow_zero=True)
        self.unroll_optimizer = check_choice(unroll_optimizer, "unroll_optimizer", UNROLL_OPTIMIZERS)
        self.unroll_lr = None if unroll_lr is None else check_positive(unroll_lr, "unroll_lr")
        self._discriminator_optimizer: torch.optim.Optimizer | None = None  # set by fit, read by the Adam replay

    # ---- the unrolled discriminator ------------------------------------------------------------
    def unrolled_parameters(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """``theta_D^k``: the discriminator's parameters after ``k`` updates on ``(real, fake)``, by
        name, differentiable with respect to ``fake`` (so to the generator's parameters)."""
        params = {n: p.detach().requires_grad_(True) for n, p in self.discriminator.named_parameters()}
        buffers = {n: b.clone() for n, b in self.discriminator.named_buffers()}  # BatchNorm/SN stats stay put
        state = self._adam_state(params) if self.unroll_optimizer == "adam" else None
        for _ in range(self.unrolled_steps):
            real_logits = functional_call(self.discriminator, {**params, **buffers}, (real,))
            fake_logits = functional_call(self.discriminator, {**params, **buffers}, (fake,))
            d_loss = losses.discriminator_loss(real_logits, fake_logits, self.loss)
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = self._step(params, dict(zip(params, grads)), state)
        return params

    def _rate(self) -> float:
        if self.unroll_lr is not None:
            return self.unroll_lr
        opt = self._live_optimizer()
        return opt.param_groups[0]["lr"] if opt is not None else self.lr_discriminator

    def _live_optimizer(self) -> torch.optim.Optimizer | None:
        """The discriminator's optimizer of the current ``fit`` if it is an Adam over its parameters."""
        opt = self._discriminator_optimizer
        if not isinstance(opt, torch.optim.Adam):
            return None
        owned = {id(p) for group in opt.param_groups for p in group["params"]}
        return opt if all(id(p) in owned for p in self.discriminator.parameters()) else None

    def _adam_state(self, params: dict[str, torch.Tensor]) -> dict:
        """Adam's moments ``m, v`` and step counts (flat, over all parameters) and its betas to
        start the replay from: the live optimizer's (detached copies), else zeros (a fresh Adam)."""
        opt = self._live_optimizer()
        live = {} if opt is None else opt.state
        group = opt.param_groups[0] if opt is not None else {"betas": self.betas, "eps": 1e-8}
        m, v, t = [], [], []
        for p, original in zip(params.values(), self.discriminator.parameters()):
            s = live.get(original, {})
            m.append(s["exp_avg"].detach().reshape(-1) if "exp_avg" in s else torch.zeros_like(p).reshape(-1))
            v.append(s["exp_avg_sq"].detach().reshape(-1) if "exp_avg_sq" in s else torch.zeros_like(p).reshape(-1))
            t.append(torch.full((p.numel(),), float(s["step"]) if "step" in s else 0.0, dtype=p.dtype, device=p.device))
        return {"betas": group["betas"], "eps": group["eps"], "m": torch.cat(m), "v": torch.cat(v), "t": torch.cat(t)}

    def _step(self, params: dict, grads: dict, state: dict | None) -> dict[str, torch.Tensor]:
        """One differentiable update of the discriminator's parameters: SGD, or Adam as
        ``torch.optim.Adam`` computes it on all parameters at once (state advanced in place)."""
        lr = self._rate()
        if state is None:
            return {n: p - lr * grads[n] for n, p in params.items()}
        (b1, b2), eps = state["betas"], state["eps"]
        g = torch.cat([grads[n].reshape(-1) for n in params])                  # (P,) all parameters
        m = state["m"] = b1 * state["m"] + (1 - b1) * g
        v = state["v"] = b2 * state["v"] + (1 - b2) * g * g
        t = state["t"] = state["t"] + 1
        positive = v > 0  # sqrt has an infinite slope at 0: route those entries around it
        root = torch.where(positive, torch.where(positive, v, torch.ones_like(v)).sqrt(), torch.zeros_like(v))
        step = (lr / (1 - b1**t)) * m / (root / (1 - b2**t).sqrt() + eps)      # (P,)
        pieces = step.split([p.numel() for p in params.values()])
        return {n: p - d.view_as(p) for (n, p), d in zip(params.items(), pieces)}

    # ---- the players ---------------------------------------------------------------------------
    def generator_loss(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        # (2) Update G: minimise its loss against D after k unrolled updates on this minibatch.
        fake = self.generator(self.prior(len(real)))
        if self.unrolled_steps == 0:
            logits = self.discriminator(fake)
        else:
            params = self.unrolled_parameters(real, fake)
            buffers = {n: b.clone() for n, b in self.discriminator.named_buffers()}
            logits = functional_call(self.discriminator, {**params, **buffers}, (fake,))
        return {"loss": losses.generator_loss(logits, self.loss),
                "D_k(G(z))": torch.sigmoid(logits).mean().detach()}

    def _remember(self, factory):
        def make(parameters):
            self._discriminator_optimizer = factory(parameters)
            return self._discriminator_optimizer

        return make

    def players(self) -> list[Player]:
        self._discriminator_optimizer = None  # fit makes a new one (unless it is given another)
        return self.with_options([
            Player("discriminator", [self.discriminator], self.discriminator_loss,
                   self._remember(adam(self.lr_discriminator, self.betas))),
            Player("generator", [self.generator], self.generator_loss, adam(self.lr_generator, self.betas)),
        ])
