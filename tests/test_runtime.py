"""Device choice, budgets and seeding."""
import random

import numpy as np
import pytest
import torch

import igmlib as igm
from igmlib import runtime


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("value", ["cpu", " cpu ", "cpu:0"])
def test_device_honours_env(monkeypatch, value):
    monkeypatch.setenv("IGM_DEVICE", value)
    assert igm.device().type == "cpu"


def test_device_default_prefers_cuda_then_mps_then_cpu(monkeypatch, no_accelerators):
    monkeypatch.delenv("IGM_DEVICE", raising=False)
    assert igm.device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert igm.device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert igm.device() == torch.device("cuda")


def test_device_env_overrides_available_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("IGM_DEVICE", "cpu")
    assert igm.device() == torch.device("cpu")


@pytest.mark.parametrize(
    "value, match",
    [
        ("banana", r"IGM_DEVICE='banana' is not a torch device name \(try cpu, cuda, mps\)"),
        ("cuda", r"IGM_DEVICE='cuda' but CUDA is not available: unset it or use cpu"),
        ("cuda:1", r"IGM_DEVICE='cuda:1' but CUDA is not available"),
        ("mps", r"IGM_DEVICE='mps' but MPS is not available"),
    ],
)
def test_device_rejects_bad_env(monkeypatch, no_accelerators, value, match):
    monkeypatch.setenv("IGM_DEVICE", value)
    with pytest.raises(ValueError, match=match):
        igm.device()


@pytest.mark.parametrize(
    "env, expected",
    [("quick", "quick"), ("full", "full"), (" QUICK ", "quick"), ("Full", "full"), ("", "full"), (None, "full")],
)
def test_budget_switch(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("IGM_BUDGET", raising=False)
    else:
        monkeypatch.setenv("IGM_BUDGET", env)
    assert runtime.budget_name() == expected
    assert igm.is_quick() == (expected == "quick")
    assert igm.budget(full=5000, quick=50) == (50 if expected == "quick" else 5000)


@pytest.mark.parametrize("env", ["fast", "1", "quik"])
def test_budget_rejects_unknown(monkeypatch, env):
    monkeypatch.setenv("IGM_BUDGET", env)
    with pytest.raises(ValueError, match=rf"unknown IGM_BUDGET '{env}'; choose one of: full, quick"):
        igm.budget(full=1, quick=2)


def test_budget_is_keyword_only():
    with pytest.raises(TypeError):
        igm.budget(1, 2)


@pytest.mark.parametrize(
    "env, expected", [("0", False), ("off", False), ("false", False), ("1", True), ("", None), (None, None)]
)
def test_progress_enabled(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("IGM_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("IGM_PROGRESS", env)
    assert runtime.progress_enabled() is expected


def test_seed_everything_reproduces_all_generators():
    igm.seed_everything(123)
    first = (torch.randn(5), np.random.rand(3), random.random())
    igm.seed_everything(123)
    second = (torch.randn(5), np.random.rand(3), random.random())
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]
    igm.seed_everything(124)
    assert not torch.equal(torch.randn(5), first[0])


def test_seed_everything_accepts_large_seeds():
    igm.seed_everything(2**40)  # numpy only takes 32-bit seeds: reduced modulo 2**32
    a = np.random.rand()
    igm.seed_everything(2**40)
    assert np.random.rand() == a


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (-1, ValueError, r"seed must be >= 0, got -1"),
        (1.5, TypeError, r"seed must be an int, got float"),
        ("0", TypeError, r"seed must be an int, got str"),
        (True, TypeError, r"seed must be an int, got bool"),
        (None, TypeError, r"seed must be an int, got NoneType"),
    ],
)
def test_seed_everything_rejects(seed, error, match):
    with pytest.raises(error, match=match):
        igm.seed_everything(seed)


def test_cache_dir_is_igm_cache_or_pooch_s_user_folder(monkeypatch, tmp_path):
    import pooch

    monkeypatch.setenv("IGM_CACHE", str(tmp_path))
    assert runtime.cache_dir() == tmp_path
    assert igm.data.data_dir("mnist") == tmp_path / "mnist"  # datasets live under the one cache root
    monkeypatch.setenv("IGM_CACHE", "  ")
    assert str(runtime.cache_dir()) == str(pooch.os_cache("igmlib"))
    monkeypatch.delenv("IGM_CACHE")
    assert str(runtime.cache_dir()) == str(pooch.os_cache("igmlib"))


def test_fork_rng_restores_torch_and_numpy_states():
    torch.manual_seed(1)
    np.random.seed(1)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    with runtime.fork_rng(7, numpy=True):
        a = torch.rand(2), np.random.rand(2)
    with runtime.fork_rng(7, numpy=True):
        b = torch.rand(2), np.random.rand(2)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # seeded inside
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), numpy_state))


def test_the_runtime_docstring_lists_every_environment_variable_igmlib_reads():
    import re
    from pathlib import Path

    package = Path(igm.__file__).parent
    read = set()
    for path in package.rglob("*.py"):
        text = path.read_text()
        if path.name != "runtime.py":
            assert "os.environ" not in text and "getenv" not in text, f"{path.name} reads the environment"
        read |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', text))
    read |= set(runtime.LAUNCHER_VARIABLES)
    assert {"IGM_DEVICE", "IGM_BUDGET", "IGM_PROGRESS", "IGM_CACHE"} <= read
    assert all(f"``{name}``" in runtime.__doc__ for name in read), read
