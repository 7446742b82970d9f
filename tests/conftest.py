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
