"""The model protocol of igmlib: a model is a :class:`Trainable` that declares its :class:`Player` s.

A *player* is one side of the game (generator, discriminator, critic, encoder ...): the modules
it updates, the loss it minimises, its optimizer and how many updates it takes per step.
:func:`igmlib.fit` runs the players in order; models never call ``optimizer.step()`` themselves.

Adding a model means writing one ``nn.Module`` with ``players()`` (see ``CONTRIBUTING.md``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Union, runtime_checkable

import torch
from torch import nn

from ._validation import check_positive_int

#: What a player's loss receives: a data minibatch (a tensor, or a tuple such as ``(x, y)``), or,
#: for a player with ``needs_data=False``, the batch size (an int).
Batch = Union[torch.Tensor, tuple[torch.Tensor, ...], int]
#: ``loss(batch) -> scalar tensor`` or ``-> {"loss": scalar, other logged scalars ...}``.
LossFunction = Callable[[Batch], Union[torch.Tensor, Mapping[str, torch.Tensor]]]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


@dataclass(frozen=True)
class Player:
    """One player of a model: the modules it updates, its loss, its optimizer and its updates per step.

    **The naming rule** every model of igmlib follows (a test checks it):

    - a player's loss is the model's method ``<name>_loss``: the player ``"discriminator"`` minimises
      ``model.discriminator_loss(batch)``, ``"critic"`` minimises ``model.critic_loss(batch)``;
    - the number of optimizer updates a player takes per step (iteration) is ``updates``; a model
      exposes it under the paper's name where the paper has one (WGAN's ``n_critic``), else as
      ``<name>_updates`` (AVB's ``adversary_updates``);
    - learning rates are ``lr`` for every player, and ``lr_<name>`` for one player where a model
      lets them differ (InfoGAN's ``lr_discriminator``, AVB's ``lr_adversary``);
    - the network that maps a latent to the parameters of ``p(x | z)`` is a ``decoder``; one that
      maps a latent to a sample is a ``generator``.

    Attributes:
        name: the player's role, e.g. ``"discriminator"``; keys the history, the optimizers and
            ``fit(optimizers=...)``.
        modules: the modules whose parameters this player's optimizer updates.
        loss: ``loss(batch) -> Tensor`` (a scalar, minimised) or ``-> dict`` with the minimised value
            under ``"loss"`` and extra scalars to log (e.g. ``{"loss": l, "D(x)": m}``).
        optimizer: ``optimizer(parameters) -> torch.optim.Optimizer`` (the paper's default).
        updates: optimizer updates per step, each on a fresh minibatch (e.g. ``n_critic = 5`` for a
            WGAN critic).
        needs_data: whether ``loss`` receives a data minibatch; if not, it receives the batch size
            (an int), e.g. for a generator update that only draws latents.
        after_update: called after each optimizer update (e.g. weight clipping), or ``None``.
        scheduler: ``scheduler(optimizer, steps) -> LRScheduler`` given the run's total ``steps``,
            stepped once per step after the player's updates (e.g. :func:`linear_decay`), or
            ``None`` for a constant learning rate.
    """

    name: str
    modules: Sequence[nn.Module]
    loss: LossFunction
    optimizer: OptimizerFactory
    updates: int = 1
    needs_data: bool = True
    after_update: Callable[[], None] | None = None
    scheduler: SchedulerFactory | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"a player's name must be a Python identifier (it names the method <name>_loss), "
                             f"got {self.name!r}")
        check_positive_int(self.updates, f"updates of player {self.name!r}")

    def parameters(self) -> list[nn.Parameter]:
        """The parameters of ``modules``, each once, in order."""
        return list({id(p): p for module in self.modules for p in module.parameters()}.values())


@runtime_checkable
class Trainable(Protocol):
    """What :func:`igmlib.fit` needs of a model: an ``nn.Module`` (parameters, buffers, state dict,
    train mode) that declares its players. Every model in :mod:`igmlib.models` is one.

    ``players()`` is called once at the start of each ``fit``; it returns the players in the order
    each step runs them (usually the discriminator or critic first).
    """

    def players(self) -> list[Player]: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def buffers(self, recurse: bool = True) -> Iterator[torch.Tensor]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...


def check_trainable(model) -> list[Player]:
    """Return ``model.players()`` after checking ``model`` against :class:`Trainable`.

    Raises:
        TypeError: ``model`` lacks a member of the protocol, or ``players()`` returns something
            other than a non-empty list of :class:`Player`.
        ValueError: two players share a name.
    """
    if not isinstance(model, Trainable):
        missing = [m for m in ("players", "parameters", "buffers", "state_dict", "load_state_dict", "train")
                   if not callable(getattr(model, m, None))]
        raise TypeError(
            f"model must be an igmlib.Trainable (an nn.Module with players() -> list[Player]); "
            f"{type(model).__name__} lacks {', '.join(missing)}: see CONTRIBUTING.md, 'Adding a model'"
        )
    players = model.players()
    if not isinstance(players, (list, tuple)) or not players or not all(isinstance(p, Player) for p in players):
        raise TypeError(f"{type(model).__name__}.players() must return a non-empty list of igmlib.Player, "
                        f"got {players!r}")
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise ValueError(f"player names must be unique, got {names}")
    return list(players)


def batch_data(batch: Batch) -> torch.Tensor:
    """The data tensor of a minibatch: the batch itself, or ``x`` of a tuple ``(x, y, ...)``
    (labels are ignored by unconditional models)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def linear_decay(start: float = 0.5) -> SchedulerFactory:
    """Scheduler factory: constant learning rate for the first ``start`` fraction of the run, then
    linear decay to zero at the last step (CycleGAN: 100 epochs constant, 100 decaying = 0.5).

    Raises:
        ValueError: ``start`` outside ``[0, 1)``.

    References:
        Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
        ICCV 2017, section 4 (training details).
    """
    if not 0 <= start < 1:
        raise ValueError(f"start must be a fraction of the run in [0, 1), got {start!r}")

    def factory(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
        flat = int(start * steps)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda t: 1.0 if t < flat else max(0.0, (steps - t) / max(steps - flat, 1)))

    return factory
