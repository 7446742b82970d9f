"""Penalties: clipping, WGAN-GP (per-sample interpolation, any input shape), R1, Roth et al.'s GAN-DP."""
import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.nets import MLP
from igmlib.penalties import clip_weights, gradient_norms, gradient_penalty, interpolate, r1_penalty, roth_penalty


def linear_critic(w):
    """f(x) = w . x over the flattened sample: the gradient is w everywhere."""
    return lambda x: (x.flatten(1) * w.flatten()).sum(dim=1, keepdim=True)


@pytest.mark.parametrize("shape", [(16, 3), (8, 2, 3, 3)])
def test_gradient_penalty_of_a_linear_critic_is_exact(shape):
    torch.manual_seed(0)
    w = torch.randn(shape[1:], dtype=torch.float64)
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    expected = (w.norm() - 1) ** 2
    torch.testing.assert_close(gradient_penalty(linear_critic(w), real, fake), expected)
    torch.testing.assert_close(gradient_penalty(linear_critic(w), real, fake, target=0.5), (w.norm() - 0.5) ** 2)


@pytest.mark.parametrize("shape", [(64, 2), (32, 1, 4, 4)])
def test_interpolation_is_per_sample_and_on_the_segment(shape):
    torch.manual_seed(0)
    real, fake = torch.randn(shape), torch.randn(shape)
    x_hat = interpolate(real, fake, generator=torch.Generator().manual_seed(1))
    eps = torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(x_hat, eps * real + (1 - eps) * fake)
    # one coefficient per sample: (x_hat - fake) / (real - fake) is constant within each sample
    t = ((x_hat - fake) / (real - fake)).flatten(1)
    torch.testing.assert_close(t, t[:, :1].expand_as(t), atol=1e-4, rtol=1e-4)
    assert t[:, 0].std() > 0.1 and bool(((t >= 0) & (t <= 1)).all())


def test_penalty_sees_different_eps_per_sample():
    # f(x) = ||x||^2 / 2 has gradient x: with real = 1 and fake = 0 the norms at x_hat = eps are eps * sqrt(d)
    critic = lambda x: 0.5 * x.pow(2).sum(dim=1)
    real, fake = torch.ones(256, 4, dtype=torch.float64), torch.zeros(256, 4, dtype=torch.float64)
    norms = gradient_norms(critic, interpolate(real, fake, generator=torch.Generator().manual_seed(0)))
    eps = torch.rand(256, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)[:, 0]
    torch.testing.assert_close(norms, 2 * eps)
    assert len(torch.unique(norms)) == 256
    # E[(2 eps - 1)^2] = 1/3 for eps ~ U[0, 1]; a Monte Carlo check with 20,000 samples
    big = gradient_penalty(critic, torch.ones(20000, 4), torch.zeros(20000, 4), generator=torch.Generator().manual_seed(0))
    assert float(big.detach()) == pytest.approx(1 / 3, abs=0.01)


def test_gradient_penalty_backpropagates_to_the_critic():
    torch.manual_seed(0)
    critic = MLP(2, 1, hidden=(8,)).double()
    real, fake = torch.randn(10, 2, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    gradient_penalty(critic, real, fake).backward()
    # every weight gets a gradient (the output bias cannot: it does not change grad_x f)
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)
    # gradcheck of the penalty in the critic's first-layer weight (fixed eps through a seeded generator)
    w0 = critic[0].weight.detach().clone().requires_grad_(True)

    def penalty(w):
        rest = nn.Sequential(*list(critic)[1:])
        f = lambda x: rest(x @ w.T + critic[0].bias)
        return gradient_penalty(f, real, fake, generator=torch.Generator().manual_seed(3))

    assert torch.autograd.gradcheck(penalty, (w0,))


def test_r1_matches_autograd_by_hand_and_a_quadratic():
    torch.manual_seed(0)
    d = MLP(3, 1, hidden=(16,), activation="tanh").double()
    real = torch.randn(20, 3, dtype=torch.float64)
    x = real.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(d(x).sum(), x)
    torch.testing.assert_close(r1_penalty(d, real), (g**2).sum(dim=1).mean())
    # D(x) = x^T A x / 2 has gradient A x (A symmetric)
    a = torch.randn(3, 3, dtype=torch.float64)
    a = a + a.T
    quad = lambda x: 0.5 * ((x @ a) * x).sum(dim=1)
    torch.testing.assert_close(r1_penalty(quad, real), ((real @ a) ** 2).sum(dim=1).mean())


