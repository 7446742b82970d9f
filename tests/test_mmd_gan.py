"""MMD GAN: the losses equal the papers' formulas, gradients reach only each player's networks,
training changes every parameter, a ring converges, bad arguments get clear errors."""
import pytest
import torch

import igmlib as igm
from igmlib.divergences import gaussian_kernel, mmd2
from igmlib.models import MMDGAN
from igmlib.divergences import rational_quadratic_kernel, unbiased_mmd2
from igmlib.nets import MLP

from conftest import fit_and_check_every_parameter_changes


def mmd_gan(seed=0, features=4, **kwargs):
    torch.manual_seed(seed)
    return MMDGAN(MLP(2, 2, hidden=(16,)), MLP(2, features, hidden=(16, 16)), latent_dim=2, **kwargs)


def by_hand_mmd2(k, x, y):
    """The unbiased MMD^2 written out as sums over index pairs (Gretton et al. 2012, Lemma 6)."""
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def rq_linear(a, b, alphas=(0.2, 0.5, 1.0, 2.0, 5.0)):
    d2 = ((a - b) ** 2).sum()
    return sum((1 + d2 / (2 * al)) ** (-al) for al in alphas) + (a * b).sum()


def test_rational_quadratic_kernel_is_the_formula():
    x, y = torch.randn(3, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    k = rational_quadratic_kernel(x, y, (0.5, 2.0))
    expected = torch.tensor([[sum((1 + ((a - b) ** 2).sum() / (2 * al)) ** (-al) for al in (0.5, 2.0)) for b in y]
                             for a in x], dtype=torch.float64)
    torch.testing.assert_close(k, expected)


def test_unbiased_mmd2_matches_the_gaussian_mmd2_of_chapter_3():
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64) + 0.5
    k = lambda a, b: gaussian_kernel(a, b, (0.5, 1.0))  # noqa: E731
    torch.testing.assert_close(unbiased_mmd2(k(x, x), k(y, y), k(x, y)), mmd2(x, y, bandwidth=(0.5, 1.0)))


@pytest.mark.parametrize("kernel", ["rq_linear", "gaussian"])
def test_critic_loss_is_minus_mmd2_plus_the_witness_penalty_by_hand(kernel):
    model = mmd_gan(kernel=kernel, gp_weight=1.0).double()
    real = igm.data.ring().sample((6,)).double()
    torch.manual_seed(3)
    out = model.critic_loss(real)
    # redo it by hand with the same random draws: z, then the interpolation coefficients
    torch.manual_seed(3)
    fake = model.generator(torch.randn(6, 2, dtype=torch.float64)).detach()
    eps = torch.rand(6, 1, dtype=torch.float64)
    h = model.critic
    if kernel == "rq_linear":
        k = rq_linear
    else:
        k = lambda a, b: sum(torch.exp(-((a - b) ** 2).sum() / (2 * s * s)) for s in (1, 2, 4, 8, 16))  # noqa: E731
    hr, hf = h(real), h(fake)
    value = by_hand_mmd2(k, hr, hf)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    hx = h(x_hat)
    witness = torch.stack([sum(k(hx[i], hr[j]) for j in range(6)) / 6 - sum(k(hx[i], hf[j]) for j in range(6)) / 6
                           for i in range(6)])
    (grad,) = torch.autograd.grad(witness.sum(), x_hat)
    penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(out["mmd2"], value.detach())
    torch.testing.assert_close(out["penalty"], penalty)
    features = 1.0 * torch.cat([hr, hf]).pow(2).mean()  # feature_weight = 1 (the authors' L2 penalty)
    torch.testing.assert_close(out["loss"].detach(), (-value + penalty + features).detach())


def test_generator_loss_is_the_mmd2_of_the_features_by_hand():
    model = mmd_gan().double()
    real = igm.data.ring().sample((5,)).double()
    torch.manual_seed(4)
    loss = model.generator_loss(real)
    torch.manual_seed(4)
    fake = model.generator(torch.randn(5, 2, dtype=torch.float64))
    torch.testing.assert_close(loss, by_hand_mmd2(rq_linear, model.critic(fake), model.critic(real)))


def test_feature_weight_adds_the_mean_squared_feature():
    model = mmd_gan(constraint="clip", feature_weight=0.5)
    real = igm.data.ring().sample((8,))
    torch.manual_seed(1)
    out = model.critic_loss(real)
    torch.manual_seed(1)
    fake = model.generator(model.prior(8))
    h = model.critic(torch.cat([real, fake]))
    torch.testing.assert_close(out["loss"], -out["mmd2"] + 0.5 * h.pow(2).mean())
    assert set(out) == {"loss", "mmd2"}


def _grads(module):
    return [p.grad for p in module.parameters()]


def test_each_players_gradient_reaches_only_its_networks():
    model = mmd_gan()
    real = igm.data.ring().sample((16,))
    critic, generator = model.players()
    assert list(critic.modules) == [model.critic] and list(generator.modules) == [model.generator]
    model.critic_loss(real)["loss"].backward()
    assert all(g is None for g in _grads(model.generator))  # the samples are detached
    assert all(g is not None and bool(g.abs().sum() > 0) for g in _grads(model.critic))
    model.zero_grad(set_to_none=True)
    for p in model.critic.parameters():  # as fit gates them during the generator's update
        p.requires_grad_(False)
    model.generator_loss(real).backward()
    assert all(g is None for g in _grads(model.critic))
    assert all(g is not None and bool(g.abs().sum() > 0) for g in _grads(model.generator))


