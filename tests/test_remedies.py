"""Remedies for mode collapse: PacGAN's packed discriminator, ProGAN's minibatch standard deviation,
the unrolled GAN. Each test checks a defining property against a hand computation."""
import copy

import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib import losses
from igmlib.models import GAN, UnrolledGAN
from igmlib.nets import MLP, MinibatchStdDev, Packed

from conftest import fit_and_check_every_parameter_changes


# ------------------------------------------------------------------------------------ packing
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_packed_output_is_the_body_on_concatenated_samples(m):
    torch.manual_seed(0)
    body = MLP(2 * m, 1, hidden=(8,))
    x = torch.randn(12, 2)
    out = Packed(body, m)(x)
    assert out.shape == (12 // m, 1)  # one judgement per pack of m samples
    by_hand = torch.stack([body(torch.cat([x[j * m + k] for k in range(m)])) for j in range(12 // m)])
    torch.testing.assert_close(out, by_hand)


def test_packed_images_are_concatenated_along_channels():
    torch.manual_seed(0)
    body = igm.nets.ConvDiscriminator(8, channels=2, width=4)
    x = torch.randn(6, 1, 8, 8)
    out = Packed(body, 2)(x)
    by_hand = body(torch.stack([torch.cat([x[2 * j], x[2 * j + 1]]) for j in range(3)]))  # (3, 2, 8, 8)
    torch.testing.assert_close(out, by_hand)


def test_packing_one_is_the_body_itself():
    body = MLP(2, 1, hidden=(4,))
    x = torch.randn(5, 2)
    torch.testing.assert_close(Packed(body, 1)(x), body(x))


@pytest.mark.parametrize("call,error,match", [
    (lambda: Packed(MLP(4, 1), 2)(torch.randn(7, 2)), ValueError, r"packing=2\) needs a batch divisible by 2, got 7"),
    (lambda: Packed(MLP(4, 1), 2)(torch.randn(8)), ValueError, r"shape \(N, features...\)"),
    (lambda: Packed(MLP(4, 1), 0), ValueError, "packing must be > 0"),
    (lambda: Packed(lambda x: x, 2), TypeError, "body must be a torch.nn.Module"),
])
def test_packed_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_gan_with_a_packed_discriminator_trains():
    torch.manual_seed(0)
    model = GAN(MLP(2, 2, hidden=(8,)), Packed(MLP(6, 1, hidden=(8,)), 3), 2)
    fit_and_check_every_parameter_changes(model, igm.data.grid(), batch_size=30, keys=("D(x)", "D(G(z))"))


# ---------------------------------------------------------------------- minibatch standard deviation
def _statistic_by_hand(x, group_size, eps=1e-8):
    """For each sample: the mean over features (and pixels) of the std over its group, whose members
    are the samples i, i + M, i + 2M, ... (M = N / G groups), population variance + eps."""
    n = x.shape[0]
    g = min(group_size, n)
    groups = n // g
    out = torch.empty(n, dtype=x.dtype)
    for i in range(n):
        members = x[[j for j in range(n) if j % groups == i % groups]]  # (G, ...)
        assert len(members) == g
        var = ((members - members.mean(0)) ** 2).mean(0)
        out[i] = (var + eps).sqrt().mean()
    return out


@pytest.mark.parametrize("shape,group_size", [((8, 3), 4), ((12, 5), 4), ((3, 2), 4), ((8, 2, 4, 4), 2), ((6, 3), 6)])
def test_minibatch_std_appends_the_hand_computed_statistic(shape, group_size):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    layer = MinibatchStdDev(group_size)
    y = layer(x)
    assert y.shape == (shape[0], shape[1] + 1, *shape[2:])
    torch.testing.assert_close(y[:, : shape[1]], x)  # the input is kept
    expected = _statistic_by_hand(x, group_size)
    appended = y[:, shape[1]]
    torch.testing.assert_close(appended.reshape(shape[0], -1), expected[:, None].expand(shape[0], appended[0].numel()))


def test_minibatch_std_of_identical_samples_is_zero_up_to_eps():
    x = torch.randn(1, 7).expand(8, 7).clone().requires_grad_(True)
    y = MinibatchStdDev(4)(x)
    torch.testing.assert_close(y[:, -1], torch.full((8,), 1e-4))  # sqrt(0 + 1e-8)
    assert torch.equal(MinibatchStdDev(4, eps=0.0)(x.detach())[:, -1], torch.zeros(8))
    (grad,) = torch.autograd.grad(y[:, -1].sum(), x)  # eps keeps the gradient finite
    assert bool(torch.isfinite(grad).all())


def test_mlp_with_minibatch_std_sees_the_batch():
    torch.manual_seed(0)
    net = MLP(2, 1, hidden=(8, 8), minibatch_std=4)
    assert isinstance(net[-2], MinibatchStdDev) and net[-1].in_features == 9
    x = torch.randn(4, 2)
    varied, collapsed = net(x), net(torch.cat([x[:1]] * 4))
    assert net(x).shape == (4, 1)
    # the first sample's output depends on its batch-mates: not so for a plain MLP
    assert not torch.allclose(varied[0], collapsed[0])
    plain = MLP(2, 1, hidden=(8, 8))
    torch.testing.assert_close(plain(x)[0], plain(torch.cat([x[:1]] * 4))[0])


def test_minibatch_std_bad_batch():
    with pytest.raises(ValueError, match="6 samples\\) must be divisible by group_size=4"):
        MinibatchStdDev(4)(torch.randn(6, 2))
    with pytest.raises(ValueError, match="group_size must be > 0"):
        MinibatchStdDev(0)


def test_a_gan_with_a_minibatch_std_discriminator_trains():
    torch.manual_seed(0)
    model = GAN(MLP(2, 2, hidden=(8,)), MLP(2, 1, hidden=(8,), minibatch_std=4), 2)
    fit_and_check_every_parameter_changes(model, igm.data.ring(), batch_size=32)


# ------------------------------------------------------------------------------------- unrolling
def _pair(k, *, optimizer="sgd", unroll_lr=0.5, loss="non_saturating", seed=0, **kwargs):
    """A plain GAN and an UnrolledGAN with identical linear networks (float64)."""
    torch.manual_seed(seed)
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    plain = GAN(copy.deepcopy(g), copy.deepcopy(d), 2, loss=loss).double()
    unrolled = UnrolledGAN(g, d, 2, unrolled_steps=k, unroll_optimizer=optimizer, unroll_lr=unroll_lr, loss=loss,
                           **kwargs).double()
    return plain, unrolled


def _loss_and_grad(model, call):
    torch.manual_seed(123)  # the same latents for every call
    out = call()
    loss = out["loss"] if isinstance(out, dict) else out
    return loss.detach(), torch.autograd.grad(loss, list(model.generator.parameters()))


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "least_squares", "hinge"])
def test_zero_unrolled_steps_is_the_plain_gan(loss):
    plain, unrolled = _pair(0, loss=loss)
    real = torch.randn(16, 2, dtype=torch.float64)
    l0, g0 = _loss_and_grad(plain, lambda: plain.generator_loss(16))
    l1, g1 = _loss_and_grad(unrolled, lambda: unrolled.generator_loss(real))
    torch.testing.assert_close(l1, l0)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b)


def _one_sgd_step_by_hand(model, real, z, eta):
    """Generator loss and its gradient for k = 1 SGD step, non-saturating loss, linear D and G,
    derived by hand (no autograd): l(x) = w.x + b, G(z) = A z + c."""
    w, b = model.discriminator.weight.detach()[0], model.discriminator.bias.detach()[0]
    a, c = model.generator.weight.detach(), model.generator.bias.detach()
    x = z @ a.T + c                                                   # (N, 2) fakes
    n, s = len(x), torch.sigmoid
    lr_, lf = real @ w + b, x @ w + b
    # D's loss  mean softplus(-l(real)) + mean softplus(l(fake)); one SGD step on (w, b)
    w1 = w - eta * (-(s(-lr_)[:, None] * real).mean(0) + (s(lf)[:, None] * x).mean(0))
    b1 = b - eta * (-s(-lr_).mean() + s(lf).mean())
    l1 = x @ w1 + b1
    loss = torch.nn.functional.softplus(-l1).mean()                  # G's loss against the stepped D
    dl_dw1 = -(s(-l1)[:, None] * x).mean(0)                          # (2,)
    dl_db1 = -s(-l1).mean()
    ds = s(lf) * (1 - s(lf))                                          # sigma'(l(fake_j))
    # d loss / d x_j: directly through l1, and through w1 and b1 (which depend on every fake)
    dx = -(s(-l1)[:, None] * w1) / n
    dx = dx + (-eta / n) * (ds[:, None] * (x @ dl_dw1)[:, None] * w + s(lf)[:, None] * dl_dw1)
    dx = dx + (-eta / n) * ds[:, None] * w * dl_db1
    return loss, (dx.T @ z, dx.sum(0))                                # (d/dA, d/dc)


def test_one_unrolled_sgd_step_matches_the_hand_derived_gradient():
    _, model = _pair(1, unroll_lr=0.7)
    real = torch.randn(10, 2, dtype=torch.float64) + 1.0
    loss, grads = _loss_and_grad(model, lambda: model.generator_loss(real))
    torch.manual_seed(123)
    z = model.prior(10)
    hand_loss, hand_grads = _one_sgd_step_by_hand(model, real, z, 0.7)
    torch.testing.assert_close(loss, hand_loss)
    for a, b in zip(grads, hand_grads):
        torch.testing.assert_close(a, b)
    _, plain = _pair(0)
    _, g0 = _loss_and_grad(plain, lambda: plain.generator_loss(real))
    assert not torch.allclose(grads[0], g0[0])  # looking ahead changes the gradient


def test_unrolled_gradient_matches_finite_differences():
    torch.manual_seed(0)
    model = UnrolledGAN(MLP(2, 2, hidden=(5,), activation="tanh"), MLP(2, 1, hidden=(5,), activation="tanh"), 2,
                        unrolled_steps=3, unroll_optimizer="adam", unroll_lr=0.05).double()
    real = torch.randn(12, 2, dtype=torch.float64)
    params = list(model.generator.parameters())

    def value():
        torch.manual_seed(123)
        return model.generator_loss(real)["loss"]

    grads = torch.autograd.grad(value(), params)
    h = 1e-6
    for p, g in zip(params, grads):
        for idx in [(0,) * p.dim(), tuple(s - 1 for s in p.shape)]:
            with torch.no_grad():
                p[idx] += h
            up = value().item()  # the unrolling itself needs autograd: evaluate outside no_grad
            with torch.no_grad():
                p[idx] -= 2 * h
            down = value().item()
            with torch.no_grad():
                p[idx] += h
            assert (up - down) / (2 * h) == pytest.approx(g[idx].item(), rel=1e-5, abs=1e-8)


def test_adam_replay_equals_the_discriminators_own_adam_step():
    torch.manual_seed(0)
    model = UnrolledGAN(MLP(2, 2, hidden=(6,)), MLP(2, 1, hidden=(6,)), 2, unrolled_steps=1, lr=3e-3)
    disc = model.players()[0]
    opt = disc.optimizer(disc.parameters())  # the optimizer fit would make: the replay reads its state
    real, fake = torch.randn(16, 2), torch.randn(16, 2)

    def d_step():
        opt.zero_grad()
        losses.discriminator_loss(model.discriminator(real), model.discriminator(fake), model.loss).backward()
        opt.step()

    d_step()  # Adam now has moments and a step count
    replay = model.unrolled_parameters(real, fake)
    d_step()  # the real second step
    for name, p in model.discriminator.named_parameters():
        torch.testing.assert_close(replay[name], p.detach(), rtol=1e-5, atol=1e-6)


def test_unrolling_leaves_the_discriminator_and_its_buffers_unchanged():
    torch.manual_seed(0)
    model = UnrolledGAN(MLP(2, 2, hidden=(6,)), MLP(2, 1, hidden=(6,), batch_norm=True), 2, unrolled_steps=3)
    before = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    model.generator_loss(torch.randn(8, 2))["loss"].backward()
    for k, v in model.discriminator.state_dict().items():
        assert torch.equal(before[k], v), k


def test_unrolled_gan_trains_every_parameter():
    torch.manual_seed(0)
    model = UnrolledGAN(MLP(2, 2, hidden=(8,)), MLP(2, 1, hidden=(8,)), 2, unrolled_steps=2)
    players = model.players()
    assert [p.name for p in players] == ["discriminator", "generator"] and players[1].needs_data
    fit_and_check_every_parameter_changes(model, igm.data.ring(), keys=("D_k(G(z))",))
    assert isinstance(model._discriminator_optimizer, torch.optim.Adam)  # fit's optimizer is replayed


def test_unrolled_gan_moves_samples_onto_the_ring():
    torch.manual_seed(0)
    model = UnrolledGAN(MLP(2, 2, hidden=(32, 32)), MLP(2, 1, hidden=(32, 32)), 2, unrolled_steps=2, lr=2e-3)
    igm.fit(model, igm.data.ring(), steps=200, batch_size=128, seed=0)
    torch.manual_seed(1)
    radius = model.sample(1000).norm(dim=1)
    assert float((radius - 2).abs().mean()) < 0.6  # an untrained generator sits near 0 (distance ~1.8)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"unrolled_steps": -1}, ValueError, "unrolled_steps must be >= 0"),
    ({"unrolled_steps": 1.5}, TypeError, "unrolled_steps"),
    ({"unroll_optimizer": "rmsprop"}, ValueError, "unknown unroll_optimizer 'rmsprop'; choose one of: adam, sgd"),
    ({"unroll_lr": 0.0}, ValueError, "unroll_lr must be > 0"),
    ({"penalty": "r1"}, ValueError, "does not support penalty='r1'"),
    ({"loss": "wasserstein"}, ValueError, "unknown loss 'wasserstein'"),
])
def test_unrolled_gan_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        UnrolledGAN(MLP(2, 2), MLP(2, 1), 2, **kwargs)
