"""f-GAN (igmlib.models.FGAN): players, the single-step gradient reversal, convergence on 1-D Gaussians."""
import pytest
import torch

import igmlib as igm
from igmlib.models import FGAN


def gaussian_generator(mu=0.0, sigma=1.0):
    """The linear generator x = mu + sigma z (an MLP without hidden layers)."""
    gen = igm.nets.MLP(1, 1, hidden=())
    with torch.no_grad():
        gen[0].weight.fill_(sigma)
        gen[0].bias.fill_(mu)
    return gen


def make(divergence="js", **kwargs):
    torch.manual_seed(0)
    return FGAN(gaussian_generator(), igm.nets.MLP(1, 1, hidden=(16,), activation="tanh"), 1,
                divergence=divergence, **kwargs)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(module, before):
    return all(not torch.equal(p, b) for p, b in zip(module.parameters(), before))


@pytest.mark.parametrize("divergence", sorted(igm.divergences.F_DIVERGENCES))
@pytest.mark.parametrize("single_step", [False, True])
def test_a_few_steps_update_both_players(divergence, single_step):
    model = make(divergence, lr=1e-3, single_step=single_step)
    gen, critic = snapshot(model.generator), snapshot(model.critic)
    data = torch.distributions.Normal(torch.tensor([1.0]), torch.tensor([0.5]))
    data = torch.distributions.Independent(data, 1)
    history = igm.fit(model, data, steps=3, batch_size=32, seed=0)
    keys = {"joint", "bound"} if single_step else {"critic", "generator", "bound"}
    assert set(history) == keys
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())
    assert changed(model.generator, gen) and changed(model.critic, critic)


def test_single_step_gradients_are_descent_for_g_and_ascent_for_the_critic():
    """Algorithm 1: one loss whose gradient is +dF/dtheta for G and -dF/domega for the critic."""
    model = make("kl", single_step=True).double()
    real = torch.randn(64, 1, dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        loss = model.joint_loss(real)["loss"]
    grads = torch.autograd.grad(loss, [*model.generator.parameters(), *model.critic.parameters()])
    with torch.random.fork_rng():
        torch.manual_seed(1)
        value = model.objective(real, model.generator(model.prior(64)))
    reference = torch.autograd.grad(value, [*model.generator.parameters(), *model.critic.parameters()])
    torch.testing.assert_close(loss, value)
    n_gen = len(list(model.generator.parameters()))
    for i, (g, r) in enumerate(zip(grads, reference)):
        torch.testing.assert_close(g, r if i < n_gen else -r)


def test_alternating_losses_are_minus_f_and_the_generator_term():
    model = make("gan").double()
    real = torch.randn(50, 1, dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(2)
        out = model.critic_loss(real)
    with torch.random.fork_rng():
        torch.manual_seed(2)
        fake = model.generator(model.prior(50))
    torch.testing.assert_close(out["loss"], -model.objective(real, fake))
    with torch.random.fork_rng():
        torch.manual_seed(3)
        g_loss = model.generator_loss(50)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        v = model.critic_output(model.generator(model.prior(50)))
    torch.testing.assert_close(g_loss, -torch.nn.functional.softplus(v).mean())  # -E f*(g_f(V)) for GAN


def test_fitting_the_mean_of_a_gaussian():
    data = igm.data.gaussian_mixture([1.5], 1.0)  # N(1.5, 1); the generator starts at N(0, 1)
    model = make("js", lr=1e-2)
    igm.fit(model, data, steps=300, batch_size=256, seed=0)
    assert float(model.generator[0].bias.detach()) == pytest.approx(1.5, abs=0.15)
    assert abs(float(model.generator[0].weight.detach())) == pytest.approx(1.0, abs=0.15)


def test_a_trained_critic_estimates_the_kl_divergence():
    """With the generator frozen at N(1, 1) and data N(0, 1), the bound approaches KL = 0.5 nats."""
    data = igm.data.gaussian_mixture([0.0], 1.0)
    torch.manual_seed(0)
    model = FGAN(gaussian_generator(mu=1.0), igm.nets.MLP(1, 1, hidden=(32,), activation="tanh"), 1,
                 divergence="kl", lr=1e-2)
    frozen = {"generator": lambda params: torch.optim.SGD(params, lr=0.0)}
    igm.fit(model, data, steps=300, batch_size=512, seed=0, optimizers=frozen)
    torch.manual_seed(1)
    estimate = float(model.bound(data.sample((20000,))))
    assert estimate == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"divergence": "kll"}, ValueError, "unknown divergence 'kll'; choose one of: gan, hellinger"),
        ({"generator_objective": "minimax"}, ValueError, "unknown generator_objective 'minimax'; choose one of: bound"),
        ({"single_step": True, "generator_objective": "non_saturating"}, ValueError, "use generator_objective='bound'"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make(**kwargs)


def test_critic_must_be_a_module():
    with pytest.raises(TypeError, match="critic must be a torch.nn.Module"):
        FGAN(gaussian_generator(), lambda x: x, 1)


def test_non_saturating_generator_loss():
    model = make("kl", generator_objective="non_saturating")
    with torch.random.fork_rng():
        torch.manual_seed(4)
        loss = model.generator_loss(40)
    with torch.random.fork_rng():
        torch.manual_seed(4)
        v = model.critic_output(model.generator(model.prior(40)))
    torch.testing.assert_close(loss, -v.mean())  # g_f(v) = v for KL


def test_divergence_plot_and_picker():
    import matplotlib.pyplot as plt

    data = igm.data.gaussian_mixture([-2.0, 1.5], [0.5, 0.8])
    fits = {"kl": {"exact": (0.0, 1.8), "learned": (0.1, 1.7)}}
    axes = igm.book.widgets.plot_f_divergence("kl", density=data, fits=fits)
    assert len(axes) == 3 and len(axes[2].lines) == 2  # exact and learned Gaussians
    assert len(igm.book.widgets.plot_f_divergence("gan")) == 2  # no fits: f and f* only
    plt.close("all")
    pytest.importorskip("ipywidgets")
    picker = igm.book.widgets.divergence_picker(density=data, fits=fits, names=["kl", "js"])
    assert picker.children[0].options == ("kl", "js")
    with pytest.raises(ValueError, match="unknown divergence 'kll'"):
        igm.book.widgets.divergence_picker(names=["kll"])


def test_two_time_scale_learning_rates():
    model = make(lr=1e-4, lr_critic=4e-4)
    lrs = {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in model.players()}
    assert lrs == {"critic": 4e-4, "generator": 1e-4}
    with pytest.raises(ValueError, match="single_step=True trains both networks with one optimizer"):
        make(single_step=True, lr_generator=1e-3)
    with pytest.raises(ValueError, match="lr_generator must be > 0"):
        make(lr_generator=0.0)
