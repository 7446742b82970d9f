"""Tests of igmlib.models.VAE and gaussian_kl (Kingma and Welling 2014)."""
import math

import pytest
import torch
from torch import distributions as D
from torch import nn

import igmlib as igm
from conftest import fit_and_check_every_parameter_changes
from igmlib.divergences import gaussian_kl
from igmlib.models import VAE
from igmlib.models.vae import ObservationModel


# ---- the analytic Gaussian KL ---------------------------------------------------------------------
def test_gaussian_kl_equals_torch_kl_divergence():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(50, 3, generator=g, dtype=torch.float64)
    log_var = torch.randn(50, 3, generator=g, dtype=torch.float64)
    q = D.Independent(D.Normal(mean, (0.5 * log_var).exp()), 1)
    p = D.Independent(D.Normal(torch.zeros_like(mean), torch.ones_like(mean)), 1)
    torch.testing.assert_close(gaussian_kl(mean, log_var), D.kl_divergence(q, p))
    # zero exactly at the prior
    torch.testing.assert_close(gaussian_kl(torch.zeros(4, 2), torch.zeros(4, 2)), torch.zeros(4))


def test_gaussian_kl_matches_monte_carlo():
    torch.manual_seed(1)
    mean = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    log_var = torch.tensor([[math.log(0.3), math.log(2.0)]], dtype=torch.float64)
    q = D.Independent(D.Normal(mean, (0.5 * log_var).exp()), 1)
    p = D.Independent(D.Normal(torch.zeros_like(mean), torch.ones_like(mean)), 1)
    z = q.sample((200_000,))
    ratio = q.log_prob(z) - p.log_prob(z)  # (S, 1)
    mc, se = float(ratio.mean()), float(ratio.std()) / math.sqrt(len(ratio))
    assert abs(mc - float(gaussian_kl(mean, log_var))) < 4 * se


def test_gaussian_kl_gradcheck():
    g = torch.Generator().manual_seed(2)
    mean = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    log_var = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gaussian_kl, (mean, log_var))


@pytest.mark.parametrize(
    "mean, log_var, error, match",
    [
        (torch.zeros(3, 2), torch.zeros(3, 3), ValueError, "same shape"),
        (torch.zeros(3), torch.zeros(3), ValueError, "2-D"),
        ([0.0, 1.0], torch.zeros(1, 2), TypeError, "torch.Tensor"),
    ],
)
def test_gaussian_kl_bad_input(mean, log_var, error, match):
    with pytest.raises(error, match=match):
        gaussian_kl(mean, log_var)


# ---- the likelihood heads ---------------------------------------------------------------------------
def test_bernoulli_head_on_binary_data_is_the_bernoulli_log_probability():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(20, 5, generator=g)
    bits = torch.bernoulli(torch.full((20, 5), 0.5), generator=g)
    head = ObservationModel("bernoulli")
    expected = D.Independent(D.Bernoulli(logits=logits), 1).log_prob(bits)
    torch.testing.assert_close(head.log_prob(logits, 2 * bits - 1), expected)  # data convention: {-1, 1}
    torch.testing.assert_close(head.mean(logits), 2 * torch.sigmoid(logits) - 1)


def test_gaussian_head_matches_normal_log_prob():
    head = ObservationModel("gaussian", scale=0.3)
    out, x = torch.randn(6, 4), torch.randn(6, 4)
    torch.testing.assert_close(head.log_prob(out, x), D.Normal(out, 0.3).log_prob(x).sum(-1))


