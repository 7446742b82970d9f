"""The training loop: convergence, player isolation, determinism, checkpoints, divergence, callbacks."""
import math
import os
import shutil

import pytest
import torch
from torch import distributions as D
from torch import nn

import igmlib as igm
from igmlib.models import GAN
from igmlib.nets import MLP

TARGET = igm.data.gaussian_mixture([3.0], 1.0)  # N(3, 1) as a 1-D event


class Location(nn.Module):
    """One player fits the mean of 1-D data by minimising 0.5 E (x - mu)^2 with SGD."""

    def __init__(self, lr=0.1, extras=False):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(1))
        self.lr, self.extras = lr, extras

    def fitter_loss(self, x):
        value = 0.5 * ((x - self.mu) ** 2).mean()
        return {"loss": value, "mu": self.mu.detach()[0]} if self.extras else value

    def sample(self, n):
        return self.mu.detach().expand(n, 1).clone()

    def players(self):
        return [igm.Player("fitter", [self], self.fitter_loss, lambda p: torch.optim.SGD(p, lr=self.lr))]


def small_gan(seed=0, **kwargs):
    torch.manual_seed(seed)
    return GAN(MLP(2, 2, hidden=(16, 16)), MLP(2, 1, hidden=(16, 16)), latent_dim=2, lr=1e-3, **kwargs)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_fit_converges_on_a_gaussian_location():
    model = Location(lr=0.1, extras=True)
    history = igm.fit(model, TARGET, steps=200, batch_size=64, seed=0)
    assert set(history) == {"fitter", "mu"} and len(history["fitter"]) == 200
    torch.testing.assert_close(model.mu.detach(), torch.tensor([3.0]), atol=0.15, rtol=0)
    # the loss drops from ~0.5 (9 + 1) to the noise floor 0.5 Var x = 0.5
    first, last = history["fitter"][0], sum(history["fitter"][-50:]) / 50
    assert 4.0 < first < 6.0 and 0.35 < last < 0.65
    assert history["mu"][-1] == float(model.mu.detach())


@pytest.mark.parametrize(
    "data",
    [
        lambda: torch.randn(500, 1) + 3,  # a tensor
        lambda: (torch.randn(500, 1) + 3,),  # a 1-tuple of tensors: batches are tuples
        lambda: (lambda n: torch.randn(n, 1) + 3),  # a callable n -> batch
    ],
)
def test_fit_accepts_tensors_tuples_and_callables(data):
    torch.manual_seed(0)
    d = data()

    class M(Location):
        def fitter_loss(self, x):
            x = x[0] if isinstance(x, tuple) else x
            assert x.shape == (32, 1)
            return super().fitter_loss(x)

    model = M()
    igm.fit(model, d, steps=150, batch_size=32, seed=0)
    torch.testing.assert_close(model.mu.detach(), torch.tensor([3.0]), atol=0.2, rtol=0)


def test_player_steps_needs_data_and_after_update():
    calls = {"loss": [], "after": 0}

    class M(Location):
        def players(self):
            def loss(n):
                calls["loss"].append(n)
                return (self.mu**2).sum()

            def after():
                calls["after"] += 1

            return [igm.Player("p", [self], loss, lambda p: torch.optim.SGD(p, lr=0.1), updates=3, needs_data=False, after_update=after)]

    history = igm.fit(M(), TARGET, steps=4, batch_size=17)
    assert calls["loss"] == [17] * 12 and calls["after"] == 12
    assert len(history["p"]) == 4


def test_gan_fit_changes_both_players():
    model = small_gan()
    g0, d0 = params(model.generator), params(model.discriminator)
    history = igm.fit(model, igm.data.ring(), steps=5, batch_size=32)
    assert set(history) == {"discriminator", "generator", "D(x)", "D(G(z))"}
    assert all(len(v) == 5 for v in history.values())
    assert all(not torch.equal(a, b) for a, b in zip(g0, params(model.generator)))
    assert all(not torch.equal(a, b) for a, b in zip(d0, params(model.discriminator)))


