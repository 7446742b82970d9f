"""The one training loop for every model in igmlib.

A model is a :class:`igmlib.Trainable`: an ``nn.Module`` that declares its *players* (generator,
discriminator, critic, encoder ...) with ``players()``. One *step* of :func:`fit` runs every
player in order, each for its ``updates`` optimizer updates, each update on a fresh minibatch::

    for step in range(steps):
        for player in model.players():
            for _ in range(player.updates):
                loss = player.loss(minibatch)       # e.g. model.discriminator_loss(x)
                zero_grad; loss.backward(); optimizer.step()
        record the losses, check them, run callbacks, checkpoint

Everything else (resume, gradient gating, precision, data parallelism, the log buffer) is a named
unit in :mod:`igmlib._loop`, :mod:`igmlib.checkpoint` and :mod:`igmlib._distributed`.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch

from . import _distributed
from ._loop import (AMP_MODES, GradientGate, LogBuffer, batch_sampler, checked_first_batch, loss_functions, make_update,
                    model_device, model_dtype)
from ._validation import check_path, check_positive_int
from .callbacks import TrainState
from .checkpoint import non_finite, resume as resume_from, rng_state, save_checkpoint
from .player import OptimizerFactory, Player, Trainable, check_trainable
from .runtime import progress_enabled


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite. Attributes: ``step``, ``player``, ``history`` (up to the
    last finite step) and ``checkpoint`` (path of the last good checkpoint, or ``None``)."""

    def __init__(self, message, *, step, player, history, checkpoint):
        super().__init__(message)
        self.step, self.player, self.history, self.checkpoint = step, player, history, checkpoint


