"""Time and peak memory of the pairwise metrics against the sample size (CPU, 2-D samples).

Measured: ``mmd2(x, y, bandwidth=1.0)`` (unbiased), ``median_bandwidth(x)`` (the ``n`` points of
``x``), ``precision_recall(x, y)`` (k = 3) and ``parzen_log_likelihood(x, y, 0.1)``, with ``x`` and
``y`` two seeded float32 samples of ``n`` points each (``N(0, I)`` and ``N(0.5, 1.5^2 I)`` in 2-D).

Peak memory: ``tracemalloc`` does not see torch's allocations, so every measurement runs in a fresh
Python process, which reads its peak resident set size (``VmHWM`` of ``/proc/self/status``) after
the call; the table gives it minus the peak of an idle process that did everything else (the same
imports, data and a warm-up call of every metric on 64 points, which loads the lazily imported
libraries): the memory the call itself added. Time: wall clock of the call (the best of up to 5
calls while they take under 1 s in all, else one call).

The old code (``--old-rev``, by default the commit before the blocked versions) is read with
``git show`` into a temporary package and measured the same way, only at ``--old-sizes``: it builds
whole ``n x n`` matrices (about 7.6 GB for ``mmd2`` at 20,000), so keep those sizes at or below
10,000 on a machine with less than 32 GB.

``--training``: the speed of the small case that matters for training, GMMN's loss on a batch of
256 digits (``mmd2`` of ``(256, 64)`` float32 samples, bandwidths (2, 4, 8), forward and backward),
old against new in one fresh process, in 20 alternating rounds of 50 calls (best and median).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/memory.py [--sizes 1000,5000,20000,50000]
        [--old-sizes 1000,5000,10000] [--metrics mmd2,median_bandwidth,precision_recall,parzen_log_likelihood]
        [--old-rev REV] [--training]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("mmd2", "median_bandwidth", "precision_recall", "parzen_log_likelihood")
OLD_FILES = {"kernels": "igmlib/divergences/kernels.py", "two_sample": "igmlib/metrics/two_sample.py",
             "likelihood": "igmlib/metrics/likelihood.py"}
OLD_REV = "7ef3877626aa90dbe517c04a4b7f32fbc5dea480"  # the last commit with the unblocked metrics


# ---------------------------------------------------------------- the child process

def _functions(old_dir: str | None):
    """The four metrics, from igmlib or from the old sources in ``old_dir``."""
    if old_dir:
        sys.path.insert(0, old_dir)
        from oldigm import kernels, likelihood, two_sample  # noqa: PLC0415 (written by the parent)
    else:
        from igmlib.divergences import kernels
        from igmlib.metrics import likelihood, two_sample
    return {
        "mmd2": lambda x, y: float(kernels.mmd2(x, y, bandwidth=1.0)),
        "median_bandwidth": lambda x, y: kernels.median_bandwidth(x),
        "precision_recall": lambda x, y: tuple(two_sample.precision_recall(x, y, k=3)),
        "parzen_log_likelihood": lambda x, y: float(likelihood.parzen_log_likelihood(x, y, 0.1)),
    }


def _peak_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def _samples(n: int, d: int = 2, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), 0.5 + 1.5 * torch.randn(n, d, generator=g)


def child(metric: str, n: int, old_dir: str | None) -> dict:
    """Run in a fresh process: warm up every metric, then time one (``metric == "idle"``: none)."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    functions = _functions(old_dir)
    small = _samples(64)
    for function in functions.values():
        function(*small)
    out = {"metric": metric, "n": n, "old": bool(old_dir)}
    if metric != "idle":
        x, y = _samples(n)
        times, value = [], None
        while not times or (sum(times) < 1.0 and len(times) < 5):
            start = time.perf_counter()
            value = functions[metric](x, y)
            times.append(time.perf_counter() - start)
        out.update(seconds=min(times), value=value)
    out["peak_kib"] = _peak_kib()
    return out