class OnlyPlayer(GAN):
    """A GAN that runs only one of its players."""

    def __init__(self, which, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.which = which

    def players(self):
        return [p for p in super().players() if p.name == self.which]


@pytest.mark.parametrize("which, other", [("discriminator", "generator"), ("generator", "discriminator")])
def test_a_player_step_changes_only_its_own_parameters(which, other):
    torch.manual_seed(0)
    model = OnlyPlayer(which, MLP(2, 2, hidden=(16,)), MLP(2, 1, hidden=(16,)), latent_dim=2, lr=1e-2)
    mine, theirs = getattr(model, which), getattr(model, other)
    before_mine, before_theirs = params(mine), params(theirs)
    igm.fit(model, igm.data.ring(), steps=5, batch_size=32)
    assert same(before_theirs, params(theirs))
    assert all(p.grad is None for p in theirs.parameters())  # G's loss backpropagates through D, into no D gradient
    assert not same(before_mine, params(mine))


def test_requires_grad_flags_restored_and_frozen_parameters_stay_frozen():
    model = small_gan()
    frozen = model.generator[0].weight
    frozen.requires_grad_(False)
    value = frozen.detach().clone()
    igm.fit(model, igm.data.ring(), steps=3, batch_size=16)
    assert frozen.requires_grad is False
    assert torch.equal(frozen.detach(), value)
    assert all(p.requires_grad for p in model.parameters() if p is not frozen)


def test_requires_grad_restored_after_an_exception():
    model = Location()

    class Boom(Exception):
        pass

    def fail(state):
        raise Boom

    with pytest.raises(Boom):
        igm.fit(model, TARGET, steps=3, batch_size=4, callbacks=[fail])
    assert model.mu.requires_grad


def test_fit_is_deterministic_for_a_seed():
    data = igm.data.ring()
    h1 = igm.fit(small_gan(), data, steps=15, batch_size=32, seed=3)
    h2 = igm.fit(small_gan(), data, steps=15, batch_size=32, seed=3)
    h3 = igm.fit(small_gan(), data, steps=15, batch_size=32, seed=4)
    assert h1 == h2
    assert h1["discriminator"] != h3["discriminator"]


def test_optimizer_override_is_used():
    model = small_gan()
    g0 = params(model.generator)
    igm.fit(model, igm.data.ring(), steps=3, batch_size=16, optimizers={"generator": lambda p: torch.optim.SGD(p, lr=0.0)})
    assert same(g0, params(model.generator))


def test_checkpoint_round_trip_equals_uninterrupted_run(tmp_path):
    data = igm.data.ring()
    full, mid = tmp_path / "run.pt", tmp_path / "step10.pt"

    def keep_step_10(state):
        if state.step == 11:  # run.pt was written at the end of step 10
            shutil.copy(full, mid)

    model = small_gan()
    history = igm.fit(model, data, steps=20, batch_size=32, seed=5, checkpoint=full, checkpoint_every=10, callbacks=[keep_step_10])

    ckpt = igm.load_checkpoint(mid)
    assert ckpt["step"] == 10
    assert ckpt["history"] == {k: v[:10] for k, v in history.items()}
    assert ckpt["config"] == {"model": "GAN", "players": [["discriminator", 1], ["generator", 1]], "batch_size": 32, "seed": 5}
    assert ckpt["igmlib_version"] == igm.__version__
    assert set(ckpt["optimizers"]) == {"discriminator", "generator"}
    assert igm.load_checkpoint(full)["step"] == 20

    fresh = small_gan(seed=99)  # different initial weights: all state comes from the checkpoint
    resumed = igm.fit(fresh, data, steps=20, batch_size=32, seed=5, resume=mid)
    assert resumed == history  # exactly, float for float
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"batch_size": 16}, r"'batch_size': 16.*resume with the same model, players, batch_size and seed"),
        ({"seed": 1}, r"was written with config .*'seed': 0"),
    ],
)
def test_resume_refuses_a_changed_config(ckpt_path, change, match):
    data = igm.data.ring()
    igm.fit(small_gan(), data, steps=4, batch_size=32, seed=0, checkpoint=ckpt_path)
    kwargs = {"batch_size": 32, "seed": 0, **change}
    with pytest.raises(ValueError, match=match):
        igm.fit(small_gan(), data, steps=8, resume=ckpt_path, **kwargs)


def test_resume_refuses_another_model(ckpt_path):
    igm.fit(Location(), TARGET, steps=2, batch_size=8, checkpoint=ckpt_path)
    with pytest.raises(ValueError, match=r"'model': 'Location'"):
        igm.fit(small_gan(), igm.data.ring(), steps=4, batch_size=8, resume=ckpt_path)


class NaNAt(Location):
    """Location whose loss turns NaN at the ``nan_at``-th call."""

    def __init__(self, nan_at):
        super().__init__()
        self.nan_at, self.calls = nan_at, 0

    def fitter_loss(self, x):
        self.calls += 1
        value = super().fitter_loss(x)
        return value * math.nan if self.calls == self.nan_at else value


