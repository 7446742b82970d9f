"""The GAN model: learning on the ring, sample vs forward, joint batches, options."""
import pytest
import torch

import igmlib as igm
from igmlib.losses import GAN_LOSSES
from igmlib.models import GAN
from igmlib.nets import MLP


def gan(seed=0, hidden=(16, 16), **kwargs):
    torch.manual_seed(seed)
    return GAN(MLP(2, 2, hidden=hidden), MLP(2, 1, hidden=hidden), latent_dim=2, **kwargs)


def ring_distance(model, n=2000):
    """Mean | ||x|| - 2 | of model samples: how far they are from the ring of radius 2."""
    torch.manual_seed(123)
    return float((model.sample(n).norm(dim=1) - 2).abs().mean())


def test_gan_moves_samples_onto_the_ring():
    data = igm.data.ring()
    model = gan(hidden=(64, 64), lr=2e-3)
    before = ring_distance(model)
    igm.fit(model, data, steps=300, batch_size=128, seed=0)
    after = ring_distance(model)
    # an untrained generator puts its samples near 0 (distance ~1.8); 300 steps at least halve it
    assert before > 1.5
    assert after < 0.5 * before
    radius = model.sample(2000).norm(dim=1)
    assert float(((radius - 2).abs() < 0.25).float().mean()) > 0.2


def test_sample_has_no_grad_and_right_shape_device_dtype():
    model = gan()
    x = model.sample(37)
    assert x.shape == (37, 2) and not x.requires_grad
    p = next(model.parameters())
    assert x.device == p.device and x.dtype == p.dtype
    assert model.rsample(5).requires_grad
    z = model.prior(11)
    assert z.shape == (11, 2) and z.dtype == p.dtype


def test_sample_follows_parameter_dtype():
    model = gan().double()
    assert model.sample(4).dtype == torch.float64


def test_forward_is_differentiable():
    model = gan(hidden=(8,)).double()
    z = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    assert model(z).shape == (6, 2)
    assert torch.autograd.gradcheck(model, (z,))
    model(z).sum().backward()
    assert all(p.grad is not None for p in model.generator.parameters())


@pytest.mark.parametrize(
    "z, error, match",
    [
        (torch.randn(4, 3), ValueError, r"z must have shape \(N, 2\), got \(4, 3\)"),
        (torch.randn(4), ValueError, r"z must be 2-D"),
        (torch.zeros(4, 2, dtype=torch.long), TypeError, r"z must have a floating-point dtype"),
    ],
)
def test_forward_rejects_bad_latents(z, error, match):
    with pytest.raises(error, match=match):
        gan()(z)


def test_joint_batch_matches_separate_batches_without_batch_norm():
    torch.manual_seed(0)
    d = MLP(2, 1, hidden=(16, 16))
    g = MLP(2, 2, hidden=(16,))
    real, fake = torch.randn(32, 2), torch.randn(20, 2)
    joint = GAN(g, d, 2, joint_batch=True).discriminator_logits(real, fake)
    separate = GAN(g, d, 2, joint_batch=False).discriminator_logits(real, fake)
    assert joint[0].shape == (32, 1) and joint[1].shape == (20, 1)
    for a, b in zip(joint, separate):
        torch.testing.assert_close(a, b)


def test_joint_batch_mixes_batch_norm_statistics():
    # the pitfall joint_batch exists to show: in train mode BatchNorm normalises over the joint batch
    torch.manual_seed(0)
    d = MLP(2, 1, hidden=(16,), batch_norm=True)
    g = MLP(2, 2, hidden=(16,))
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 3
    joint = GAN(g, d, 2, joint_batch=True).discriminator_logits(real, fake)
    separate = GAN(g, d, 2, joint_batch=False).discriminator_logits(real, fake)
    assert not torch.allclose(joint[0], separate[0], atol=1e-3)


def test_discriminator_loss_reports_d_outputs():
    model = gan()
    out = model.discriminator_loss(igm.data.ring().sample((64,)))
    assert set(out) == {"loss", "D(x)", "D(G(z))"}
    assert 0 < float(out["D(x)"]) < 1 and 0 < float(out["D(G(z))"]) < 1
    assert not out["D(x)"].requires_grad and out["loss"].requires_grad


@pytest.mark.parametrize("loss", GAN_LOSSES)
def test_every_loss_trains(loss):
    model = gan(loss=loss)
    history = igm.fit(model, igm.data.ring(), steps=3, batch_size=32)
    assert all(len(v) == 3 for v in history.values())


