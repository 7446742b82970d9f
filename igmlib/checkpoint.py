"""Checkpoints of :func:`igmlib.fit`: write, verify, read, and resume a run exactly where it stopped.

A checkpoint file is a header line ``IGMLIB-CHECKPOINT 1``, the SHA-256 of the payload, and the
payload: a plain dict saved with ``torch.save`` and read with ``weights_only=True`` (no pickled code
runs on load). The dict holds the model's and the optimizers' state dicts (and each optimizer's
class), the schedulers', the step and the run's total ``steps``, the history, the random state (of
every rank in a data-parallel run), the run's config and the igmlib version.

Nothing is written that is not finite, and nothing is read that does not match its hash.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
from pathlib import Path
from typing import Any

import torch

from ._validation import check_path
from .callbacks import TrainState

MAGIC = b"IGMLIB-CHECKPOINT 1\n"
#: optimizer options that choose an implementation, not the algorithm: always this run's own
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")
_KEYS = ("model", "optimizers", "optimizer_types", "schedulers", "step", "steps", "history", "rng", "config")


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: missing, empty, truncated, modified, foreign, or written by
    a run that does not match this one. The message names the file and what is wrong."""


def rng_state() -> dict:
    """torch's global random state: the CPU generator's and, where CUDA is available, every device's."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a state of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def non_finite(state: TrainState) -> list[str]:
    """Names of the model's floating-point tensors and optimizer states that hold NaN or Inf (one host sync)."""
    named = [(f"model.{k}", v) for k, v in state.model.state_dict().items()]
    for name, opt in state.optimizers.items():
        for i, per_param in enumerate(opt.state.values()):
            named += [(f"optimizer {name!r}, parameter {i}, {k}", v) for k, v in per_param.items()]
    named = [(k, v) for k, v in named if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()]
    if not named:
        return []
    finite = torch.stack([torch.isfinite(v).all().to("cpu") for _, v in named]).tolist()
    return [k for (k, _), ok in zip(named, finite) if not ok]


def save_checkpoint(path, state: TrainState, config: dict, schedulers: dict | None = None, *, steps: int,
                    rng_ranks: list | None = None) -> None:
    """Write a checkpoint of ``state`` to ``path``, atomically and durably.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and the file is
    renamed over ``path`` (then the folder is fsynced): a crash leaves the old checkpoint or the new
    one, never a half-written file, and no temporary file stays behind.

    Args:
        path: the checkpoint file.
        state: the model, optimizers, step and history.
        config: what a resumed run must share (see :func:`resume`).
        schedulers: the learning-rate schedulers by player name.
        steps: the run's total number of steps (a schedule depends on it).
        rng_ranks: every rank's RNG state in a data-parallel run, so each resumes its own stream.

    Raises:
        ValueError: a parameter, buffer or optimizer state is NaN or infinite (nothing is written).
    """
    from . import __version__

    bad = non_finite(state)
    if bad:
        raise ValueError(f"not writing checkpoint {path} at step {state.step}: non-finite values in "
                         f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    checkpoint = {
        "model": state.model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in state.optimizers.items()},
        "optimizer_types": {name: type(opt).__name__ for name, opt in state.optimizers.items()},
        "schedulers": {name: sched.state_dict() for name, sched in (schedulers or {}).items()},
        "step": state.step,
        "steps": steps,
        "history": {k: list(v) for k, v in state.history.items()},
        "rng": rng_state(),
        "config": config,
        "igmlib_version": __version__,
    }
    if rng_ranks is not None:
        checkpoint["rng_ranks"] = rng_ranks
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    payload = buffer.getvalue()
    _write_atomically(Path(path), MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename durable too (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_checkpoint(path, map_location=None) -> dict:
    """Read and verify a checkpoint written by :func:`igmlib.fit`.

    Returns:
        The checkpoint dict (keys ``model``, ``optimizers``, ``optimizer_types``, ``schedulers``,
        ``step``, ``steps``, ``history``, ``rng``, ``config``, ``igmlib_version``).

    Raises:
        TypeError: ``path`` is not a ``str`` or ``os.PathLike``.
        CheckpointError (a ValueError): the file is missing (or a directory), empty, not an igmlib
            checkpoint, truncated or modified (its SHA-256 does not match), or lacks an entry.
    """
    path = Path(check_path(path, "path", file=False))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    if not data:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): a write was interrupted; use an older one")
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not an igmlib checkpoint (it lacks the 'IGMLIB-CHECKPOINT 1' header): "
                              "pass a file written by igmlib.fit(checkpoint=...) of this igmlib version")
    digest, _, payload = data[len(MAGIC):].partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt: its SHA-256 does not match the one stored in it "
                              "(the file was truncated or modified); use an older checkpoint")
    try:
        ckpt = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # a hash-verified payload that still fails: an incompatible torch or igmlib
        raise CheckpointError(f"checkpoint {path} passed its hash check but torch cannot read it "
                              f"({type(err).__name__}); was it written by another torch version?") from None
    missing = [k for k in _KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}: it was not written by this igmlib's fit")
    return ckpt


