"""Data-parallel helpers for :func:`igmlib.fit` (``torch.distributed``, launched by ``torchrun``).

Design: every rank holds a full copy of the model. Parameters and buffers are broadcast from rank 0
once at the start; after each ``backward()`` the current player's gradients are averaged over the
ranks (one coalesced all-reduce per update) before its optimizer steps, so the parameters stay
identical on every rank. This works for any number of players, also when one player's loss passes
through another player's modules (the generator's loss through the discriminator), which
``DistributedDataParallel`` wrappers handle badly (unused parameters, several forwards per step).
With ``R`` ranks and a mean loss over a batch of ``B``, one update equals a single-process update
with batch ``R * B`` (the ranks' batches concatenated).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from .runtime import missing_launcher_variables


class Context(NamedTuple):
    """The process group as ``fit`` sees it: this process's ``rank`` and the ``world_size``."""

    rank: int
    world_size: int


def setup(distributed: bool | None, device: torch.device) -> Context | None:
    """Return the data-parallel context, or ``None`` for a single-process run.

    ``distributed=None`` uses an initialised process group of more than one process, if any;
    ``True`` initialises one from the environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``) when none is initialised: backend ``nccl`` for a CUDA model,
    ``gloo`` otherwise; ``False`` never uses one.

    Raises:
        RuntimeError: ``distributed=True`` but torch has no ``torch.distributed`` or the
            environment variables of a launcher are missing.
    """
    if distributed is False:
        return None
    import torch.distributed as dist

    if not dist.is_available():
        if distributed:
            raise RuntimeError("distributed=True but this torch build has no torch.distributed")
        return None
    if not dist.is_initialized():
        if not distributed:
            return None
        missing = missing_launcher_variables()
        if missing:
            raise RuntimeError(
                f"distributed=True needs the environment of a launcher; {', '.join(missing)} not set: "
                "start the script with `torchrun --nproc_per_node=N script.py`"
            )
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # NCCL collectives (and all_gather_object) use the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.get_world_size() == 1 and not distributed:
        return None
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return Context(dist.get_rank(), dist.get_world_size())


def _coalesced(tensors: Sequence[torch.Tensor], collective) -> None:
    """Run ``collective(flat)`` on one flat buffer per dtype and copy the result back in place."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.detach().reshape(-1) for t in group])
        collective(flat)
        offset = 0
        for t in group:
            t.detach().copy_(flat[offset: offset + t.numel()].view_as(t))
            offset += t.numel()


def broadcast(tensors: Sequence[torch.Tensor], src: int = 0) -> None:
    """Overwrite ``tensors`` (parameters, buffers) on every rank with rank ``src``'s values."""
    import torch.distributed as dist

    if tensors:
        _coalesced(tensors, lambda flat: dist.broadcast(flat, src))


def average_gradients(parameters: Sequence[torch.nn.Parameter], world_size: int) -> None:
    """Average the ``.grad`` of ``parameters`` over all ranks (parameters without one are skipped:
    every rank must leave the same parameters without gradients, as the same code does)."""
    import torch.distributed as dist

    grads = [p.grad for p in parameters if p.grad is not None]
    if grads:
        _coalesced(grads, lambda flat: (dist.all_reduce(flat), flat.div_(world_size)))


def mean_over_ranks(values: torch.Tensor, world_size: int) -> torch.Tensor:
    """The mean of a float tensor over the ranks (logged losses: every rank sees the same history)."""
    import torch.distributed as dist

    out = values.to(torch.float64) if values.device.type == "cpu" else values.float()
    dist.all_reduce(out)
    return out / world_size


def gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (e.g. each rank's RNG state)."""
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
