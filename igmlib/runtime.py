"""Where code runs, how long it runs and where it keeps files: device choice, seeding, random-state
forks, the book's budget switch and the cache folder.

This module is the only one of igmlib that reads the environment. The variables it reads:

``IGM_DEVICE``
    Overrides :func:`device`, e.g. ``IGM_DEVICE=cpu``.
``IGM_BUDGET``
    ``full`` (default) or ``quick``. :func:`budget` returns the matching value, so every chapter
    runs in seconds under ``IGM_BUDGET=quick`` (what CI runs) and shows real results otherwise.
``IGM_PROGRESS``
    ``0`` hides the training progress bar (the book build sets it), ``1`` forces it on.
``IGM_CACHE``
    The folder of everything igmlib downloads or trains once and keeps (:func:`cache_dir`):
    datasets in ``<dataset>/`` (:func:`igmlib.data.data_dir`), the reference classifier in
    ``classifiers/`` (:func:`igmlib.classifiers.reference_classifier`); the book build keeps its
    JavaScript downloads in ``npm/``. Default: pooch's per-user cache folder for igmlib
    (``~/.cache/igmlib`` on Linux).
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``
    Set by ``torchrun``; ``fit(distributed=True)`` checks them (:func:`missing_launcher_variables`)
    before ``torch.distributed`` reads them.

The tests read three more, never igmlib: ``IGM_REQUIRE_BROWSER=1`` (the browser test must run, not
skip), ``IGM_TEST_INDUCTOR=1`` (run the ``torch.compile`` test) and ``IGM_SKIP_FRESH_VENV=1`` (skip
the fresh-venv install test).

Global state: igmlib changes a global random state only where asked (``seed_everything``,
``fit(seed=...)``); everything else that draws with a seed does so inside :func:`fork_rng`.
"""
from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

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


def cache_dir() -> Path:
    """The folder where igmlib keeps downloads and trained helpers: ``$IGM_CACHE`` if set, else
    pooch's per-user cache folder for igmlib (``pooch.os_cache("igmlib")``, e.g. ``~/.cache/igmlib``).

    Not created here: whoever writes into it creates its subfolder.
    """
    base = os.environ.get("IGM_CACHE", "").strip()
    if base:
        return Path(base).expanduser()
    import pooch

    return Path(pooch.os_cache("igmlib"))


#: The variables a launcher (``torchrun``) sets for each process of a data-parallel run.
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def missing_launcher_variables() -> list[str]:
    """The variables of :data:`LAUNCHER_VARIABLES` that are not set (``fit(distributed=True)`` needs all)."""
    return [name for name in LAUNCHER_VARIABLES if name not in os.environ]