@pytest.mark.parametrize("kwargs, keys", [({}, {"critic", "generator", "mmd2", "penalty"}),
                                          ({"kernel": "gaussian", "constraint": "clip", "lr": 1e-3},
                                           {"critic", "generator", "mmd2"})])
def test_a_few_steps_change_every_parameter_with_finite_logs(kwargs, keys):
    model = mmd_gan(lr=1e-3, **kwargs) if "lr" not in kwargs else mmd_gan(**kwargs)
    history = fit_and_check_every_parameter_changes(model, igm.data.ring(), keys=keys)
    assert set(history) == keys


def test_clipping_bounds_every_critic_weight():
    model = mmd_gan(constraint="clip", clip=0.02, lr=1e-2, n_critic=2)
    igm.fit(model, igm.data.ring(), steps=3, batch_size=32, seed=0)
    assert all(bool((p.abs() <= 0.02).all()) for p in model.critic.parameters())


def test_paper_defaults():
    model = mmd_gan()
    critic, generator = model.players()
    assert (model.kernel, model.scales, model.constraint) == ("rq_linear", (0.2, 0.5, 1.0, 2.0, 5.0), "gp")
    assert critic.updates == model.n_critic == 5 and model.gp_weight == 1.0 and critic.after_update is None
    assert model.feature_weight == 1.0
    opt = critic.optimizer(model.critic.parameters())
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.5, 0.9)
    assert generator.needs_data  # the generator's MMD^2 compares its samples with a data minibatch
    li = mmd_gan(kernel="gaussian", constraint="clip")
    critic, _ = li.players()
    assert li.scales == (1.0, 2.0, 4.0, 8.0, 16.0) and li.clip == 0.01 and critic.after_update is not None
    opt = critic.optimizer(li.critic.parameters())
    assert isinstance(opt, torch.optim.RMSprop) and opt.defaults["lr"] == 5e-5
    assert mmd_gan(lr=1e-3, lr_critic=2e-3).players()[0].optimizer(model.critic.parameters()).defaults["lr"] == 2e-3


def test_a_ring_converges():
    ring = igm.data.ring()
    torch.manual_seed(0)
    model = MMDGAN(MLP(2, 2, hidden=(32, 32)), MLP(2, 8, hidden=(32, 32)), 2, lr=3e-3)
    torch.manual_seed(1)
    before = model.sample(1000).norm(dim=1)
    igm.fit(model, ring, steps=150, batch_size=64, seed=0)  # a few seconds on one core
    torch.manual_seed(1)
    after = model.sample(1000).norm(dim=1)
    error_before, error_after = (before - 2).abs().median(), (after - 2).abs().median()
    assert error_after < 0.3 and error_after < error_before / 3, (float(error_before), float(error_after))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kernel": "laplace"}, ValueError, r"unknown kernel 'laplace'; choose one of: gaussian, rq, rq_linear"),
        ({"constraint": "spectral"}, ValueError, r"unknown constraint 'spectral'; choose one of: clip, gp"),
        ({"scales": ()}, ValueError, r"scales is empty"),
        ({"scales": (1.0, -2.0)}, ValueError, r"scales must be > 0, got -2.0"),
        ({"scales": "median"}, TypeError, r"scales must be a number or a sequence of numbers"),
        ({"n_critic": 0}, ValueError, r"n_critic must be > 0"),
        ({"gp_weight": -1.0}, ValueError, r"gp_weight must be >= 0"),
        ({"clip": 0.0}, ValueError, r"clip must be > 0"),
        ({"feature_weight": -0.1}, ValueError, r"feature_weight must be >= 0"),
        ({"lr": 0.0}, ValueError, r"lr must be > 0"),
        ({"lr_critic": "fast"}, TypeError, r"lr_critic must be a number"),
        ({"constraint": "clip", "betas": (0.5, 0.9)}, ValueError, r"betas apply to Adam"),
        ({"betas": (0.5,)}, ValueError, r"betas must be a pair"),
        ({"critic": "h"}, TypeError, r"critic must be a torch.nn.Module, got str"),
        ({"latent_dim": 0}, ValueError, r"latent_dim must be > 0"),
        ({"ema": 1.0}, ValueError, r"ema must be a decay in \(0, 1\)"),
        ({"decay_start": 1.0}, ValueError, r"decay_start must be a fraction of the run in \[0, 1\)"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = {"generator": MLP(2, 2), "critic": MLP(2, 4), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=match):
        MMDGAN(**args)


def test_bad_critic_output_and_batch_size():
    model = MMDGAN(MLP(2, 2), _Scalar(), 2)
    # the critic sees the data and the generated batch together: N = 8 + 8
    with pytest.raises(ValueError, match=r"the critic must map \(N, \.\.\.\) to features \(N, k\), got \(\) for N = 16"):
        model.critic_loss(torch.randn(8, 2))
    with pytest.raises(ValueError, match=r"unbiased MMD\^2 needs at least 2 samples"):
        mmd_gan().critic_loss(torch.randn(1, 2))


class _Scalar(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.w * x.sum()


def test_two_time_scale_learning_rates():
    model = mmd_gan(lr=1e-4, lr_generator=5e-5)
    lrs = {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in model.players()}
    assert lrs == {"critic": 1e-4, "generator": 5e-5}
    with pytest.raises(ValueError, match="lr_generator must be > 0"):
        mmd_gan(lr_generator=0.0)