# ---- ELBO <= importance-sampled log-likelihood <= log p(x) on a linear-Gaussian model -----------------------
def linear_gaussian_vae(sigma=0.5, encoder_shift=0.0, encoder_log_var_shift=0.0):
    """VAE with decoder x = W z + b + sigma eps (W with orthogonal columns, so the exact posterior is
    diagonal) and a linear encoder equal to the exact posterior, optionally shifted.
    Returns the model (float64) and the exact marginal p(x) = N(b, W W^T + sigma^2 I)."""
    torch.manual_seed(0)
    k, d = 2, 3
    q, _ = torch.linalg.qr(torch.randn(d, k, dtype=torch.float64))
    w = q * torch.tensor([1.5, 0.7], dtype=torch.float64)  # W^T W = diag(2.25, 0.49)
    b = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64)
    precision = 1 + (w**2).sum(0) / sigma**2  # posterior precision, diagonal: (k,)
    decoder = nn.Linear(k, d).double()
    encoder = nn.Linear(d, 2 * k).double()
    with torch.no_grad():
        decoder.weight.copy_(w)
        decoder.bias.copy_(b)
        # posterior mean = M^{-1} W^T (x - b) / sigma^2, log-variance = -log M (constant)
        a = (w.T / sigma**2) / precision[:, None]
        encoder.weight.zero_()
        encoder.weight[:k] = a
        encoder.bias[:k] = -a @ b + encoder_shift
        encoder.bias[k:] = -precision.log() + encoder_log_var_shift
    model = VAE(encoder, decoder, k, likelihood="gaussian", scale=sigma).double()
    exact = D.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(d, dtype=torch.float64))
    return model, exact


@torch.no_grad()
def test_elbo_is_exact_with_the_exact_posterior():
    model, exact = linear_gaussian_vae()
    x = exact.sample((50,))
    truth = exact.log_prob(x)
    # log p(x, z) - log q(z | x) = log p(x) for every z: the importance-sampled estimate is exact at any K
    torch.testing.assert_close(model.log_likelihood(x, samples=1), truth, rtol=0, atol=1e-9)
    torch.testing.assert_close(model.log_likelihood(x, samples=3), truth, rtol=0, atol=1e-9)
    # the ELBO (Monte Carlo reconstruction term, analytic KL) equals log p(x) in expectation
    torch.manual_seed(4)
    torch.testing.assert_close(model.elbo(x, samples=50_000), truth, rtol=0, atol=0.02)


