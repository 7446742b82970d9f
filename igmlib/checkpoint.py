"""Checkpoints of :func:`igmlib.fit`: write, read, and resume a run exactly where it stopped.

A checkpoint is a plain dict saved with ``torch.save`` and read with ``weights_only=True`` (no
pickled code runs on load): the model's and optimizers' state dicts, the schedulers', the step,
the history, the random state (of every rank in a data-parallel run), the run's config and the
igmlib version.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .callbacks import TrainState


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
        "rng": rng_state(),
        "config": config,
        "igmlib_version": __version__,
    }
    if rng_ranks is not None:
        checkpoint["rng_ranks"] = rng_ranks
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location=None) -> dict:
    """Load a checkpoint written by :func:`igmlib.fit` (``torch.load(..., weights_only=True)``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def resume(path, *, model, optimizers: dict, schedulers: dict, config: dict, rank: int | None,
           device: torch.device) -> tuple[int, dict[str, list[float]]]:
    """Load the checkpoint ``path`` into the model, optimizers, schedulers and torch's RNG.

    Returns:
        ``(step, history)``: the completed steps and the history up to them.

    Raises:
        ValueError: the checkpoint was written by a run with another config (model class, players,
            batch size, seed or world size).
    """
    ckpt: dict[str, Any] = load_checkpoint(path, map_location=device)
    if ckpt.get("config") != config:
        raise ValueError(
            f"checkpoint {path} was written with config {ckpt.get('config')}, "
            f"this run has {config}: resume with the same model, players, batch_size and seed"
        )
    model.load_state_dict(ckpt["model"])
    for name, opt in optimizers.items():
        opt.load_state_dict(ckpt["optimizers"][name])
    for name, sched in schedulers.items():
        sched.load_state_dict(ckpt["schedulers"][name])
    set_rng_state(ckpt["rng_ranks"][rank] if rank is not None else ckpt["rng"])
    return ckpt["step"], {k: list(v) for k, v in ckpt["history"].items()}
