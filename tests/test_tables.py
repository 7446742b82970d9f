"""igm.book: the helpers that serve the book (tables here; zoo and harness in test_zoo.py) load on
first use, and no module of the library imports them (tests/test_architecture.py checks the imports)."""
import subprocess
import sys

import pytest

import igmlib as igm


def test_table_renders_markdown_and_checks_row_lengths():
    out = igm.book.table([[1, "a"], [2.5, "b"]], ["x", "name"])
    assert out.data == "| x | name |\n|---|---|\n| 1 | a |\n| 2.5 | b |"
    with pytest.raises(ValueError, match=r"rows \[1\] do not have 2 cells"):
        igm.book.table([[1, 2], [3]], ["x", "y"])


def test_mean_std():
    assert igm.book.mean_std([1.0, 3.0]) == "2.0 ± 1.0"
    assert igm.book.mean_std([0.5], scale=100, digits=0) == "50 ± 0"
    with pytest.raises(ValueError, match="at least one value"):
        igm.book.mean_std([])


def test_the_helpers_load_only_on_first_use():
    code = ("import sys, igmlib as igm\n"
            "assert not [m for m in sys.modules if m.startswith('igmlib.book')]\n"
            "assert igm.book.zoo.MODELS and igm.book.evaluation.evaluate and igm.book.widgets\n"
            "assert 'igmlib.book' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert not hasattr(igm.plot, "table") and not hasattr(igm, "zoo") and not hasattr(igm, "widgets")
