"""The WGAN model: clipping applied after every critic update, the penalty in the loss, defaults, errors."""
import pytest
import torch

import igmlib as igm
from igmlib.models import WGAN
from igmlib.losses import discriminator_loss, generator_loss
from igmlib.nets import MLP


def wgan(seed=0, **kwargs):
    torch.manual_seed(seed)
    return WGAN(MLP(2, 2, hidden=(16,)), MLP(2, 1, hidden=(16, 16)), latent_dim=2, **kwargs)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("constraint", ["clip", "gp"])
@pytest.mark.parametrize("log_grad_norm", [False, True])
def test_a_few_steps_change_parameters_with_finite_logs(constraint, log_grad_norm):
    model = wgan(constraint=constraint, lr=1e-3, log_grad_norm=log_grad_norm)
    g0, c0 = params(model.generator), params(model.critic)
    history = igm.fit(model, igm.data.ring(), steps=4, batch_size=32, seed=0)
    assert set(history) == {"critic", "generator", "W estimate"} | ({"grad norm"} if log_grad_norm else set())
    assert all(len(v) == 4 and all(torch.isfinite(torch.tensor(v))) for v in history.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, params(model.generator)))
    assert any(not torch.equal(a, b) for a, b in zip(c0, params(model.critic)))


def test_clipping_bounds_every_critic_weight_after_every_update():
    model = wgan(constraint="clip", clip=0.02, lr=1e-2, n_critic=3)
    bound = torch.tensor(0.02)
    seen = []

    def check(state):  # after every step, i.e. after the last of its n_critic updates
        seen.append(all(bool((p.abs() <= bound).all()) for p in state.model.critic.parameters()))

    calls = {"n": 0}
    original = model.clip_critic

    def counting_clip():
        calls["n"] += 1
        original()

    model.clip_critic = counting_clip
    igm.fit(model, igm.data.ring(), steps=5, batch_size=32, seed=0, callbacks=[check])
    assert seen == [True] * 5
    assert calls["n"] == 5 * 3  # once per critic update
    assert any(bool((p.abs() == bound).any()) for p in model.critic.parameters())  # the bound is active


def test_gp_critic_loss_includes_the_penalty():
    model = wgan(constraint="gp", gp_weight=10.0)
    real = igm.data.ring().sample((64,))
    torch.manual_seed(1)
    with_gp = model.critic_loss(real)["loss"]
    model.gp_weight = 0.0
    torch.manual_seed(1)
    without = model.critic_loss(real)["loss"]
    assert float(with_gp.detach()) > float(without.detach())  # lambda * E(||g|| - 1)^2 >= 0, and > 0 here


def test_wasserstein_estimate_is_the_difference_of_means():
    model = wgan()
    real, fake = torch.randn(100, 2), torch.randn(80, 2) + 1
    expected = model.critic(real).mean() - model.critic(fake).mean()
    torch.testing.assert_close(model.wasserstein_estimate(real, fake), expected.detach())
    assert model.wasserstein_estimate(real).shape == ()


def test_losses_are_differences_of_means():
    real, fake = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.5], [0.5], [2.0]])
    torch.testing.assert_close(discriminator_loss(real, fake, "wasserstein"), torch.tensor(1.0 - 2.0))
    torch.testing.assert_close(generator_loss(fake, "wasserstein"), torch.tensor(-1.0))


def test_paper_defaults():
    clip, gp = wgan(constraint="clip"), wgan(constraint="gp")
    critic, generator = clip.players()
    assert critic.updates == 5 and critic.after_update is not None and generator.needs_data is False
    opt = critic.optimizer(clip.critic.parameters())
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["lr"] == 5e-5 and clip.clip == 0.01
    critic, _ = gp.players()
    assert critic.after_update is None and gp.gp_weight == 10.0
    opt = critic.optimizer(gp.critic.parameters())
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.0, 0.9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"constraint": "spectral"}, ValueError, r"unknown constraint 'spectral'; choose one of: clip, gp"),
        ({"n_critic": 0}, ValueError, r"n_critic must be > 0"),
        ({"clip": -0.01}, ValueError, r"clip must be > 0"),
        ({"gp_weight": -1.0}, ValueError, r"gp_weight must be >= 0"),
        ({"constraint": "clip", "betas": (0.5, 0.9)}, ValueError, r"betas apply to Adam"),
        ({"critic": "f"}, TypeError, r"critic must be a torch.nn.Module, got str"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"generator": MLP(2, 2), "critic": MLP(2, 1), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=match):
        WGAN(**args)


def test_gp_critic_loss_equals_the_penalty_function():
    from igmlib.penalties import gradient_penalty

    model = wgan(constraint="gp", gp_weight=10.0).double()
    real = igm.data.ring().sample((64,)).double()
    torch.manual_seed(5)
    out = model.critic_loss(real)
    torch.manual_seed(5)
    fake = model.generator(model.prior(64)).detach()
    expected = discriminator_loss(model.critic(real), model.critic(fake), "wasserstein") + 10.0 * gradient_penalty(model.critic, real, fake)
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("constraint", ["clip", "gp"])
def test_two_time_scale_learning_rates(constraint):
    # lr for both players, lr_<player> for one (Heusel et al. 2017)
    model = wgan(constraint=constraint, lr=1e-4, lr_critic=3e-4)
    lrs = {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in model.players()}
    assert lrs == {"critic": 3e-4, "generator": 1e-4}
    default = wgan(constraint=constraint, lr_generator=1e-5)
    assert (default.lr_critic, default.lr_generator) == (default.lr, 1e-5)
    with pytest.raises(ValueError, match="lr_critic must be > 0"):
        wgan(lr_critic=-1.0)