def old_vae_log_likelihood(model, x, k, max_elements=2**22):
    """VAE.log_likelihood as it was before the importance-sampling loop was shared with AVB."""
    flat = x.reshape(len(x), -1)
    mean, log_var = model.encode(x)
    std = (0.5 * log_var).exp()
    n, d = flat.shape
    block = max(1, min(k, max_elements // max(1, n * d)))
    parts = []
    for start in range(0, k, block):
        b = min(block, k - start)
        eps = torch.randn((b, *mean.shape), device=mean.device, dtype=mean.dtype)
        z = mean + std * eps
        log_q = (-0.5 * eps**2 - 0.5 * log_var - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        parts.append(torch.logsumexp(model.log_px_given_z(flat, z) + log_prior - log_q, dim=0))
    return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)


@torch.no_grad()
@pytest.mark.parametrize("max_elements", [2**22, 40])  # one block; blocks of 3 samples
def test_shared_importance_sampler_equals_the_previous_vae_loop(max_elements):
    model, exact = linear_gaussian_vae(encoder_shift=0.6, encoder_log_var_shift=0.8)  # a poor q: weights vary
    x = exact.sample((4,))
    torch.manual_seed(7)
    old = old_vae_log_likelihood(model, x, 10, max_elements)
    torch.manual_seed(7)
    new = model.log_likelihood(x, samples=10, max_elements=max_elements)
    torch.testing.assert_close(new, old, rtol=0, atol=1e-12)


@torch.no_grad()
def test_elbo_below_importance_sampled_likelihood_which_tightens_with_k():
    model, exact = linear_gaussian_vae(encoder_shift=0.6, encoder_log_var_shift=0.8)  # a poor q
    x = exact.sample((200,))
    truth = float(exact.log_prob(x).mean())
    torch.manual_seed(5)
    elbo = float(model.elbo(x, samples=4000).mean())
    ks = (1, 4, 32, 1024)
    est = {k: float(torch.stack([model.log_likelihood(x, samples=k).mean() for _ in range(20)]).mean()) for k in ks}
    # K = 1 is the ELBO in expectation (within 4 standard errors of 40,000 single-sample estimates)
    single = torch.stack([model.log_likelihood(x, samples=1) for _ in range(200)]).flatten()
    assert abs(float(single.mean()) - elbo) < 4 * float(single.std()) / math.sqrt(len(single)) + 0.005
    # ELBO < IS(4) < IS(32) < IS(1024) <= log p(x): a gap of 0.4+ nats closes to within 0.05
    assert truth - elbo > 0.4
    assert elbo < est[4] < est[32] < est[1024], est
    assert abs(truth - est[1024]) < 0.05, (truth, est)


@torch.no_grad()
def test_elbo_matches_closed_form_for_linear_gaussian():
    sigma = 0.5
    model, exact = linear_gaussian_vae(sigma=sigma, encoder_shift=0.3, encoder_log_var_shift=-0.5)
    x = exact.sample((10,))
    mean, log_var = model.encode(x)
    w, b = model.decoder.weight, model.decoder.bias
    resid = ((x - mean @ w.T - b) ** 2).sum(-1)
    trace = (log_var.exp() * (w**2).sum(0)).sum(-1)  # tr(W diag(var) W^T)
    rec = -1.5 * math.log(2 * math.pi * sigma**2) - (resid + trace) / (2 * sigma**2)
    closed = rec - gaussian_kl(mean, log_var)
    torch.manual_seed(6)
    torch.testing.assert_close(model.elbo(x, samples=100_000), closed, rtol=0, atol=0.02)


# ---- shapes, training, errors -------------------------------------------------------------------------
def digits_vae(likelihood="bernoulli", latent_dim=2):
    encoder = nn.Sequential(nn.Flatten(), igm.nets.MLP(64, 2 * latent_dim, (32,)))
    decoder = igm.nets.MLP(latent_dim, 64, (32,))
    return VAE(encoder, decoder, latent_dim, likelihood=likelihood, event_shape=(1, 8, 8))


def test_shapes():
    torch.manual_seed(0)
    model = digits_vae()
    x = igm.data.digits("test").x[:7]
    mean, log_var = model.encode(x)
    assert mean.shape == log_var.shape == (7, 2)
    assert model.elbo(x).shape == (7,)
    assert model.log_likelihood(x, samples=5).shape == (7,)
    assert model.reconstruct(x).shape == x.shape
    s = model.sample(5)  # draws x ~ p(x): binary pixels in {-1, 1}
    assert s.shape == (5, 1, 8, 8) and not s.requires_grad and set(s.unique().tolist()) <= {-1.0, 1.0}
    means = model.sample_mean(5)  # E[x | z]: grey levels in [-1, 1]
    assert means.shape == (5, 1, 8, 8) and not means.requires_grad and float(means.abs().max()) <= 1
    assert not hasattr(model, "sample_noisy")
    assert model.decode(torch.zeros(3, 2)).shape == (3, 1, 8, 8)
    assert model.posterior_sample(x, 4).shape == (4, 7, 2)


def test_vocabulary_decoder_likelihood_observation():
    model = digits_vae("gaussian")
    assert not hasattr(model, "generator") and isinstance(model.decoder, nn.Module)
    assert model.likelihood == "gaussian" and isinstance(model.observation, ObservationModel)
    keys = set(model.state_dict())
    assert "observation.log_scale" in keys and any(k.startswith("decoder.") for k in keys)
    assert not any(k.startswith(("generator.", "likelihood.")) for k in keys)


def test_sample_adds_the_observation_noise_to_sample_mean():
    # x = W z + b + s eps: sample draws x ~ p(x), sample_mean the means W z + b; on the same prior draws
    # (same seed) they differ by the noise s eps alone, so Var[sample] = Var[sample_mean] + s^2
    model, _ = linear_gaussian_vae(sigma=0.5)
    torch.manual_seed(8)
    draws = model.sample(200_000)
    torch.manual_seed(8)
    means = model.sample_mean(200_000)
    noise = draws - means
    torch.testing.assert_close(noise.var(0), torch.full((3,), 0.25, dtype=torch.float64), rtol=0, atol=0.005)
    assert float(noise.mean(0).abs().max()) < 0.005
    torch.testing.assert_close(draws.var(0) - means.var(0), torch.full((3,), 0.25, dtype=torch.float64),
                               rtol=0, atol=0.03)
    # rsample: the same draws with gradients (Gaussian only); decode = forward = E[x | z]
    r = model.rsample(4)
    assert r.shape == (4, 3) and r.requires_grad
    z = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(model(z), model.decoder(z))
    with pytest.raises(NotImplementedError, match="use sample"):
        digits_vae("bernoulli").rsample(2)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_few_training_steps_change_parameters(likelihood):
    torch.manual_seed(0)
    model = digits_vae(likelihood)
    fit_and_check_every_parameter_changes(model, igm.data.digits("train").x, keys={"model", "elbo", "kl", "reconstruction"})


def test_training_raises_the_elbo_on_digits():
    torch.manual_seed(0)
    model = digits_vae()
    x = igm.data.digits("train").x
    with torch.no_grad():
        start = float(model.elbo(x, samples=4).mean())
    igm.fit(model, x, steps=150, batch_size=64, seed=0, progress=False)
    with torch.no_grad():
        end = float(model.elbo(x, samples=4).mean())
    assert end > start + 5, (start, end)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"likelihood": "poisson"}, ValueError, "bernoulli, gaussian"),
        ({"likelihood": "bernoulli", "scale": 0.1}, ValueError, "only used by the gaussian"),
        ({"likelihood": "gaussian", "scale": -1.0}, ValueError, "scale must be > 0"),
        ({"lr": 0.0}, ValueError, "lr must be > 0"),
        ({"encoder": "not a module"}, TypeError, "encoder must be a torch.nn.Module"),
        ({"latent_dim": 0}, ValueError, "latent_dim must be > 0"),
    ],
)
def test_bad_construction(kwargs, error, match):
    args = {"encoder": nn.Linear(4, 4), "decoder": nn.Linear(2, 4), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=match):
        VAE(args.pop("encoder"), args.pop("decoder"), args.pop("latent_dim"), **args)