def fit(
    model: Trainable,
    data,
    *,
    steps: int,
    batch_size: int = 256,
    seed: int | None = None,
    optimizers: dict[str, OptimizerFactory] | None = None,
    callbacks: Sequence[Callable[[TrainState], None]] = (),
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: str | os.PathLike | None = None,
    new_hyperparameters: bool = False,
    progress: bool | None = None,
    amp: bool | str = False,
    compile: bool | dict = False,
    distributed: bool | None = None,
    sync_every: int = 50,
) -> dict[str, list[float]]:
    """Train ``model`` on ``data`` for ``steps`` steps; return the per-step loss history.

    The model stays on its device (move it first: ``model.to(igm.device())``); data are moved to it.

    Args:
        model: an :class:`igmlib.Trainable` (an ``nn.Module`` with ``players() -> list[Player]``).
        data: a ``torch.distributions.Distribution`` with ``event_shape (d,)``, a tensor ``(N, ...)``,
            a tuple of tensors sharing ``N`` (minibatches are tuples), or a callable
            ``batch_size -> batch``.
        steps: total number of steps (iterations), counting those of a resumed checkpoint.
        batch_size: minibatch size for every update (per process in a data-parallel run).
        seed: ``None`` (default) draws from torch's global random state as it stands, like any torch
            code. An int calls ``torch.manual_seed(seed)`` first (``seed + rank`` on each rank of a
            data-parallel run), i.e. it *re-seeds torch's global generator* (CPU and CUDA), so the
            run is reproducible; Python's ``random`` and NumPy are not touched (igmlib's models draw
            only from torch). Ignored on resume: the checkpoint's random state is restored.
        optimizers: per-player overrides, ``{"generator": lambda p: torch.optim.Adam(p, lr=1e-3)}``.
        callbacks: called as ``callback(TrainState)`` after every step (e.g. :class:`igmlib.Snapshots`).
            ``TrainState.history`` is complete up to that step, except for callbacks with an
            attribute ``needs_history = False`` (such as :class:`igmlib.Snapshots`): they may see a
            history up to ``sync_every`` steps behind, and do not force a host sync each step.
        checkpoint: file to write a checkpoint to every ``checkpoint_every`` steps and at the end.
        checkpoint_every: steps between checkpoints.
        resume: a checkpoint written by ``fit``; training continues exactly as the uninterrupted
            run would have (same minibatches, same losses). The run must match the one that wrote
            it (model class, players, batch size, seed, optimizers and their settings); see
            ``new_hyperparameters`` to change learning rates on purpose.
        new_hyperparameters: with ``resume``, continue with *this* run's optimizer settings
            (learning rates, betas ...) and total ``steps`` instead of refusing when they differ
            from the checkpoint's: e.g. after :class:`TrainingDiverged`, build the model with a
            lower ``lr`` (or pass ``optimizers=``) and resume from the last good checkpoint. The
            optimizers keep their state (Adam's moments); a schedule keeps its progress.
        progress: show a tqdm progress bar; ``None`` follows ``$IGM_PROGRESS`` (default on).
        amp: ``"bf16"`` runs each player's loss under ``torch.autocast(device_type, torch.bfloat16)``
            (matrix products and convolutions in bfloat16, backward outside autocast; no loss
            scaling needed). Numerically safe for the adversarial losses on logits and the MLP/conv
            networks; avoid it where the loss subtracts nearly equal numbers (Monte Carlo
            log-likelihoods with ``logsumexp`` over many samples, MMD with small bandwidths).
            Mostly useful on GPUs with bfloat16 units; default ``False`` (float32).
        compile: ``True`` (or a dict of ``torch.compile`` options, e.g. ``{"mode": "max-autotune"}``)
            compiles each player's loss function (forward and loss together, one graph per player;
            the loop, optimizers and callbacks stay eager). Compilation takes seconds to minutes and
            needs a C compiler on CPU; compiled random draws may differ from eager ones, so a
            compiled run is not bitwise equal to an eager one.
        distributed: data-parallel training over ``torch.distributed`` (launch with
            ``torchrun --nproc_per_node=N``): ``None`` uses an initialised process group, ``True``
            initialises one from ``torchrun``'s environment. Rank 0's parameters are broadcast at
            the start; each player's gradients are averaged over the ranks before its optimizer
            step (``N`` ranks x batch ``B`` = one process with batch ``N * B``); the history is the
            mean over ranks; only rank 0 shows progress and writes checkpoints.
        sync_every: steps between copies of the logged values from the device to the host. NaN/Inf
            are detected at these copies (and at checkpoints, the end and callbacks that need the
            history), so a diverging run stops up to ``sync_every - 1`` steps after the bad step.

    The first minibatch is checked (floating point, the model's dtype, finite; a tensor ``data`` is
    checked whole), and a shape error in a player's first loss is reported with the minibatch's shape,
    ``latent_dim`` and the model's networks. Later steps run unchecked: no host synchronisation.

    Returns:
        The history: ``{loss name: [value at step 1, step 2, ...]}``; the name is the player's for
        its minimised loss (e.g. ``"discriminator"``) and the reported name for extras.

    Raises:
        TypeError / ValueError: bad arguments, all checked before the first step: a model that is
            not :class:`igmlib.Trainable`; ``steps``, ``batch_size``, ``seed``, ``checkpoint_every`` or
            ``sync_every`` not ints of the right sign; ``optimizers`` not a dict of factories (or a
            factory that does not return a ``torch.optim.Optimizer``, or an unknown player);
            ``callbacks`` not callables; ``checkpoint`` / ``resume`` not a path (``str`` or
            ``os.PathLike``) or ``checkpoint`` a directory; unknown ``amp``; data that are not
            floating point, not of the model's dtype, NaN/Inf, 1-D, image batches (4-D) with pixels
            outside [-1, 1], a batch larger than the data; a shape error of the first update (the
            message names the minibatch's shape, ``latent_dim`` and the networks).
        igmlib.checkpoint.CheckpointError (a ValueError): ``resume`` names a file that is missing,
            corrupt, foreign, or written by a run with other settings.
        TrainingDiverged: a loss, a parameter or an optimizer state became NaN/Inf; the error names
            the first bad step, its history ends before it and the last good checkpoint (written
            only when the losses, the parameters and the optimizer states were checked finite) is
            kept.
    """
    _check_arguments(steps, batch_size, checkpoint_every, sync_every, amp, seed, checkpoint, resume)
    callbacks = _check_callbacks(callbacks)
    players = check_trainable(model)
    optimizers = _check_optimizers(optimizers, players)
    device = model_device(model)
    ddp = _distributed.setup(distributed, device)
    rank = None if ddp is None else ddp.rank
    config = _config(model, players, batch_size, seed, ddp)

    opts = {p.name: _make_optimizer(optimizers.get(p.name, p.optimizer), p) for p in players}
    schedulers = {p.name: p.scheduler(opts[p.name], steps) for p in players if p.scheduler is not None}
    start, history = 0, {}
    if resume is not None:
        start, history = resume_from(resume, model=model, optimizers=opts, schedulers=schedulers, config=config,
                                     steps=steps, rank=rank, device=device, new_hyperparameters=new_hyperparameters)
    elif seed is not None:
        torch.manual_seed(seed + (rank or 0))
    draw = checked_first_batch(batch_sampler(data, batch_size, device), model_dtype(model))
    losses = loss_functions(model, players, device, amp, compile)
    updates = {p.name: make_update(p, opts[p.name], None if ddp is None else ddp.world_size) for p in players}
    gate = GradientGate(model, players)
    if ddp is not None:  # identical parameters and buffers on every rank
        _distributed.broadcast([*gate.params, *model.buffers()])
    recorder = _Recorder(history, opts, schedulers, config, callbacks, steps, ddp, progress, resume,
                         checkpoint, checkpoint_every, sync_every, gate)

    model.train()
    try:
        with torch.enable_grad():  # train even when fit is called under torch.no_grad()
            for step in recorder.bar(start):
                logs = {}
                for player in players:
                    gate.open(player.name)  # only this player's parameters collect gradients
                    for _ in range(player.updates):
                        out = losses[player.name](draw() if player.needs_data else batch_size)
                        updates[player.name](out["loss"])
                    if player.name in schedulers:
                        schedulers[player.name].step()
                    logs.update({player.name if key == "loss" else key: value for key, value in out.items()})
                recorder.end_of_step(step + 1, logs, model)  # log, check for NaN, callbacks, checkpoint
        if ddp is not None:  # BatchNorm statistics etc. saw each rank's own data: keep rank 0's
            _distributed.broadcast(list(model.buffers()))
    finally:
        recorder.close()
        gate.restore()
    return history


