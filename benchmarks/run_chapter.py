"""Execute book chapters (MyST .md) top to bottom, as a reader would, and report wall times.

Usage:
    IGM_BUDGET=quick python benchmarks/run_chapter.py book/04_gan.md [more.md ...] [--save DIR]

Each chapter runs in a fresh kernel; a failing cell raises (exit code 1). With --save DIR the
executed notebooks are written there (to look at outputs and figures).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient


def run(path: Path, save: Path | None) -> float:
    nb = jupytext.read(path)
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / (path.stem + ".ipynb"))
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--save", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("IGM_PROGRESS", "0")
    budget = os.environ.get("IGM_BUDGET", "full")
    for chapter in args.chapters:
        seconds = run(chapter, args.save)
        print(f"{chapter}\tbudget={budget}\t{seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
