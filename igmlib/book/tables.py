"""Markdown tables for the chapters' results: :func:`table` shows rows as a cell's output,
:func:`mean_std` formats one cell as ``mean ± std``."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def table(rows: Sequence[Sequence], header: Sequence[str]):
    """Rows of values as a Markdown table, shown as a cell's output (``IPython.display.Markdown``).

    Raises:
        ValueError: a row's length differs from the header's.
    """
    from IPython.display import Markdown

    bad = [i for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise ValueError(f"rows {bad} do not have {len(header)} cells like the header {list(header)}")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """``'mean ± std'`` of ``scale * values`` (population std, so a single value shows ``± 0``).

    Raises:
        ValueError: no values.
    """
    v = scale * np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("mean_std needs at least one value")
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


__all__ = ["mean_std", "table"]
