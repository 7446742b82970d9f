"""Checkpoints that cannot lie: finite on write, hash-verified on read, clear errors, explicit changes on resume."""
import math
import os

import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.checkpoint import MAGIC, CheckpointError, load_checkpoint

TARGET = torch.distributions.Independent(torch.distributions.Normal(torch.tensor([3.0]), torch.tensor([1.0])), 1)


class Location(nn.Module):
    """Fit the mean of TARGET with SGD (or Adam): one player, "fitter"."""

    def __init__(self, lr=0.1, optimizer="sgd", scheduled=False, bad_param_at=None):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(1))
        self.lr, self.optimizer, self.scheduled, self.bad_param_at, self.calls = lr, optimizer, scheduled, bad_param_at, 0

    def fitter_loss(self, x):
        self.calls += 1
        if self.bad_param_at is not None and self.calls >= self.bad_param_at:
            with torch.no_grad():  # the parameter turns NaN while the loss stays finite
                self.mu.fill_(math.nan)
            return (0.0 * x).sum() + (0.0 * self.mu).nan_to_num().sum()
        return 0.5 * ((x - self.mu) ** 2).mean()

    def players(self):
        lr = self.lr
        factory = ((lambda p: torch.optim.SGD(p, lr=lr)) if self.optimizer == "sgd"
                   else (lambda p: torch.optim.Adam(p, lr=lr)))
        return [igm.Player("fitter", [self], self.fitter_loss, factory,
                           scheduler=igm.linear_decay(0.5) if self.scheduled else None)]


def write(ckpt_path, steps=10, **kwargs):
    igm.fit(Location(**kwargs), TARGET, steps=steps, batch_size=8, seed=0, checkpoint=ckpt_path, checkpoint_every=5)
    return ckpt_path


# ------------------------------------------------------------------------------------- writing
def test_a_non_finite_parameter_stops_the_run_and_keeps_the_last_good_checkpoint(ckpt_path):
    model = Location(bad_param_at=8)
    with pytest.raises(igm.TrainingDiverged, match=r"diverged at step 10: non-finite values \{'model.mu': nan\}; "
                                                   rf"the last good checkpoint is {ckpt_path}"):
        igm.fit(model, TARGET, steps=20, batch_size=8, seed=0, checkpoint=ckpt_path, checkpoint_every=5)
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt["step"] == 5 and bool(torch.isfinite(ckpt["model"]["mu"]).all())


def test_save_checkpoint_refuses_non_finite_optimizer_state(ckpt_path):
    model = Location(optimizer="adam")
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.fitter_loss(torch.ones(4, 1)).backward()
    opt.step()
    opt.state[model.mu]["exp_avg"].fill_(math.inf)
    state = igm.TrainState(1, model, {}, {"fitter": opt})
    with pytest.raises(ValueError, match=r"not writing checkpoint .* at step 1: non-finite values in optimizer 'fitter', "
                                         r"parameter 0, exp_avg"):
        igm.checkpoint.save_checkpoint(ckpt_path, state, {}, steps=1)
    assert not ckpt_path.exists()


def test_writes_leave_no_temporary_file_even_when_interrupted(ckpt_path, monkeypatch):
    write(ckpt_path)
    before = ckpt_path.read_bytes()
    assert [p.name for p in ckpt_path.parent.iterdir()] == [ckpt_path.name]

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write(ckpt_path)
    assert [p.name for p in ckpt_path.parent.iterdir()] == [ckpt_path.name]  # no .tmp left behind
    assert ckpt_path.read_bytes() == before  # the old checkpoint is intact


# ------------------------------------------------------------------------------------- reading
def _corrupt(path, how):
    data = path.read_bytes()
    if how == "flipped byte":
        i = len(data) - 100
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "foreign":
        torch.save({"model": {}}, path)
    elif how == "text":
        path.write_text("hello")
    elif how == "missing":
        path.unlink()


@pytest.mark.parametrize("how, match", [
    ("flipped byte", r"is corrupt: its SHA-256 does not match .* truncated or modified"),
    ("truncated", r"is corrupt: its SHA-256 does not match"),
    ("empty", r"is empty \(0 bytes\)"),
    ("foreign", r"is not an igmlib checkpoint \(it lacks the 'IGMLIB-CHECKPOINT 1' header\)"),
    ("text", r"is not an igmlib checkpoint"),
    ("missing", r"cannot read checkpoint .*: No such file"),
])
def test_every_unreadable_checkpoint_gets_one_clear_error(ckpt_path, how, match):
    write(ckpt_path)
    _corrupt(ckpt_path, how)
    for load in (lambda: load_checkpoint(ckpt_path),
                 lambda: igm.fit(Location(), TARGET, steps=12, batch_size=8, seed=0, resume=ckpt_path)):
        with pytest.raises(CheckpointError, match=match) as info:
            load()
        assert str(ckpt_path) in str(info.value) and "weights_only" not in str(info.value)


def test_a_verified_file_without_an_entry_is_refused(ckpt_path):
    import hashlib
    import io

    ckpt = load_checkpoint(write(ckpt_path))
    del ckpt["rng"]
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    payload = buffer.getvalue()
    ckpt_path.write_bytes(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match=r"lacks rng: it was not written by this igmlib's fit"):
        load_checkpoint(ckpt_path)


