"""Shared test set-up: quick budget, no progress bars, a non-interactive matplotlib backend."""
import os

os.environ.setdefault("IGM_PROGRESS", "0")
os.environ.setdefault("IGM_BUDGET", "quick")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

# The test models are tiny: one thread is fastest, and on shared CI cores several threads per
# process oversubscribe the CPU (measured: a 150-step classifier fit took 34 s with 2 threads under
# load, 2 s with 1).
torch.set_num_threads(1)


@pytest.fixture
def ckpt_path(tmp_path):
    """A path for a training checkpoint inside the test's temporary folder."""
    return tmp_path / "checkpoint.pt"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built once per session on the quick budget with ``-W`` (a failing cell or a Sphinx
    warning fails the build), into a temporary folder; returns its ``_build/html``."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, IGM_BUDGET=os.environ.get("IGM_BUDGET", "quick"), IGM_PROGRESS="0")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(root), "--path-output", str(out), "--builder", "html", "-W", "--keep-going"],
        capture_output=True, text=True, env=env, timeout=1500,
    )
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, "\n".join(problems[:40]) or (proc.stdout[-6000:] + proc.stderr[-6000:])
    return out / "_build" / "html"


def fit_and_check_every_parameter_changes(model, data, *, steps=5, batch_size=32, keys=()):
    """Train ``model`` for a few steps and check that the history has ``keys``, every logged value is
    finite and every tensor of the state dict changed; returns the history."""
    import math

    import igmlib as igm

    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = igm.fit(model, data, steps=steps, batch_size=batch_size, seed=0, progress=False)
    assert set(history) >= set(keys)
    assert all(math.isfinite(v) for values in history.values() for v in values)
    for key, value in model.state_dict().items():
        assert not torch.equal(before[key], value), f"{key} did not change"
    return history