@pytest.mark.parametrize(
    "x, error, match",
    [
        (torch.full((3, 4), 2.0), ValueError, r"data in \[-1, 1\]"),
        (torch.zeros(4), ValueError, "batch"),
        (torch.zeros(3, 4, dtype=torch.long), TypeError, "floating-point"),
    ],
)
def test_bad_data(x, error, match):
    model = VAE(nn.Linear(4, 4), nn.Linear(2, 4), 2)
    with pytest.raises(error, match=match):
        model.elbo(x)


def test_wrong_network_sizes_are_explained():
    model = VAE(nn.Linear(4, 3), nn.Linear(2, 4), 2)
    with pytest.raises(ValueError, match="2 \\* latent_dim"):
        model.elbo(torch.zeros(3, 4))
    model = VAE(nn.Linear(4, 4), nn.Linear(2, 5), 2)
    with pytest.raises(ValueError, match="decoder outputs 5 numbers"):
        model.elbo(torch.zeros(3, 4))
    model = digits_vae()
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        model.elbo(torch.zeros(3, 64))


# ---- beta-VAE (Higgins et al. 2017)
def test_beta_one_is_the_elbo_and_beta_weights_only_the_kl():
    x = igm.data.digits("test").x[:16]
    torch.manual_seed(0)
    model = digits_vae()
    assert model.beta == 1.0
    torch.manual_seed(1)
    out = model.model_loss(x)
    torch.manual_seed(1)
    rec, kl = model.elbo_terms(x)  # the same draw: the loss before beta existed, written out
    torch.testing.assert_close(out["loss"], -(rec - kl).mean(), rtol=0, atol=0)
    assert set(out) == {"loss", "elbo", "kl", "reconstruction"}
    model.beta = 4.0
    torch.manual_seed(1)
    weighted = model.model_loss(x)
    torch.testing.assert_close(weighted["loss"], -(rec - 4.0 * kl).mean())
    torch.testing.assert_close(weighted["beta-elbo"], (rec - 4.0 * kl).mean().detach())
    for key in ("elbo", "kl", "reconstruction"):  # logged unweighted
        torch.testing.assert_close(weighted[key], out[key])


def test_beta_trades_reconstruction_for_kl_in_training():
    train = igm.data.digits("train").x
    kls = {}
    for beta in (0.25, 4.0):
        torch.manual_seed(0)
        model = digits_vae(latent_dim=4)
        model.beta = beta
        history = igm.fit(model, train, steps=150, batch_size=64, seed=0, progress=False)
        kls[beta] = sum(history["kl"][-30:]) / 30
    assert kls[4.0] < kls[0.25]


def test_bad_beta():
    with pytest.raises(ValueError, match="beta must be >= 0"):
        VAE(nn.Linear(4, 4), nn.Linear(2, 4), 2, beta=-1.0)
