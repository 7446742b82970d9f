"""Adversarial losses: analytic values, cross-entropy equivalence, stability, saturation."""
import math

import pytest
import torch
import torch.nn.functional as F

from igmlib.losses import GAN_LOSSES, discriminator_loss, generator_loss


@pytest.mark.parametrize("kind", ["minimax", "non_saturating"])
def test_discriminator_loss_at_zero_logits_is_2_log_2(kind):
    zeros = torch.zeros(16)
    torch.testing.assert_close(discriminator_loss(zeros, zeros, kind), torch.tensor(2 * math.log(2)))


def test_generator_losses_at_zero_logits():
    zeros = torch.zeros(8, 1)
    torch.testing.assert_close(generator_loss(zeros, "non_saturating"), torch.tensor(math.log(2)))
    torch.testing.assert_close(generator_loss(zeros, "minimax"), torch.tensor(-math.log(2)))
    torch.testing.assert_close(generator_loss(zeros, "least_squares"), torch.tensor(0.5))


def test_least_squares_values():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0, -2.0])
    # 0.5 mean((real - 1)^2) + 0.5 mean(fake^2) = 0.5 * 2 + 0.5 * 8 / 3
    torch.testing.assert_close(discriminator_loss(real, fake, "least_squares"), torch.tensor(1.0 + 4.0 / 3.0))
    # 0.5 mean((fake - 1)^2) = 0.5 * (1 + 1 + 9) / 3
    torch.testing.assert_close(generator_loss(fake, "least_squares"), torch.tensor(11.0 / 6.0))
    # the optimum: D outputs 1 on data and 0 on samples
    torch.testing.assert_close(discriminator_loss(torch.ones(4), torch.zeros(4), "least_squares"), torch.tensor(0.0))


def test_equal_to_binary_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    real, fake = 3 * torch.randn(32, 1, generator=gen), 3 * torch.randn(20, 1, generator=gen)
    bce = F.binary_cross_entropy_with_logits
    for kind in ("minimax", "non_saturating"):
        want = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
        torch.testing.assert_close(discriminator_loss(real, fake, kind), want)
    torch.testing.assert_close(generator_loss(fake, "non_saturating"), bce(fake, torch.ones_like(fake)))
    torch.testing.assert_close(generator_loss(fake, "minimax"), -bce(fake, torch.zeros_like(fake)))


def test_shapes_n_and_n1_agree():
    x = torch.randn(10)
    for kind in GAN_LOSSES:
        torch.testing.assert_close(discriminator_loss(x, -x, kind), discriminator_loss(x[:, None], -x[:, None], kind))
        torch.testing.assert_close(generator_loss(x, kind), generator_loss(x[:, None], kind))


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_stable_at_extreme_logits(kind):
    big = torch.tensor([100.0, -100.0, 100.0], requires_grad=True)
    for value in (discriminator_loss(big, -big, kind), discriminator_loss(-big, big, kind), generator_loss(big, kind)):
        assert bool(torch.isfinite(value))
        (grad,) = torch.autograd.grad(value, big)
        assert bool(torch.isfinite(grad).all())
    if kind != "least_squares":
        # a confident, correct D pays ~0; a confident, wrong one ~100 nats per sample (hinge: 1 + 100 each)
        wrong = 202.0 if kind == "hinge" else 200.0
        torch.testing.assert_close(discriminator_loss(torch.full((3,), 100.0), torch.full((3,), -100.0), kind), torch.tensor(0.0))
        torch.testing.assert_close(discriminator_loss(torch.full((3,), -100.0), torch.full((3,), 100.0), kind), torch.tensor(wrong))


