"""The one training loop for every model in igmlib.

A model is an ``nn.Module`` that declares its *players* (generator, discriminator, critic,
encoder ...) with :meth:`players`. Each :class:`Player` names the modules it updates, its loss,
its default optimizer, and how many updates it takes per iteration (``n_critic``). :func:`fit`
runs them in order; models never call ``optimizer.step()`` themselves.

One *step* (iteration) = every player in order, each for its own number of updates, each update on
a fresh minibatch. The history records, per step, the last value of every loss a player reports.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import distributions as D
from torch import nn

from ._validation import check_positive_int
from .runtime import progress_enabled, seed_everything

Batch = Any  # a tensor, a tuple of tensors, or the batch size (players with needs_data=False)
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


@dataclass(frozen=True)
class Player:
    """One player of a model: the modules it updates, its loss, its optimizer and update ratio.

    Attributes:
        name: the player's role, e.g. ``"discriminator"``; keys the history and the optimizers.
        modules: the modules whose parameters this player's optimizer updates.
        loss: ``loss(batch) -> Tensor`` (scalar, minimised) or ``-> dict`` with the minimised value
            under ``"loss"`` and extra scalars to log (e.g. ``{"loss": l, "D(x)": m}``).
        optimizer: ``optimizer(parameters) -> torch.optim.Optimizer`` (the paper's default).
        steps: updates per iteration (e.g. ``n_critic = 5`` for a WGAN critic).
        needs_data: whether ``loss`` receives a data minibatch; if not, it receives the batch size
            (an int), e.g. for a generator update that only draws latents.
        after_update: called after each optimizer step (e.g. weight clipping), or ``None``.
        scheduler: ``scheduler(optimizer, steps) -> LRScheduler`` given the run's total ``steps``,
            stepped once per iteration after the player's updates (e.g. :func:`linear_decay`), or
            ``None`` for a constant learning rate.
    """

    name: str
    modules: Sequence[nn.Module]
    loss: Callable[[Batch], torch.Tensor | dict]
    optimizer: OptimizerFactory
    steps: int = 1
    needs_data: bool = True
    after_update: Callable[[], None] | None = None
    scheduler: SchedulerFactory | None = None

    def parameters(self) -> list[nn.Parameter]:
        seen, params = set(), []
        for module in self.modules:
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params


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


class TrainState(NamedTuple):
    """What callbacks see after each step: ``step`` (completed steps, 1-based), the model,
    the history so far and the optimizers by player name."""

    step: int
    model: nn.Module
    history: dict[str, list[float]]
    optimizers: dict[str, torch.optim.Optimizer]


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite. Attributes: ``step``, ``player``, ``history`` (up to the
    last finite step) and ``checkpoint`` (path of the last good checkpoint, or ``None``)."""

    def __init__(self, message, *, step, player, history, checkpoint):
        super().__init__(message)
        self.step, self.player, self.history, self.checkpoint = step, player, history, checkpoint


class Snapshots:
    """Callback: every ``every`` steps store ``model.sample(n)`` (on the CPU) for animations.

    Samples are drawn under a forked RNG seeded with ``seed``, so the snapshots use the same latent
    draws each time and never change the training run's random stream.

    Attributes:
        steps: the steps at which snapshots were taken.
        samples: the snapshots, each of shape ``(n, ...)``.
    """

    needs_history = False  # fit need not copy the losses to the host each step for this callback

    def __init__(self, every: int, n: int = 1000, seed: int = 0):
        self.every = check_positive_int(every, "every")
        self.n = check_positive_int(n, "n")
        self.seed = seed
        self.steps: list[int] = []
        self.samples: list[torch.Tensor] = []

    def __call__(self, state: TrainState) -> None:
        if state.step % self.every and state.step != 1:
            return
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            x = state.model.sample(self.n)
        self.steps.append(state.step)
        self.samples.append(x.detach().cpu())


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _batch_sampler(data, batch_size: int, device: torch.device) -> Callable[[], Batch]:
    """Return a function drawing one minibatch of ``data`` on ``device`` from torch's global RNG."""
    if isinstance(data, D.Distribution):
        if len(data.event_shape) != 1:
            raise ValueError(
                f"a data distribution must have event_shape (d,), got {tuple(data.event_shape)}: "
                "wrap it in torch.distributions.Independent(..., 1)"
            )
        return lambda: data.sample((batch_size,)).to(device)
    if isinstance(data, torch.Tensor):
        data = (data,)
    if isinstance(data, tuple) and data and all(isinstance(t, torch.Tensor) for t in data):
        n = data[0].shape[0]
        if any(t.shape[0] != n for t in data):
            raise ValueError(f"data tensors must have the same first dimension, got {[t.shape[0] for t in data]}")
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) exceeds the {n} samples in data: lower batch_size")
        tensors = tuple(t.to(device) for t in data)
        single = len(tensors) == 1

        def draw():
            idx = torch.randperm(n)[:batch_size].to(device)
            out = tuple(t[idx] for t in tensors)
            return out[0] if single else out

        return draw
    if callable(data):
        def draw():
            out = data(batch_size)
            return out.to(device) if isinstance(out, torch.Tensor) else tuple(t.to(device) for t in out)

        return draw
    raise TypeError(
        "data must be a torch Distribution, a tensor (N, ...), a tuple of tensors sharing N "
        f"(e.g. igmlib.data.digits()), or a callable batch_size -> batch; got {type(data).__name__}"
    )


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, state: TrainState, config: dict, schedulers: dict | None = None, *,
                    rng_ranks: list | None = None) -> None:
    """Write a plain-dict checkpoint (model, optimizers, schedulers, step, history, RNG, config, version).

    Written to a temporary file first and renamed, so a crash never leaves a half-written file.
    ``rng_ranks`` (data-parallel runs) stores every rank's RNG state, so each rank resumes its own stream.
    """
    from . import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "model": state.model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in state.optimizers.items()},
        "schedulers": {name: sched.state_dict() for name, sched in (schedulers or {}).items()},
        "step": state.step,
        "history": {k: list(v) for k, v in state.history.items()},
        "rng": _rng_state(),
        "config": config,
        "igmlib_version": __version__,
    }
    if rng_ranks is not None:
        checkpoint["rng_ranks"] = rng_ranks
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location=None) -> dict:
    """Load a checkpoint written by :func:`fit` (``torch.load(..., weights_only=True)``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def _as_loss_dict(out, player: Player) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        out = {"loss": out}
    if not isinstance(out, dict) or "loss" not in out or out["loss"].dim() != 0:
        raise TypeError(
            f"player {player.name!r}: loss must return a scalar tensor or a dict with a scalar 'loss'"
        )
    return out


class _LogBuffer:
    """The per-step logged scalars, kept on the device and copied to the host in chunks.

    ``float(loss)`` every step would wait for the device each step (a GPU then idles between
    steps); instead each step's values are stacked into one small device tensor (a copy, so values
    that alias parameters keep the value of their step) and :meth:`flush` moves all pending steps to
    the host at once, appends them to the history and reports the first step with a NaN/Inf.
    """

    def __init__(self, history: dict[str, list[float]], reduce=None):
        self.history, self.reduce = history, reduce
        self.pending: list[tuple[int, tuple[str, ...], torch.Tensor]] = []

    def add(self, step: int, logs: dict[str, Any]) -> None:
        values = [v.detach().reshape(()) if isinstance(v, torch.Tensor) else torch.tensor(float(v)) for v in logs.values()]
        dtypes = {v.dtype for v in values}
        if len(dtypes) > 1 or any(v.device != values[0].device for v in values):
            wide = torch.float32 if values[0].device.type == "mps" else torch.float64
            values = [v.to(values[0].device, wide) for v in values]
        self.pending.append((step, tuple(logs), torch.stack(values)))

    def flush(self) -> tuple[int, dict[str, float]] | None:
        """Append the pending steps to the history; return ``(step, non-finite values)`` of the first
        bad step (the history then ends at the step before it), or ``None``."""
        if not self.pending:
            return None
        chunks = [t for _, _, t in self.pending]
        if len({t.dtype for t in chunks}) > 1:
            chunks = [t.to(torch.float64 if t.device.type != "mps" else torch.float32) for t in chunks]
        flat = torch.cat(chunks)
        if self.reduce is not None:
            flat = self.reduce(flat)
        values = flat.tolist()  # the one host sync of this chunk
        pending, self.pending, offset = self.pending, [], 0
        for step, keys, t in pending:
            logs = dict(zip(keys, (float(v) for v in values[offset: offset + len(keys)])))
            offset += len(keys)
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            if bad:
                return step, bad
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
        return None


AMP_MODES = (False, None, "bf16")


def _needs_history(callback) -> bool:
    return getattr(callback, "needs_history", True)


def fit(
    model: nn.Module,
    data,
    *,
    steps: int,
    batch_size: int = 256,
    seed: int | None = 0,
    optimizers: dict[str, OptimizerFactory] | None = None,
    callbacks: Sequence[Callable[[TrainState], None]] = (),
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
    amp: bool | str = False,
    compile: bool | dict = False,
    distributed: bool | None = None,
    sync_every: int = 50,
) -> dict[str, list[float]]:
    """Train ``model`` on ``data`` for ``steps`` steps; return the per-step loss history.

    The model stays on its device (move it first: ``model.to(igm.device())``); data are moved to it.

    Args:
        model: an ``nn.Module`` with ``players() -> list[Player]``.
        data: a ``torch.distributions.Distribution`` with ``event_shape (d,)``, a tensor ``(N, ...)``,
            a tuple of tensors sharing ``N`` (minibatches are tuples), or a callable
            ``batch_size -> batch``.
        steps: total number of steps (iterations), counting those of a resumed checkpoint.
        batch_size: minibatch size for every update (per process in a data-parallel run).
        seed: seeds everything at the start (ignored on resume: the checkpoint's RNG state is used);
            ``None`` leaves the RNG alone. Data-parallel ranks use ``seed + rank``.
        optimizers: per-player overrides, ``{"generator": lambda p: torch.optim.Adam(p, lr=1e-3)}``.
        callbacks: called as ``callback(TrainState)`` after every step (e.g. :class:`Snapshots`).
            ``TrainState.history`` is complete up to that step, except for callbacks with an
            attribute ``needs_history = False`` (such as :class:`Snapshots`): they may see a history
            up to ``sync_every`` steps behind, and do not force a host sync each step.
        checkpoint: file to write a checkpoint to every ``checkpoint_every`` steps and at the end.
        checkpoint_every: steps between checkpoints.
        resume: a checkpoint written by ``fit``; training continues exactly as the uninterrupted
            run would have (same minibatches, same losses).
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

    Returns:
        The history: ``{loss name: [value at step 1, step 2, ...]}``; the name is the player's for
        its minimised loss (e.g. ``"discriminator"``) and the reported name for extras.

    Raises:
        TypeError / ValueError: bad arguments (unknown player in ``optimizers``, batch larger than
            the data, a resumed checkpoint with another model or config, unknown ``amp``).
        TrainingDiverged: a loss became NaN/Inf; the error names the first bad step, its history
            ends before it and the last good checkpoint (written only at steps whose losses were
            checked finite) is kept.
    """
    from tqdm.auto import tqdm

    from . import _distributed

    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(checkpoint_every, "checkpoint_every")
    check_positive_int(sync_every, "sync_every")
    if amp not in AMP_MODES or amp is True:
        raise ValueError(f"unknown amp {amp!r}; choose one of: False (float32), 'bf16'")
    if not hasattr(model, "players"):
        raise TypeError(f"model must define players() -> list[Player]; {type(model).__name__} does not")
    players = list(model.players())
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise ValueError(f"player names must be unique, got {names}")
    optimizers = dict(optimizers or {})
    unknown = sorted(set(optimizers) - set(names))
    if unknown:
        raise ValueError(f"optimizers given for unknown players {unknown}; this model's players are: {', '.join(names)}")

    device = _model_device(model)
    ddp = _distributed.setup(distributed, device)
    config = {
        "model": type(model).__name__,
        "players": [[p.name, p.steps] for p in players],
        "batch_size": batch_size,
        "seed": seed,
    }
    if ddp is not None:
        config["world_size"] = ddp.world_size
    opts = {p.name: optimizers.get(p.name, p.optimizer)(p.parameters()) for p in players}
    schedulers = {p.name: p.scheduler(opts[p.name], steps) for p in players if p.scheduler is not None}
    history: dict[str, list[float]] = {}
    start = 0
    if resume is not None:
        ckpt = load_checkpoint(resume, map_location=device)
        if ckpt.get("config") != config:
            raise ValueError(
                f"checkpoint {resume} was written with config {ckpt.get('config')}, "
                f"this run has {config}: resume with the same model, players, batch_size and seed"
            )
        model.load_state_dict(ckpt["model"])
        for name, opt in opts.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        for name, sched in schedulers.items():
            sched.load_state_dict(ckpt["schedulers"][name])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        start = ckpt["step"]
        _set_rng_state(ckpt["rng_ranks"][ddp.rank] if ddp is not None else ckpt["rng"])
    elif seed is not None:
        seed_everything(seed + (ddp.rank if ddp is not None else 0))
    draw = _batch_sampler(data, batch_size, device)

    # every parameter of the model and its players; frozen ones (requires_grad False) stay frozen
    all_params = list({id(p): p for p in [*model.parameters(), *(q for pl in players for q in pl.parameters())]}.values())
    original_flags = [p.requires_grad for p in all_params]
    player_ids = {pl.name: {id(p) for p in pl.parameters()} for pl in players}
    player_params = {pl.name: pl.parameters() for pl in players}
    if ddp is not None:  # identical parameters and buffers on every rank
        _distributed.broadcast([*all_params, *model.buffers()])
    fast_zero = {  # the parameters of each standard optimizer (one that does not override zero_grad)
        name: [p for group in opt.param_groups for p in group["params"]]
        if type(opt).zero_grad is torch.optim.Optimizer.zero_grad else None
        for name, opt in opts.items()
    }
    losses = {pl.name: pl.loss for pl in players}
    if compile:
        losses = {name: torch.compile(fn, **(compile if isinstance(compile, dict) else {})) for name, fn in losses.items()}
    if amp:
        def autocast():
            return torch.autocast(device.type, dtype=torch.bfloat16)
    else:
        import contextlib

        autocast = contextlib.nullcontext
    reduce = None if ddp is None else (lambda flat: _distributed.mean_over_ranks(flat, ddp.world_size))
    logs_buffer = _LogBuffer(history, reduce)
    sync_each_step = any(_needs_history(cb) for cb in callbacks)
    is_main = ddp is None or ddp.rank == 0
    last_checkpoint = resume
    active = None  # the player whose parameters currently have requires_grad set
    show = progress if progress is not None else progress_enabled()
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=(show is False or not is_main), leave=False)
    model.train()
    try:
        for step in bar:
            done = step + 1
            logs: dict[str, torch.Tensor] = {}
            for player in players:
                if active != player.name:  # only this player's parameters collect gradients
                    ids, active = player_ids[player.name], player.name
                    for p, flag in zip(all_params, original_flags):
                        p.requires_grad_(flag and id(p) in ids)
                opt, loss = opts[player.name], losses[player.name]
                for _ in range(player.steps):
                    batch = draw() if player.needs_data else batch_size
                    with autocast():
                        out = _as_loss_dict(loss(batch), player)
                    if fast_zero[player.name] is None:
                        opt.zero_grad(set_to_none=True)
                    else:  # as zero_grad(set_to_none=True), without its profiler-record overhead (~8 us)
                        for p in fast_zero[player.name]:
                            p.grad = None
                    out["loss"].backward()
                    if ddp is not None:
                        _distributed.average_gradients(player_params[player.name], ddp.world_size)
                    opt.step()
                    if player.after_update is not None:
                        player.after_update()
                if player.name in schedulers:
                    schedulers[player.name].step()
                for key, value in out.items():
                    logs[player.name if key == "loss" else key] = value
            logs_buffer.add(done, logs)
            save = checkpoint is not None and (done % checkpoint_every == 0 or done == steps)
            if sync_each_step or save or done % sync_every == 0 or done == steps:
                bad = logs_buffer.flush()
                if bad is not None:
                    bad_step, values = bad
                    where = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else (
                        "no checkpoint was written: pass checkpoint=... to keep one")
                    raise TrainingDiverged(
                        f"training diverged at step {bad_step}: non-finite losses {values}; {where}. "
                        "Lower the learning rate or add a regulariser.",
                        step=bad_step, player=next(iter(values)), history=history, checkpoint=last_checkpoint,
                    )
                if done % 50 == 0 and show is not False and is_main:
                    bar.set_postfix({k: f"{v[-1]:.3g}" for k, v in history.items()}, refresh=False)
            state = TrainState(done, model, history, opts)
            for callback in callbacks:
                callback(state)
                active = None  # a callback may have changed requires_grad flags (e.g. sampling)
            if save:
                rng_ranks = _distributed.gather_objects(_rng_state()) if ddp is not None else None
                if is_main:
                    save_checkpoint(checkpoint, state, config, schedulers, rng_ranks=rng_ranks)
                last_checkpoint = checkpoint
        if ddp is not None:  # BatchNorm statistics etc. saw each rank's own data: keep rank 0's
            _distributed.broadcast(list(model.buffers()))
    finally:
        bar.close()
        for p, flag in zip(all_params, original_flags):
            p.requires_grad_(flag)
    return history