# ------------------------------------------------------------------------------------ resuming
def test_resume_refuses_another_learning_rate_unless_asked(ckpt_path):
    write(ckpt_path, lr=0.1)
    with pytest.raises(CheckpointError, match=r"other settings \(fitter: lr 0.1 -> 0.01\): pass new_hyperparameters=True"):
        igm.fit(Location(lr=0.01), TARGET, steps=12, batch_size=8, seed=0, resume=ckpt_path)
    lrs = []
    igm.fit(Location(lr=0.01), TARGET, steps=12, batch_size=8, seed=0, resume=ckpt_path, new_hyperparameters=True,
            callbacks=[lambda s: lrs.append(s.optimizers["fitter"].param_groups[0]["lr"])])
    assert lrs == [0.01, 0.01]


def test_resume_keeps_adam_moments_with_the_new_learning_rate(ckpt_path):
    write(ckpt_path, optimizer="adam", lr=0.1)
    saved = load_checkpoint(ckpt_path)["optimizers"]["fitter"]["state"][0]["exp_avg"]
    seen = []

    def first_step(state):
        if not seen:
            seen.append(state.optimizers["fitter"].param_groups[0]["lr"])

    igm.fit(Location(optimizer="adam", lr=0.02), TARGET, steps=11, batch_size=8, seed=0, resume=ckpt_path,
            new_hyperparameters=True, callbacks=[first_step])
    assert seen == [0.02] and saved.abs().sum() > 0


def test_resume_refuses_another_optimizer_class(ckpt_path):
    write(ckpt_path, optimizer="adam")
    with pytest.raises(CheckpointError, match=r"holds a Adam state for player 'fitter', this run uses SGD"):
        igm.fit(Location(optimizer="sgd"), TARGET, steps=12, batch_size=8, seed=0, resume=ckpt_path)
    with pytest.raises(CheckpointError, match=r"this run uses SGD"):
        igm.fit(Location(optimizer="adam"), TARGET, steps=12, batch_size=8, seed=0, resume=ckpt_path,
                optimizers={"fitter": lambda p: torch.optim.SGD(p, lr=0.1)}, new_hyperparameters=True)


def test_resume_with_a_schedule_needs_the_same_steps_or_says_so(ckpt_path):
    write(ckpt_path, steps=10, scheduled=True)
    with pytest.raises(CheckpointError, match=r"steps 10 -> 20 \(the learning-rate schedule depends on it\)"):
        igm.fit(Location(scheduled=True), TARGET, steps=20, batch_size=8, seed=0, resume=ckpt_path)
    lrs = []
    igm.fit(Location(scheduled=True, lr=0.2), TARGET, steps=20, batch_size=8, seed=0, resume=ckpt_path,
            new_hyperparameters=True, callbacks=[lambda s: lrs.append(s.optimizers["fitter"].param_groups[0]["lr"])])
    # the new schedule over 20 steps at base 0.2: constant until step 10, then linear to 0
    assert lrs[0] == pytest.approx(0.2 * (20 - 11) / 10) and lrs[-1] == pytest.approx(0.0)


def test_the_divergence_message_names_a_way_to_resume_and_that_way_works(ckpt_path):
    torch.manual_seed(0)
    data = igm.data.ring()
    model = igm.models.GAN(igm.nets.MLP(2, 2, hidden=(16,)), igm.nets.MLP(2, 1, hidden=(16,)), 2, lr=1e-3)
    igm.fit(model, data, steps=10, batch_size=32, seed=0, checkpoint=ckpt_path, checkpoint_every=10)
    model.lr = 1e30  # far too high: the next steps diverge
    with pytest.raises(CheckpointError, match="new_hyperparameters=True"):
        igm.fit(model, data, steps=30, batch_size=32, seed=0, resume=ckpt_path)
    with pytest.raises(igm.TrainingDiverged, match=rf"resume with fit\(\.\.\., resume='{ckpt_path}', "
                                                   r"new_hyperparameters=True\)") as info:
        igm.fit(model, data, steps=30, batch_size=32, seed=0, resume=ckpt_path, new_hyperparameters=True,
                checkpoint=ckpt_path, checkpoint_every=10)
    assert info.value.checkpoint == ckpt_path and load_checkpoint(ckpt_path)["step"] == 10
    model.lr = 1e-4  # follow the message
    history = igm.fit(model, data, steps=30, batch_size=32, seed=0, resume=info.value.checkpoint,
                      new_hyperparameters=True)
    assert len(history["generator"]) == 30 and all(math.isfinite(v) for v in history["generator"])


def test_resume_into_a_model_built_differently_says_so(ckpt_path):
    torch.manual_seed(0)
    make = lambda **kw: igm.models.GAN(igm.nets.MLP(2, 2, hidden=(8,)), igm.nets.MLP(2, 1, hidden=(8,)), 2, **kw)
    igm.fit(make(ema=0.9), igm.data.ring(), steps=2, batch_size=16, seed=0, checkpoint=ckpt_path)
    with pytest.raises(CheckpointError, match=r"holds another GAN: .*generator_ema.*Build the model as the run that wrote it did \(same networks and options such as ema=\)"):
        igm.fit(make(), igm.data.ring(), steps=4, batch_size=16, seed=0, resume=ckpt_path)