def test_minimax_generator_gradient_saturates_non_saturating_does_not():
    # Goodfellow et al. 2014, section 3: early on D rejects samples confidently (logit << 0);
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0, while d/dl -log sigmoid(l) = sigmoid(l) - 1 -> -1.
    logits = torch.full((4,), -15.0, requires_grad=True)
    (g_minimax,) = torch.autograd.grad(generator_loss(logits, "minimax"), logits)
    (g_ns,) = torch.autograd.grad(generator_loss(logits, "non_saturating"), logits)
    s = torch.sigmoid(torch.tensor(-15.0)).item()  # 3.1e-7
    # per-sample gradients (the loss is a mean over 4)
    torch.testing.assert_close(4 * g_minimax, torch.full((4,), -s))
    torch.testing.assert_close(4 * g_ns, torch.full((4,), s - 1))
    assert float((4 * g_minimax).abs().max()) < 1e-6
    torch.testing.assert_close(4 * g_ns, torch.full((4,), -1.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_gradcheck_float64(kind):
    real = torch.randn(5, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, f: discriminator_loss(r, f, kind), (real, fake))
    assert torch.autograd.gradcheck(lambda f: generator_loss(f, kind), (fake,))


def test_dtype_follows_input():
    x = torch.zeros(3, dtype=torch.float64)
    assert discriminator_loss(x, x).dtype == torch.float64
    assert generator_loss(x).dtype == torch.float64


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: discriminator_loss(torch.zeros(3), torch.zeros(3), "relativistic"), ValueError,
         r"unknown kind 'relativistic'; choose one of: hinge, least_squares, minimax, non_saturating, wasserstein"),
        (lambda: generator_loss(torch.zeros(3), "relativistic"), ValueError,
         r"choose one of: hinge, least_squares, minimax, non_saturating"),
        (lambda: generator_loss(torch.zeros(3), None), TypeError, r"kind must be a string"),
        (lambda: discriminator_loss(torch.zeros(3, dtype=torch.long), torch.zeros(3)), TypeError,
         r"real_logits must be floating point, got torch.int64: use real_logits.float\(\)"),
        (lambda: generator_loss(torch.arange(3)), TypeError, r"fake_logits must be floating point"),
        (lambda: generator_loss([0.0, 1.0]), TypeError, r"fake_logits must be a torch.Tensor, got list"),
        (lambda: discriminator_loss(torch.zeros(3, 2), torch.zeros(3)), ValueError,
         r"real_logits must have shape \(N,\) or \(N, 1\), got \(3, 2\)"),
        (lambda: discriminator_loss(torch.zeros(3), torch.zeros(3, 1, 1)), ValueError, r"fake_logits must have shape \(N,\) or \(N, 1\)"),
        (lambda: generator_loss(torch.tensor(0.0)), ValueError, r"fake_logits must have shape \(N,\) or \(N, 1\), got \(\)"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_wasserstein_kind_is_the_kantorovich_rubinstein_objective():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([[0.5], [-0.5]])
    torch.testing.assert_close(discriminator_loss(real, fake, "wasserstein"), torch.tensor(0.0 - 2.0))
    torch.testing.assert_close(generator_loss(fake, "wasserstein"), torch.tensor(0.0))


def test_hinge_values():
    # Lim and Ye 2017; Miyato et al. 2018: D minimises E relu(1 - D(x)) + E relu(1 + D(G(z))), G -E D(G(z))
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([[-3.0], [0.0]])
    # relu(1 - real) = [0, 0.5, 2], mean 5/6; relu(1 + fake) = [0, 1], mean 1/2
    torch.testing.assert_close(discriminator_loss(real, fake, "hinge"), torch.tensor(5.0 / 6.0 + 0.5))
    torch.testing.assert_close(generator_loss(fake, "hinge"), torch.tensor(1.5))
    # the margin: scores beyond +-1 on the right side cost nothing
    torch.testing.assert_close(discriminator_loss(torch.full((4,), 1.5), torch.full((4,), -1.5), "hinge"), torch.tensor(0.0))


def test_hinge_gradients_vanish_beyond_the_margin():
    real = torch.tensor([2.0, 0.5, 1.5, -0.3], requires_grad=True)
    fake = torch.tensor([-2.0, -0.5, 0.7], requires_grad=True)
    g_real, g_fake = torch.autograd.grad(discriminator_loss(real, fake, "hinge"), (real, fake))
    # d/dl relu(1 - l) / N = -1/N inside the margin (l < 1), 0 for real logits > 1
    torch.testing.assert_close(g_real, torch.tensor([0.0, -0.25, 0.0, -0.25]))
    # d/dl relu(1 + l) / M = 1/M for fake logits > -1, 0 below
    torch.testing.assert_close(g_fake, torch.tensor([0.0, 1.0 / 3, 1.0 / 3]))
    # the generator's gradient never vanishes: -1/M for every sample
    (g_gen,) = torch.autograd.grad(generator_loss(fake, "hinge"), fake)
    torch.testing.assert_close(g_gen, torch.full((3,), -1.0 / 3))
