"""The GAN model: learning on the ring, sample vs forward, joint batches, options."""
import pytest
import torch

import igmlib as igm
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


def test_discriminator_step_reports_d_outputs():
    model = gan()
    out = model.discriminator_loss(igm.data.ring().sample((64,)))
    assert set(out) == {"loss", "D(x)", "D(G(z))"}
    assert 0 < float(out["D(x)"]) < 1 and 0 < float(out["D(G(z))"]) < 1
    assert not out["D(x)"].requires_grad and out["loss"].requires_grad


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "least_squares"])
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
        ({"loss": "wasserstein"}, ValueError, r"unknown loss 'wasserstein'; choose one of: least_squares, minimax, non_saturating"),
        ({"loss": None}, TypeError, r"loss must be a string"),
        ({"lr": 0.0}, ValueError, r"lr must be > 0"),
        ({"latent_dim": 0}, ValueError, r"latent_dim must be > 0"),
        ({"generator": "G"}, TypeError, r"generator must be a torch.nn.Module, got str"),
        ({"discriminator": 3}, TypeError, r"discriminator must be a torch.nn.Module, got int"),
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