def child_training(old_dir: str, rounds: int = 20, calls: int = 50) -> dict:
    """GMMN's loss on a batch of 256 digits: mmd2 of (256, 64) float32, forward and backward; old
    and new in one process, in alternating rounds (so that load changes hit both alike)."""
    import statistics

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.path.insert(0, old_dir)
    from oldigm.kernels import mmd2 as old

    from igmlib.divergences import mmd2 as new

    x, y = _samples(256, 64)
    x.requires_grad_()
    times = {"old": [], "new": []}
    for i in range(rounds):
        for name, mmd2 in (("old", old), ("new", new)) if i % 2 else (("new", new), ("old", old)):
            start = time.perf_counter()
            for _ in range(calls):
                mmd2(x, y, bandwidth=(2.0, 4.0, 8.0)).backward()
            times[name].append(1000 * (time.perf_counter() - start) / calls)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


# ---------------------------------------------------------------- the parent

def write_old_package(rev: str, folder: Path) -> Path:
    """``git show rev:<file>`` of the old metric modules into ``folder/oldigm``, imports made absolute."""
    package = folder / "oldigm"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, path in OLD_FILES.items():
        source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                                text=True).stdout
        source = source.replace("from .._validation import", "from igmlib._validation import")
        source = source.replace("from ..runtime import", "from igmlib.runtime import")
        (package / f"{module}.py").write_text(source)
    return folder


def run_child(args: list[str], timeout: float = 1800) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")))
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["killed"])[-1], "returncode": proc.returncode}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f}" if kib >= 10 * 1024 else f"{kib / 1024:.1f}"


def _cell(result: dict | None, baseline: int, key: str) -> str:
    if result is None:
        return "not run"
    if "error" in result:
        return f"failed ({result['error'][:40]})"
    return _mib(max(result["peak_kib"] - baseline, 0)) if key == "peak" else f"{result['seconds']:.3g}"


def _difference(old: dict | None, new: dict) -> str:
    if not old or "error" in old or "error" in new:
        return ""
    a, b = old["value"], new["value"]
    a, b = (a, b) if isinstance(a, list) else ([a], [b])
    return f"{max(abs(u - v) for u, v in zip(a, b)):.1e}"


def measure(metrics, sizes, old_sizes, old_dir: str) -> list[str]:
    baseline = {False: run_child(["idle", "0"])["peak_kib"], True: run_child(["idle", "0", old_dir])["peak_kib"]}
    print(f"idle process peak: new {_mib(baseline[False])} MiB, old {_mib(baseline[True])} MiB", file=sys.stderr)
    rows = ["| metric | n | old peak MiB | new peak MiB | old s | new s | max abs difference |",
            "|---|---|---|---|---|---|---|"]
    for metric in metrics:
        for n in sorted(set(sizes) | set(old_sizes)):
            old = run_child([metric, str(n), old_dir]) if n in old_sizes else None
            new = run_child([metric, str(n)]) if n in sizes else None
            row = (f"| {metric} | {n:,} | {_cell(old, baseline[True], 'peak')} | {_cell(new, baseline[False], 'peak')} "
                   f"| {_cell(old, 0, 's') if old else 'not run'} | {_cell(new, 0, 's') if new else 'not run'} "
                   f"| {_difference(old, new) if new else ''} |")
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--old-sizes", default="1000,5000,10000")
    parser.add_argument("--metrics", default=",".join(METRICS))
    parser.add_argument("--old-rev", default=OLD_REV)
    parser.add_argument("--training", action="store_true", help="also time GMMN's batch-256 loss, old and new")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        metric, n, *old = args.child
        result = child_training(old[0]) if metric == "training" else child(metric, int(n), old[0] if old else None)
        print(json.dumps(result))
        return
    import torch

    sizes = [int(s) for s in args.sizes.split(",") if s]
    old_sizes = [int(s) for s in args.old_sizes.split(",") if s]
    if max(old_sizes, default=0) > 12000:
        parser.error("--old-sizes above 12,000 need tens of GB (whole n x n matrices); keep them at or below 10,000")
    metrics = [m for m in args.metrics.split(",") if m]
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, old code: {args.old_rev[:10]}")
    with tempfile.TemporaryDirectory() as folder:
        old_dir = str(write_old_package(args.old_rev, Path(folder)))
        if metrics:
            print("\n".join(measure(metrics, sizes, old_sizes, old_dir)))
        if args.training:
            result = run_child(["training", "0", old_dir])
            for name in ("old", "new"):
                best, median = result[name]
                print(f"GMMN loss, mmd2 (256, 64) forward + backward, {name}: {best:.3f} ms per call "
                      f"(median of 20 rounds {median:.3f} ms)")


if __name__ == "__main__":
    main()