# --------------------------------------------------------------------------------- set-up checks
def _check_arguments(steps, batch_size, checkpoint_every, sync_every, amp, seed, checkpoint, resume) -> None:
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(checkpoint_every, "checkpoint_every")
    check_positive_int(sync_every, "sync_every")
    if amp not in AMP_MODES or amp is True:
        raise ValueError(f"unknown amp {amp!r}; choose one of: False (float32), 'bf16'")
    if seed is not None:
        check_positive_int(seed, "seed", allow_zero=True)
    if checkpoint is not None:
        check_path(checkpoint, "checkpoint")
    if resume is not None:
        check_path(resume, "resume", file=False)  # a folder or a missing file: CheckpointError names it


def _check_callbacks(callbacks) -> list:
    """``callbacks`` as a list of callables (one callable alone is accepted), checked before training."""
    if callable(callbacks):
        return [callbacks]
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be a callable or a list of callables callback(TrainState), got "
                        f"{type(callbacks).__name__} ({callbacks!r})")
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be callable as callback(TrainState), got {type(callback).__name__} "
                            f"({callback!r}): pass functions or objects with __call__, e.g. igmlib.Snapshots(...)")
    return callbacks


def _check_optimizers(optimizers, players: list[Player]) -> dict[str, OptimizerFactory]:
    if optimizers is not None and not isinstance(optimizers, Mapping):
        raise TypeError("optimizers must be a dict {player name: factory}, e.g. {'generator': lambda p: "
                        f"torch.optim.Adam(p, lr=1e-3)}}; got {type(optimizers).__name__}")
    optimizers = dict(optimizers or {})
    for name, factory in optimizers.items():
        if not callable(factory) or isinstance(factory, torch.optim.Optimizer):
            raise TypeError(f"optimizers[{name!r}] must be a callable parameters -> torch.optim.Optimizer, got "
                            f"{type(factory).__name__}: pass a factory, e.g. lambda p: torch.optim.Adam(p, lr=1e-3)")
    names = [p.name for p in players]
    unknown = sorted(set(optimizers) - set(names))
    if unknown:
        raise ValueError(f"optimizers given for unknown players {unknown}; this model's players are: {', '.join(names)}")
    return optimizers


