"""Data-parallel fit: two CPU processes (gloo) launched by torchrun, compared with one process."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import igmlib as igm

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no torch.distributed with the gloo backend",
)

# One module shared by the torchrun workers (they import this text) and the single-process run.
COMMON = textwrap.dedent('''
    import torch
    from torch import nn
    import igmlib as igm


    def rows(call, rank, n):
        """Deterministic data: the rows rank ``rank`` sees at its ``call``-th draw."""
        g = torch.Generator().manual_seed(1000 * call + rank)
        return torch.randn(n, 3, generator=g) + torch.tensor([1.0, -2.0, 0.5])


    class Duel(nn.Module):
        """Two players; the point's loss passes through the critic (as G's passes through D)."""

        def __init__(self, seed):
            super().__init__()
            torch.manual_seed(seed)  # each rank starts elsewhere: fit must broadcast rank 0's values
            self.critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
            self.point = nn.Linear(1, 3)

        def critic_loss(self, x):  # a mean over the minibatch
            fake = self.point(torch.ones(1, 1)).detach()
            return ((self.critic(x) - 1) ** 2).mean() + (self.critic(fake) ** 2).mean()

        def point_loss(self, n):
            p = self.point(torch.ones(1, 1))
            return ((self.critic(p) - 1) ** 2).mean() + 0.1 * (p ** 2).sum()

        def players(self):
            return [igm.Player("critic", [self.critic], self.critic_loss, igm.models.adam(1e-2)),
                    igm.Player("point", [self.point], self.point_loss, igm.models.adam(1e-2), needs_data=False)]
''')

WORKER = textwrap.dedent('''
    import os, shutil, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, os.path.dirname(__file__))
    from duel import Duel, rows
    import igmlib as igm

    out, rank = sys.argv[1], int(os.environ["RANK"])
    calls = iter(range(10**6))
    model = Duel(seed=10 + rank)
    history = igm.fit(model, lambda n: rows(next(calls), rank, n), steps=STEPS, batch_size=BATCH, distributed=True)
    torch.save({"params": [p.detach() for p in model.parameters()], "history": history}, f"{out}/rank{rank}.pt")

    # checkpoints: written by rank 0 only, with every rank's RNG state; resuming continues exactly
    def keep_mid(state):
        if state.step == 6 and rank == 0:  # ckpt.pt was written at the end of step 5
            shutil.copy(f"{out}/ckpt.pt", f"{out}/mid.pt")

    ring = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(3), torch.ones(3)), 1)
    a = Duel(seed=20 + rank)
    igm.fit(a, ring, steps=10, batch_size=8, seed=3, checkpoint=f"{out}/ckpt.pt", checkpoint_every=5, callbacks=[keep_mid])
    torch.distributed.barrier()
    b = Duel(seed=30 + rank)
    igm.fit(b, ring, steps=10, batch_size=8, seed=3, resume=f"{out}/mid.pt")
    torch.save({"a": [p.detach() for p in a.parameters()], "b": [p.detach() for p in b.parameters()]}, f"{out}/resume{rank}.pt")
''')

STEPS, BATCH = 15, 8


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Run the worker on two CPU processes with torchrun; return the folder with their outputs."""
    out = tmp_path_factory.mktemp("ddp")
    (out / "duel.py").write_text(COMMON)
    (out / "worker.py").write_text(WORKER.replace("STEPS", str(STEPS)).replace("BATCH", str(BATCH)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "IGM_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(out / "worker.py"), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def load_common(folder):
    spec = importlib.util.spec_from_file_location("duel", folder / "duel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def test_parameters_and_history_identical_across_ranks(two_ranks):
    r0, r1 = (torch.load(two_ranks / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(a, b) for a, b in zip(r0["params"], r1["params"]))
    assert r0["history"] == r1["history"] and len(r0["history"]["critic"]) == STEPS


def test_two_ranks_equal_one_process_with_the_concatenated_batch(two_ranks):
    ns = load_common(two_ranks)
    rows, calls = ns["rows"], iter(range(10**6))

    def both(n):  # one draw = rank 0's rows then rank 1's rows of the same call
        call = next(calls)
        return torch.cat([rows(call, 0, n // 2), rows(call, 1, n // 2)])

    model = ns["Duel"](seed=10)  # rank 0's initial parameters
    history = igm.fit(model, both, steps=STEPS, batch_size=2 * BATCH)
    ddp = torch.load(two_ranks / "rank0.pt", weights_only=True)
    for a, b in zip(ddp["params"], model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-6)
    for key in history:  # the history of a data-parallel run is the mean over ranks
        torch.testing.assert_close(torch.tensor(ddp["history"][key]), torch.tensor(history[key]), rtol=1e-5, atol=1e-6)
    # and it differs from one rank's half batch alone: the gradients really were averaged
    calls0 = iter(range(10**6))
    alone = ns["Duel"](seed=10)
    igm.fit(alone, lambda n: rows(next(calls0), 0, n), steps=STEPS, batch_size=BATCH)
    assert not torch.allclose(next(alone.parameters()), ddp["params"][0], atol=1e-4)


def test_checkpoint_from_rank_zero_resumes_every_rank_exactly(two_ranks):
    ckpt = igm.load_checkpoint(two_ranks / "mid.pt")
    assert ckpt["step"] == 5 and ckpt["config"]["world_size"] == 2 and len(ckpt["rng_ranks"]) == 2
    assert not torch.equal(ckpt["rng_ranks"][0]["torch"], ckpt["rng_ranks"][1]["torch"])  # per-rank data streams
    for rank in (0, 1):
        out = torch.load(two_ranks / f"resume{rank}.pt", weights_only=True)
        assert all(torch.equal(a, b) for a, b in zip(out["a"], out["b"]))


def test_distributed_true_without_a_launcher_says_how_to_launch(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    model = nn.Linear(1, 1)
    model.players = lambda: [igm.Player("p", [model], lambda x: model(x).mean(), igm.models.adam(1e-3))]
    with pytest.raises(RuntimeError, match=r"distributed=True needs the environment of a launcher; RANK, .*torchrun --nproc_per_node=N"):
        igm.fit(model, torch.randn(10, 1), steps=1, batch_size=2, distributed=True)