def test_players_and_defaults():
    model = gan()
    players = model.players()
    assert [p.name for p in players] == ["discriminator", "generator"]
    assert [p.needs_data for p in players] == [True, False]
    opt = players[0].optimizer(model.discriminator.parameters())
    assert isinstance(opt, torch.optim.Adam)
    assert opt.defaults["lr"] == 2e-4 and opt.defaults["betas"] == (0.5, 0.999)  # DCGAN
    assert model.loss == "non_saturating"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"loss": "wasserstein"}, ValueError, r"unknown loss 'wasserstein'; choose one of: hinge, least_squares, minimax, non_saturating"),
        ({"loss": None}, TypeError, r"loss must be a string"),
        ({"lr": 0.0}, ValueError, r"lr must be > 0"),
        ({"latent_dim": 0}, ValueError, r"latent_dim must be > 0"),
        ({"generator": "G"}, TypeError, r"generator must be a torch.nn.Module, got str"),
        ({"discriminator": 3}, TypeError, r"discriminator must be a torch.nn.Module, got int"),
        ({"lr_discriminator": 0.0}, ValueError, r"lr_discriminator must be > 0"),
        ({"lr_generator": "fast"}, TypeError, r"lr_generator must be a number"),
        ({"ema": 1.0}, ValueError, r"ema must be a decay in \(0, 1\) such as 0.999"),
        ({"ema": True}, TypeError, r"ema must be a decay in \(0, 1\)"),
        ({"decay_start": 1.0}, ValueError, r"decay_start must be a fraction of the run in \[0, 1\) or None"),
    ],
)
def test_gan_bad_input(kwargs, error, match):
    args = {"generator": MLP(2, 2), "discriminator": MLP(2, 1), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=match):
        GAN(**args)


@pytest.mark.parametrize("penalty", ["r1", "gan_dp"])
def test_penalty_options_train_and_add_to_the_discriminator_loss(penalty):
    model = gan(penalty=penalty, penalty_weight=4.0)
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    history = igm.fit(model, igm.data.ring(), steps=3, batch_size=32)
    assert all(len(v) == 3 and all(torch.isfinite(torch.tensor(v))) for v in history.values())
    assert "penalty" in history and min(history["penalty"]) > 0
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
    real = igm.data.ring().sample((64,))
    torch.manual_seed(1)
    out = model.discriminator_loss(real)
    model.penalty_weight = 0.0
    torch.manual_seed(1)
    plain = model.discriminator_loss(real)["loss"]
    torch.testing.assert_close(out["loss"], plain + 2.0 * out["penalty"])  # gamma / 2 = 2


def test_penalty_defaults():
    assert gan().penalty is None and gan().penalty_weight == 0.0
    assert gan(penalty="r1").penalty_weight == 10.0 and gan(penalty="gan_dp").penalty_weight == 2.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"penalty": "wgan_gp"}, ValueError, r"unknown penalty 'wgan_gp'; choose one of: gan_dp, r1"),
        ({"penalty": "r1", "penalty_weight": -1.0}, ValueError, r"penalty_weight must be >= 0"),
    ],
)
def test_gan_bad_penalty(kwargs, error, match):
    with pytest.raises(error, match=match):
        gan(**kwargs)


def test_hinge_loss_is_the_formula_written_out():
    model = gan(loss="hinge")
    real = igm.data.ring().sample((64,))
    torch.manual_seed(3)
    loss = model.discriminator_loss(real)["loss"]
    torch.manual_seed(3)
    fake = model.generator(model.prior(64))
    want = torch.relu(1 - model.discriminator(real)).mean() + torch.relu(1 + model.discriminator(fake)).mean()
    torch.testing.assert_close(loss, want)
    torch.manual_seed(4)
    g_loss = model.generator_loss(32)
    torch.manual_seed(4)
    torch.testing.assert_close(g_loss, -model.discriminator(model.generator(model.prior(32))).mean())


def test_two_time_scale_learning_rates():
    # Heusel et al. 2017: lr for every player, lr_<player> for one
    model = gan(lr=2e-4, lr_discriminator=4e-4)
    d, g = model.players()
    assert d.optimizer(model.discriminator.parameters()).defaults["lr"] == 4e-4
    assert g.optimizer(model.generator.parameters()).defaults["lr"] == 2e-4
    model = gan(lr_discriminator=4e-4, lr_generator=1e-4)
    assert (model.lr_discriminator, model.lr_generator) == (4e-4, 1e-4)
    assert all(p.scheduler is None for p in model.players())  # constant unless decay_start
    # a player without its own rate follows lr, also when lr changes after construction
    model = gan(lr_discriminator=4e-4)
    model.lr = 1e-5
    assert (model.lr_discriminator, model.lr_generator) == (4e-4, 1e-5)
    model.lr_discriminator = None
    assert model.lr_discriminator == 1e-5


def test_decay_start_decays_both_learning_rates_linearly_to_zero():
    steps, start = 10, 0.4  # constant for 4 steps, then linear to 0 at step 10
    seen = []
    model = gan(lr=1e-3, lr_discriminator=2e-3, decay_start=start)
    igm.fit(model, igm.data.ring(), steps=steps, batch_size=16, seed=0,
            callbacks=[lambda s: seen.append({k: o.param_groups[0]["lr"] for k, o in s.optimizers.items()})])
    for t, lrs in enumerate(seen, start=1):  # after step t the schedule has stepped t times
        factor = 1.0 if t < 4 else (steps - t) / (steps - 4)
        assert lrs["discriminator"] == pytest.approx(2e-3 * factor, abs=1e-15)
        assert lrs["generator"] == pytest.approx(1e-3 * factor, abs=1e-15)
    assert seen[-1] == {"discriminator": 0.0, "generator": 0.0}