def _hyperparameters(opt: torch.optim.Optimizer) -> list[dict]:
    """Each parameter group's settings; the base learning rate where a scheduler has set one."""
    out = []
    for group in opt.param_groups:
        h = {k: v for k, v in group.items() if k not in ("params", "initial_lr", *IMPLEMENTATION)}
        if "initial_lr" in group:
            h["lr"] = group["initial_lr"]
        out.append({k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in h.items()})
    return out


def _differences(old: list[dict], new: list[dict]) -> list[str]:
    diffs = []
    for old_group, new_group in zip(old, new):
        for key in sorted(set(old_group) | set(new_group)):
            a, b = old_group.get(key), new_group.get(key)
            if isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12):
                continue
            if a != b:
                diffs.append(f"{key} {a!r} -> {b!r}")
    return diffs


def resume(path, *, model, optimizers: dict, schedulers: dict, config: dict, steps: int, rank: int | None,
           device: torch.device, new_hyperparameters: bool = False) -> tuple[int, dict[str, list[float]]]:
    """Load the checkpoint ``path`` into the model, optimizers, schedulers and torch's RNG.

    The run must match the checkpoint's: the same config (model class, players and their updates,
    batch size, seed, world size), the same optimizer classes, and the same optimizer settings
    (learning rates, betas ...) and total ``steps`` (when a schedule depends on them). With
    ``new_hyperparameters=True`` this run's settings are applied on purpose instead: the
    optimizers keep their state (Adam's moments) with this run's learning rates and betas, and a
    schedule keeps its progress with this run's base rates and total ``steps``.

    Returns:
        ``(step, history)``: the completed steps and the history up to them.

    Raises:
        CheckpointError (a ValueError): an unreadable checkpoint (see :func:`load_checkpoint`), or
            one that does not match this run (the message says what differs and how to proceed).
    """
    ckpt: dict[str, Any] = load_checkpoint(path, map_location=device)
    if ckpt["config"] != config:
        raise CheckpointError(
            f"checkpoint {path} was written with config {ckpt['config']}, this run has {config}: "
            "resume with the same model, players, batch_size and seed"
        )
    for name, opt in optimizers.items():
        if ckpt["optimizer_types"].get(name) != type(opt).__name__:
            raise CheckpointError(f"checkpoint {path} holds a {ckpt['optimizer_types'].get(name)} state for player "
                                  f"{name!r}, this run uses {type(opt).__name__}: resume with the same optimizer")
    fresh = {name: _hyperparameters(opt) for name, opt in optimizers.items()}
    flags = {name: [{k: g[k] for k in IMPLEMENTATION if k in g} for g in opt.param_groups] for name, opt in optimizers.items()}
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:  # other networks, or EMA on in one run and off in the other
        raise CheckpointError(f"checkpoint {path} holds another {type(model).__name__}: {' '.join(str(err).split())} Build the model "
                              "as the run that wrote it did (same networks and options such as ema=)") from None
    for name, opt in optimizers.items():
        opt.load_state_dict(ckpt["optimizers"][name])
        for group, own in zip(opt.param_groups, flags[name]):
            group.update(own)
    changes = [f"{name}: {d}" for name, opt in optimizers.items() for d in _differences(_hyperparameters(opt), fresh[name])]
    if schedulers and ckpt["steps"] != steps:
        changes.append(f"steps {ckpt['steps']} -> {steps} (the learning-rate schedule depends on it)")
    if changes and not new_hyperparameters:
        raise CheckpointError(f"checkpoint {path} was trained with other settings ({'; '.join(changes)}): pass "
                              "new_hyperparameters=True to continue with this run's settings, or resume with the old ones")
    for name, sched in schedulers.items():
        sched.load_state_dict(ckpt["schedulers"][name])
    if new_hyperparameters:
        for name, opt in optimizers.items():
            _apply(opt, fresh[name], schedulers.get(name))
    set_rng_state(ckpt["rng_ranks"][rank] if rank is not None else ckpt["rng"])
    return ckpt["step"], {k: list(v) for k, v in ckpt["history"].items()}


def _apply(opt: torch.optim.Optimizer, settings: list[dict], scheduler) -> None:
    """Put this run's settings into a resumed optimizer; a schedule keeps its factor (lr / base lr)."""
    for i, (group, new) in enumerate(zip(opt.param_groups, settings)):
        base = group.get("initial_lr", group["lr"])
        factor = group["lr"] / base if base else 1.0
        for key, value in new.items():
            if key != "lr":
                group[key] = tuple(value) if isinstance(value, list) else value
        group["lr"] = new["lr"] * factor
        if "initial_lr" in group:
            group["initial_lr"] = new["lr"]
        if scheduler is not None:
            scheduler.base_lrs[i] = new["lr"]