def test_divergence_raises_and_keeps_the_last_good_checkpoint(ckpt_path):
    with pytest.raises(igm.TrainingDiverged, match=rf"diverged at step 13: .*the last good checkpoint is {ckpt_path}") as info:
        igm.fit(NaNAt(13), TARGET, steps=30, batch_size=8, checkpoint=ckpt_path, checkpoint_every=5)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert (err.step, err.player, err.checkpoint) == (13, "fitter", ckpt_path)
    assert len(err.history["fitter"]) == 12 and all(math.isfinite(v) for v in err.history["fitter"])
    ckpt = igm.load_checkpoint(ckpt_path)
    assert ckpt["step"] == 10
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values())
    # training can go on from it
    model = NaNAt(nan_at=-1)
    history = igm.fit(model, TARGET, steps=12, batch_size=8, resume=ckpt_path)
    assert len(history["fitter"]) == 12 and math.isfinite(float(model.mu.detach()))


def test_divergence_without_checkpoint_says_so():
    with pytest.raises(igm.TrainingDiverged, match=r"step 2: .*no checkpoint was written \(pass checkpoint=") as info:
        igm.fit(NaNAt(2), TARGET, steps=5, batch_size=8)
    assert info.value.checkpoint is None


def test_snapshots_record_at_expected_steps_without_changing_training():
    data = igm.data.ring()
    snaps = igm.Snapshots(every=5, n=50, seed=1)
    with_cb = igm.fit(small_gan(), data, steps=20, batch_size=32, callbacks=[snaps])
    without = igm.fit(small_gan(), data, steps=20, batch_size=32)
    assert with_cb == without
    assert snaps.steps == [1, 5, 10, 15, 20]
    assert all(s.shape == (50, 2) and s.device.type == "cpu" and not s.requires_grad for s in snaps.samples)
    assert not torch.equal(snaps.samples[0], snaps.samples[-1])


def test_snapshots_use_the_same_latents_each_time():
    model = small_gan()
    snaps = igm.Snapshots(every=1, n=20, seed=7)
    state = igm.TrainState(1, model, {}, {})
    snaps(state)
    torch.randn(3)  # the global stream moves on; the snapshot's does not
    snaps(state._replace(step=2))
    assert torch.equal(snaps.samples[0], snaps.samples[1])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: igm.fit(small_gan(), igm.data.ring(), steps=2, optimizers={"critic": torch.optim.SGD}), ValueError,
         r"optimizers given for unknown players \['critic'\]; this model's players are: discriminator, generator"),
        (lambda: igm.fit(Location(), torch.randn(10, 1), steps=2, batch_size=11), ValueError,
         r"batch_size \(11\) exceeds the 10 samples in data: lower batch_size"),
        (lambda: igm.fit(Location(), (torch.randn(10, 1), torch.randn(9)), steps=2, batch_size=4), ValueError,
         r"data tensors must have the same first dimension, got \[10, 9\]"),
        (lambda: igm.fit(Location(), "digits", steps=2), TypeError, r"data must be a torch Distribution, .*got str"),
        (lambda: igm.fit(Location(), [1.0, 2.0], steps=2), TypeError, r"data must be a torch Distribution, .*got list"),
        (lambda: igm.fit(Location(), D.Normal(0.0, 1.0), steps=2), ValueError,
         r"a data distribution must have event_shape \(d,\), got \(\): wrap it in torch.distributions.Independent"),
        (lambda: igm.fit(nn.Linear(1, 1), TARGET, steps=2), TypeError, r"model must be an igmlib.Trainable .*; Linear lacks players: see CONTRIBUTING.md"),
        (lambda: igm.fit(Location(), TARGET, steps=0), ValueError, r"steps must be > 0"),
        (lambda: igm.fit(Location(), TARGET, steps=2, batch_size=2.0), TypeError, r"batch_size must be an int"),
        (lambda: igm.fit(Location(), TARGET, steps=2, checkpoint_every=0), ValueError, r"checkpoint_every must be > 0"),
        (lambda: igm.Snapshots(every=0), ValueError, r"every must be > 0"),
        (lambda: igm.fit(Location(), torch.randint(0, 3, (10, 1)), steps=2, batch_size=4), TypeError,
         r"data must be floating point, got torch.int64: convert them first, e.g. data.float\(\)"),
        (lambda: igm.fit(Location(), torch.zeros(10, 1, dtype=torch.bool), steps=2, batch_size=4), TypeError,
         r"data must be floating point, got torch.bool"),
        (lambda: igm.fit(Location(), torch.randn(10, 1).double(), steps=2, batch_size=4), TypeError,
         r"data are torch.float64 but the model's parameters are torch.float32: convert one of them"),
        (lambda: igm.fit(Location(), torch.full((10, 1), math.nan), steps=2, batch_size=4), ValueError,
         r"the data contain NaN or infinite values \(found in the data tensor\)"),
        (lambda: igm.fit(Location(), lambda n: torch.full((n, 1), math.inf), steps=2, batch_size=4), ValueError,
         r"NaN or infinite values \(found in the first minibatch\)"),
        (lambda: igm.fit(GAN(MLP(3, 2), MLP(2, 1), latent_dim=2), igm.data.ring(), steps=2), ValueError,
         r"player 'discriminator' could not compute its loss on a minibatch of shape \(256, 2\) with latent_dim = 2; "
         r"the error came from the generator: mat1 and mat2 shapes cannot be multiplied"),
        (lambda: igm.fit(GAN(MLP(2, 2), MLP(3, 1), latent_dim=2), igm.data.ring(), steps=2), ValueError,
         r"the error came from the discriminator: .*Check that the networks fit together: generator \(MLP\), "
         r"discriminator \(MLP\)"),
        (lambda: igm.fit(Location(), TARGET, steps=2, seed=-1), ValueError, r"seed must be >= 0, got -1"),
        (lambda: igm.fit(Location(), TARGET, steps=2, seed=1.5), TypeError, r"seed must be an int, got float"),
    ],
)
def test_fit_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_duplicate_player_names_rejected():
    class Twice(Location):
        def players(self):
            return super().players() * 2

    with pytest.raises(ValueError, match=r"player names must be unique, got \['fitter', 'fitter'\]"):
        igm.fit(Twice(), TARGET, steps=1)


