"""Where code runs and how long it runs: device choice, seeding, and the book's budget switch.

Environment variables (the only ones igmlib reads):

``IGM_DEVICE``
    Overrides :func:`device`, e.g. ``IGM_DEVICE=cpu``.
``IGM_BUDGET``
    ``full`` (default) or ``quick``. :func:`budget` returns the matching value, so every chapter
    runs in seconds under ``IGM_BUDGET=quick`` (what CI runs) and shows real results otherwise.
``IGM_PROGRESS``
    ``0`` hides the training progress bar (the book build sets it), ``1`` forces it on.
"""
from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from ._validation import check_choice

BUDGETS = ("full", "quick")


def device() -> torch.device:
    """The best available device: ``cuda`` > ``mps`` > ``cpu``, or ``$IGM_DEVICE`` if set.

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: ``IGM_DEVICE`` names a device torch does not know, or one that is not available.
    """
    name = os.environ.get("IGM_DEVICE", "").strip()
    if name:
        try:
            dev = torch.device(name)
        except RuntimeError as err:
            raise ValueError(f"IGM_DEVICE={name!r} is not a torch device name (try cpu, cuda, mps)") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"IGM_DEVICE={name!r} but CUDA is not available: unset it or use cpu")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"IGM_DEVICE={name!r} but MPS is not available: unset it or use cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device).

    Raises:
        TypeError: ``seed`` is not an int.
        ValueError: ``seed`` is negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def fork_rng(seed: int | None = None, *, numpy: bool = False) -> Iterator[None]:
    """Run a block on a forked random state: torch's (CPU and every CUDA device), and NumPy's global
    one with ``numpy=True``; the state outside the block is restored afterwards, untouched.

    Args:
        seed: seeds the forked state (``torch.manual_seed``, and ``np.random.seed`` with ``numpy``);
            ``None`` continues from the current state inside the block.
        numpy: fork NumPy's global random state too.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    np_state = np.random.get_state() if numpy else None
    with torch.random.fork_rng(devices=devices):
        try:
            if seed is not None:
                torch.manual_seed(seed)
                if numpy:
                    np.random.seed(seed % 2**32)
            yield
        finally:
            if np_state is not None:
                np.random.set_state(np_state)


def budget_name() -> str:
    """``'full'`` or ``'quick'``, from ``$IGM_BUDGET`` (default ``'full'``).

    Raises:
        ValueError: ``IGM_BUDGET`` is set to something else.
    """
    return check_choice(os.environ.get("IGM_BUDGET", "full").strip().lower() or "full", "IGM_BUDGET", BUDGETS)


def is_quick() -> bool:
    """True under the quick budget (``IGM_BUDGET=quick``)."""
    return budget_name() == "quick"


def budget(*, full, quick):
    """Pick a value (steps, seeds, sample sizes ...) for the current budget.

    Example: ``steps = igm.budget(full=5000, quick=50)``.

    Args:
        full: value used for the results the book shows (the default).
        quick: value used under ``IGM_BUDGET=quick`` (CI: seconds per chapter).

    Returns:
        ``quick`` under the quick budget, else ``full``.
    """
    return quick if is_quick() else full


def progress_enabled() -> bool | None:
    """Whether training shows a progress bar: ``$IGM_PROGRESS`` (0/1), else None (tqdm decides)."""
    value = os.environ.get("IGM_PROGRESS", "").strip()
    if value == "":
        return None
    return value not in ("0", "false", "no", "off")
