"""Quality leaderboard: train every model of the book on the 8-ring, the 25-grid and the digits with
the same step budget and several seeds, score each run on held-out data, and print the table.

Usage:
    python benchmarks/quality.py --budget quick                      # seconds: checks that it runs
    python benchmarks/quality.py --budget full --csv runs.csv --markdown table.md
    python benchmarks/quality.py --models gan,wgan_gp --problems ring --seeds 0,1,2 --steps 3000

At the full budget every model trains for its own full-budget steps (the ``steps`` of
:func:`igmlib.book.zoo.build`'s fit arguments, the ``steps`` column); ``--steps`` or the quick budget
give every model the same number.

The models and their settings are those of :mod:`igmlib.book.zoo`, the metrics those of
:mod:`igmlib.book.evaluation` (the chapter "Evaluating and comparing implicit models" computes the
same table on a smaller budget).
Run with ``OMP_NUM_THREADS=1`` on a shared machine.
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

import torch

import igmlib as igm

BUDGETS = {  # steps per problem (None: each model's own, from igmlib.book.zoo), seeds, model samples per evaluation
    "quick": ({"ring": 30, "grid": 30, "digits": 10}, [0], 500),
    "full": (None, [0, 1, 2], 2500),
}
TOY_COLUMNS = ["steps", "modes", "high_quality", "mode_kl", "mmd2", "toy_log_likelihood", "two_sample", "precision", "recall",
               "density", "coverage", "log_likelihood", "train_seconds"]
DIGIT_COLUMNS = ["steps", "frechet", "kid", "inception_score", "precision", "recall", "density", "coverage", "two_sample",
                 "parzen", "log_likelihood", "code_accuracy", "train_seconds"]


def machine(device: torch.device) -> str:
    """One line naming the machine: platform, CPU count, torch version, device, threads."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return (f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, "
            f"igmlib {igm.__version__}, device {device} ({name}), torch threads {torch.get_num_threads()}")


def markdown(rows: list[dict], header_line: str) -> str:
    parts = [header_line, ""]
    for problem, columns in (("ring", TOY_COLUMNS), ("grid", TOY_COLUMNS), ("digits", DIGIT_COLUMNS)):
        if any(r["problem"] == problem for r in rows):
            table, header = igm.book.summarize(rows, columns, problem=problem)
            parts += [f"**{problem}**", ""]
            parts += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            parts += ["| " + " | ".join(map(str, row)) + " |" for row in table] + [""]
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="quick")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the budget's)")
    parser.add_argument("--steps", type=int, help="training steps per run on every problem (default: the budget's)")
    parser.add_argument("--models", default=",".join(igm.book.zoo.MODELS), help="comma-separated names (default: all)")
    parser.add_argument("--problems", default=",".join(igm.book.zoo.PROBLEMS), help="comma-separated (default: all)")
    parser.add_argument("--samples", type=int, help="model samples per evaluation (default: the budget's)")
    parser.add_argument("--csv", type=Path, help="write one row per run here")
    parser.add_argument("--markdown", type=Path, help="write the summary table here")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: igmlib.device())")
    args = parser.parse_args(argv)

    steps, seeds, n = BUDGETS[args.budget]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else seeds
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    steps = {p: args.steps for p in problems} if args.steps else steps and {p: steps[p] for p in problems}
    device = torch.device(args.device) if args.device else igm.device()
    os.environ.setdefault("IGM_PROGRESS", "1")  # show the bar over the runs
    start = time.perf_counter()
    rows = igm.book.leaderboard(names, problems, seeds, steps, n=args.samples or n, device=device)
    total = time.perf_counter() - start
    header = (f"Budget {args.budget}: seeds {seeds}, {args.samples or n} samples per evaluation, "
              f"{len(rows)} runs in {total:.0f} s. Machine: {machine(device)}.")
    text = markdown(rows, header)
    print(text)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
            writer.writeheader()
            writer.writerows(rows)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