def test_non_scalar_loss_rejected():
    class Vector(Location):
        def fitter_loss(self, x):
            return (x - self.mu) ** 2

    with pytest.raises(TypeError, match=r"player 'fitter': loss must return a scalar tensor or a dict with a scalar 'loss'"):
        igm.fit(Vector(), TARGET, steps=1, batch_size=4)


class ScheduledLocation(Location):
    def players(self):
        return [igm.Player("fitter", [self], self.fitter_loss, lambda p: torch.optim.SGD(p, lr=self.lr),
                           scheduler=igm.linear_decay(0.5))]


def test_linear_decay_keeps_then_decays_the_learning_rate_to_zero():
    model = ScheduledLocation(lr=0.1)
    lrs = []
    igm.fit(model, TARGET, steps=10, batch_size=8, callbacks=[lambda s: lrs.append(s.optimizers["fitter"].param_groups[0]["lr"])])
    # lr used at steps 1..5 is 0.1; after step t the next lr is 0.1 * (10 - t) / 5, reaching 0 after step 10
    expected = [0.1] * 4 + [0.1 * (10 - t) / 5 for t in range(5, 11)]
    assert lrs == pytest.approx(expected)


def test_scheduler_state_resumes_exactly(tmp_path):
    full, mid = tmp_path / "run.pt", tmp_path / "step6.pt"

    def keep_step_6(state):
        if state.step == 7:  # run.pt was written at the end of step 6
            shutil.copy(full, mid)

    history = igm.fit(ScheduledLocation(), TARGET, steps=10, batch_size=8, seed=1, checkpoint=full,
                      checkpoint_every=6, callbacks=[keep_step_6])
    assert igm.load_checkpoint(mid)["schedulers"]["fitter"]["last_epoch"] == 6
    resumed = igm.fit(ScheduledLocation(), TARGET, steps=10, batch_size=8, seed=1, resume=mid)
    assert resumed == history


@pytest.mark.parametrize("start", [-0.1, 1.0, 2])
def test_linear_decay_rejects_bad_start(start):
    with pytest.raises(ValueError, match=r"start must be a fraction of the run in \[0, 1\)"):
        igm.linear_decay(start)


# ---------------------------------------------------------------- speed: chunked host sync, AMP, compile


@pytest.mark.parametrize("sync_every", [1, 7, 50])
def test_chunked_sync_gives_the_per_step_history(sync_every):
    data = igm.data.ring()
    per_step = igm.fit(small_gan(), data, steps=20, batch_size=32, seed=2, callbacks=[lambda s: None])  # flushes every step
    chunked = igm.fit(small_gan(), data, steps=20, batch_size=32, seed=2, sync_every=sync_every)
    assert chunked == per_step and all(len(v) == 20 for v in chunked.values())