def _make_optimizer(factory: OptimizerFactory, player: Player) -> torch.optim.Optimizer:
    opt = factory(player.parameters())
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"optimizers[{player.name!r}] returned {type(opt).__name__}, not a torch.optim.Optimizer: "
                        "a factory takes the parameters and returns an optimizer, e.g. lambda p: torch.optim.Adam(p, lr=1e-3)")
    return opt


def _config(model, players, batch_size, seed, ddp) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint."""
    config = {
        "model": type(model).__name__,
        "players": [[p.name, p.updates] for p in players],
        "batch_size": batch_size,
        "seed": seed,
    }
    if ddp is not None:
        config["world_size"] = ddp.world_size
    return config


# ------------------------------------------------------------------------------- end of each step
class _Recorder:
    """The bookkeeping after each step: the log buffer and its divergence check, the progress bar,
    callbacks and checkpoints."""

    def __init__(self, history, opts, schedulers, config, callbacks, steps, ddp, progress, resume,
                 checkpoint, checkpoint_every, sync_every, gate: GradientGate):
        reduce = None if ddp is None else (lambda flat: _distributed.mean_over_ranks(flat, ddp.world_size))
        self.log = LogBuffer(history, reduce)
        self.history, self.opts, self.schedulers, self.config = history, opts, schedulers, config
        self.callbacks, self.steps, self.ddp, self.gate = list(callbacks), steps, ddp, gate
        self.checkpoint, self.checkpoint_every, self.sync_every = checkpoint, checkpoint_every, sync_every
        self.last_checkpoint = resume
        self.sync_each_step = any(getattr(cb, "needs_history", True) for cb in self.callbacks)
        self.is_main = ddp is None or ddp.rank == 0
        self.show = progress if progress is not None else progress_enabled()
        self._bar = None

    def bar(self, start: int):
        from tqdm.auto import tqdm

        self._bar = tqdm(range(start, self.steps), initial=start, total=self.steps,
                         disable=(self.show is False or not self.is_main), leave=False)
        return self._bar

    def end_of_step(self, done: int, logs: dict, model) -> None:
        self.log.add(done, logs)
        save = self.checkpoint is not None and (done % self.checkpoint_every == 0 or done == self.steps)
        if self.sync_each_step or save or done % self.sync_every == 0 or done == self.steps:
            self._flush(done)
        state = TrainState(done, model, self.history, self.opts)
        for callback in self.callbacks:
            callback(state)
            self.gate.invalidate()  # a callback may have changed requires_grad flags (e.g. sampling)
        if save:
            bad = non_finite(state)  # finite losses do not prove finite parameters
            if bad:
                raise self._diverged(done, {name: math.nan for name in bad})
            rng_ranks = _distributed.gather_objects(rng_state()) if self.ddp is not None else None
            if self.is_main:
                save_checkpoint(self.checkpoint, state, self.config, self.schedulers, steps=self.steps,
                                rng_ranks=rng_ranks)
            self.last_checkpoint = self.checkpoint

    def _flush(self, done: int) -> None:
        bad = self.log.flush()
        if bad is not None:
            raise self._diverged(*bad)
        if done % 50 == 0 and self.show is not False and self.is_main:
            self._bar.set_postfix({k: f"{v[-1]:.3g}" for k, v in self.history.items()}, refresh=False)

    def _diverged(self, step: int, values: dict[str, float]) -> TrainingDiverged:
        if self.last_checkpoint:
            how = (f"the last good checkpoint is {self.last_checkpoint}: lower the learning rate (the model's lr, or "
                   f"optimizers=...) and resume with fit(..., resume={str(self.last_checkpoint)!r}, "
                   "new_hyperparameters=True), or add a regulariser")
        else:
            how = "no checkpoint was written (pass checkpoint=... to keep one): lower the learning rate or add a regulariser"
        return TrainingDiverged(f"training diverged at step {step}: non-finite values {values}; {how}.",
                                step=step, player=next(iter(values)), history=self.history,
                                checkpoint=self.last_checkpoint)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