def test_roth_penalty_matches_hand_computation():
    # logit l(x) = w . x + b: gradient w, so Omega = mean (1 - s(l_real))^2 |w|^2 + mean s(l_fake)^2 |w|^2
    torch.manual_seed(0)
    w, b = torch.randn(2, dtype=torch.float64), 0.3
    logit = lambda x: x @ w + b
    real, fake = torch.randn(50, 2, dtype=torch.float64), torch.randn(50, 2, dtype=torch.float64) + 1
    s = torch.sigmoid
    expected = ((1 - s(logit(real))) ** 2).mean() * w.dot(w) + (s(logit(fake)) ** 2).mean() * w.dot(w)
    torch.testing.assert_close(roth_penalty(logit, real, fake), expected)
    # a nonlinear D against autograd by hand
    d = MLP(2, 1, hidden=(8,), activation="tanh").double()
    xr, xf = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    (gr,) = torch.autograd.grad(d(xr).sum(), xr)
    (gf,) = torch.autograd.grad(d(xf).sum(), xf)
    by_hand = ((1 - s(d(real)[:, 0])) ** 2 * (gr**2).sum(1) + s(d(fake)[:, 0]) ** 2 * (gf**2).sum(1)).mean()
    torch.testing.assert_close(roth_penalty(d, real, fake), by_hand)


def test_clip_weights_bounds_every_parameter():
    torch.manual_seed(0)
    net = MLP(2, 1, hidden=(32, 32))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    clip_weights(net, 0.05)
    c = torch.tensor(0.05)  # float32, as the parameters
    assert all(bool((p.abs() <= c).all()) for p in net.parameters())
    assert all(bool((p.abs() == c).any()) for p in net.parameters())  # the large weights sit at the bound


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: gradient_penalty(linear_critic(torch.ones(2)), torch.zeros(4, 2), torch.zeros(5, 2)), ValueError,
         r"real and fake must have the same shape, got \(4, 2\) and \(5, 2\)"),
        (lambda: gradient_penalty(linear_critic(torch.ones(2)), torch.zeros(4), torch.zeros(4)), ValueError,
         r"real must have shape \(N, \.\.\.\) with a batch dimension, got \(4,\)"),
        (lambda: roth_penalty(linear_critic(torch.ones(2)), torch.zeros(4, 2), torch.zeros(3, 2)), ValueError,
         r"real and fake must have the same shape"),
        (lambda: r1_penalty(lambda x: x, torch.zeros(4, 2)), ValueError, r"critic must map \(N, \.\.\.\) to \(N,\) or \(N, 1\), got \(4, 2\)"),
        (lambda: r1_penalty(linear_critic(torch.ones(2)), torch.zeros(4, 2, dtype=torch.long)), TypeError,
         r"x must have a floating-point dtype"),
        (lambda: clip_weights(nn.Linear(2, 1), 0.0), ValueError, r"c must be > 0"),
        (lambda: clip_weights("net", 0.01), TypeError, r"module must be a torch.nn.Module, got str"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_r1_and_roth_gradcheck_in_the_parameters():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)
    v = torch.randn(1, 4, dtype=torch.float64)

    def net(w):
        return lambda x: torch.tanh(x @ w.T + b) @ v.T  # (N, 1)

    w = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: r1_penalty(net(w), real), (w,))
    assert torch.autograd.gradcheck(lambda w: roth_penalty(net(w), real, fake), (w,))


def test_one_registry_of_penalty_and_loss_names():
    from igmlib import dynamics, losses, penalties

    assert dynamics.PENALTIES is penalties.PENALTIES and set(penalties.GAN_PENALTIES) < set(penalties.PENALTIES)
    assert set(losses.SYMMETRIC_LOSSES) < set(losses.LOSSES) and set(losses.GAN_LOSSES) < set(losses.LOSSES)

    def mlp(n_in, n_out):
        return MLP(n_in, n_out, hidden=(4,))

    for name in penalties.GAN_PENALTIES:
        assert igm.models.GAN(mlp(2, 2), mlp(2, 1), 2, penalty=name).penalty == name
    with pytest.raises(ValueError, match="unknown penalty 'wgan_gp'; choose one of: gan_dp, r1"):
        igm.models.GAN(mlp(2, 2), mlp(2, 1), 2, penalty="wgan_gp")
    for name in penalties.PENALTIES:
        dynamics.dirac_gan_losses(torch.tensor(0.5), torch.tensor(0.5), penalty=name)
    with pytest.raises(ValueError, match="unknown loss 'least_squares'"):
        dynamics.dirac_gan_losses(torch.tensor(0.5), torch.tensor(0.5), loss="least_squares")