def test_logged_views_of_parameters_keep_the_value_of_their_step():
    seen = []

    def record(state):
        seen.append(float(state.model.mu.detach()))

    record.needs_history = False  # does not force a sync: values are read at the chunk boundary
    history = igm.fit(Location(extras=True), TARGET, steps=12, batch_size=8, sync_every=5, callbacks=[record])
    assert history["mu"] == seen  # "mu" is a view of the parameter, copied at its step
    assert len(set(seen)) == 12


def test_callbacks_see_the_complete_history_unless_they_opt_out():
    lengths, lazy = [], []

    def lazy_cb(state):
        lazy.append(len(state.history.get("fitter", [])))

    lazy_cb.needs_history = False
    igm.fit(Location(), TARGET, steps=12, batch_size=8, sync_every=5, callbacks=[lazy_cb])
    assert lazy == [0, 0, 0, 0, 5, 5, 5, 5, 5, 10, 10, 12]
    igm.fit(Location(), TARGET, steps=12, batch_size=8, sync_every=5, callbacks=[lambda s: lengths.append(len(s.history["fitter"]))])
    assert lengths == list(range(1, 13))


def test_divergence_detected_at_a_chunk_boundary_names_the_first_bad_step(ckpt_path):
    model = NaNAt(13)
    with pytest.raises(igm.TrainingDiverged, match=rf"diverged at step 13: .*the last good checkpoint is {ckpt_path}") as info:
        igm.fit(model, TARGET, steps=40, batch_size=8, checkpoint=ckpt_path, checkpoint_every=10, sync_every=50)
    assert model.calls == 20  # trained on to the next sync (the checkpoint step 20), then stopped
    assert info.value.step == 13 and len(info.value.history["fitter"]) == 12
    assert igm.load_checkpoint(ckpt_path)["step"] == 10  # step 20 was never written


def test_adam_factory_uses_a_fused_or_foreach_kernel():
    opt = igm.models.adam(1e-3)(MLP(2, 1).parameters())
    assert opt.defaults["fused"] or opt.defaults["foreach"]


def test_bf16_autocast_runs_linear_layers_in_bfloat16_close_to_float32():
    dtypes = []

    class Probe(GAN):
        def generator_loss(self, batch_size):
            dtypes.append(self.generator(self.prior(4)).dtype)
            return super().generator_loss(batch_size)

    def probe_gan():
        torch.manual_seed(0)
        return Probe(MLP(2, 2, hidden=(16, 16)), MLP(2, 1, hidden=(16, 16)), latent_dim=2, lr=1e-3)

    fp32 = igm.fit(probe_gan(), igm.data.ring(), steps=30, batch_size=64, seed=0)
    bf16 = igm.fit(probe_gan(), igm.data.ring(), steps=30, batch_size=64, seed=0, amp="bf16")
    assert dtypes == [torch.float32] * 30 + [torch.bfloat16] * 30
    for key in fp32:
        assert all(math.isfinite(v) for v in bf16[key])
        torch.testing.assert_close(torch.tensor(bf16[key]), torch.tensor(fp32[key]), atol=2e-2, rtol=0)


@pytest.mark.parametrize("amp", ["fp16", True, "bfloat16"])
def test_unknown_amp_rejected(amp):
    with pytest.raises(ValueError, match=r"unknown amp .*; choose one of: False \(float32\), 'bf16'"):
        igm.fit(Location(), TARGET, steps=1, amp=amp)


def test_compiled_losses_match_eager():
    # aot_eager traces each player's loss with dynamo/AOTAutograd but runs eager kernels (no C compiler)
    eager = igm.fit(small_gan(), igm.data.ring(), steps=10, batch_size=32, seed=1)
    compiled = igm.fit(small_gan(), igm.data.ring(), steps=10, batch_size=32, seed=1, compile={"backend": "aot_eager"})
    for key in eager:
        torch.testing.assert_close(torch.tensor(compiled[key]), torch.tensor(eager[key]), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(os.environ.get("IGM_TEST_INDUCTOR") != "1" or shutil.which("g++") is None,
                    reason="inductor builds C++ kernels (about 50 s on the 2-core CI machine, needs g++): "
                           "set IGM_TEST_INDUCTOR=1 to run")
def test_inductor_compiled_location_converges():
    model = Location(lr=0.1)
    igm.fit(model, TARGET, steps=100, batch_size=64, seed=0, compile=True)
    torch.testing.assert_close(model.mu.detach(), torch.tensor([3.0]), atol=0.2, rtol=0)
