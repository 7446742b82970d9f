"""Tests of igmlib.models.AVB (Mescheder, Nowozin, Geiger 2017)."""
import math

import pytest
import torch
from torch import distributions as D
from torch import nn

import igmlib as igm
from conftest import fit_and_check_every_parameter_changes
from test_vae import linear_gaussian_vae
from igmlib.models import AVB, VAE, GaussianSampler


class Quadratic(nn.Module):
    """T(x, z) = a + b z + c z^2 for a 1-D z (x ignored): the family holding the exact Gaussian log ratio."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, xz):
        z = xz[:, -1:]
        return self.linear(torch.cat([z, z**2], dim=1))


def fixed_sampler(m, s, data_dim):
    """A frozen neural sampler z = m + s eps, ignoring x: q(z | x) = N(m, s^2)."""
    net = nn.Linear(data_dim + 1, 1)
    with torch.no_grad():
        net.weight.zero_()
        net.weight[0, -1] = s
        net.bias.fill_(m)
    return net


def test_adversary_optimum_is_the_log_density_ratio():
    torch.manual_seed(0)
    m, s = 1.0, 0.5
    model = AVB(fixed_sampler(m, s, 1), nn.Linear(1, 1), Quadratic(), latent_dim=1, noise_dim=1,
                lr_adversary=3e-2)
    model.encoder.requires_grad_(False)
    model.decoder.requires_grad_(False)
    assert [p.name for p in model.players()] == ["adversary"]  # a frozen model is not trained
    igm.fit(model, torch.zeros(512, 1), steps=600, batch_size=512, seed=0, progress=False)
    z = torch.linspace(m - 2 * s, m + 2 * s, 41)[:, None]
    exact = D.Normal(m, s).log_prob(z[:, 0]) - D.Normal(0.0, 1.0).log_prob(z[:, 0])
    with torch.no_grad():
        learned = model.adversary_logits(torch.zeros(41, 1), z)
    torch.testing.assert_close(learned, exact, rtol=0, atol=0.15)
    # and E_q[T] estimates KL(q || p) = -log s + (s^2 + m^2 - 1) / 2
    with torch.no_grad():
        x = torch.zeros(20000, 1)
        kl_hat = float(model.adversary_logits(x, model.encode(x)).mean())
    assert abs(kl_hat - (-math.log(s) + (s**2 + m**2 - 1) / 2)) < 0.05


class OracleAdversary(nn.Module):
    """The optimal adversary of a Gaussian sampler: T*(x, z) = log q(z | x) - log p(z), exactly."""

    def __init__(self, sampler):
        super().__init__()
        self.sampler = sampler

    def forward(self, xz):
        k = self.sampler.latent_dim
        x, z = xz[:, :-k], xz[:, -k:]
        mean, log_var = self.sampler.gaussian(x)
        log_q = D.Normal(mean, (0.5 * log_var).exp()).log_prob(z).sum(-1)
        return (log_q - D.Normal(0.0, 1.0).log_prob(z).sum(-1))[:, None]


def linear_gaussian_avb(encoder_shift=0.0, sigma=0.5):
    """AVB with a linear-Gaussian decoder x = W z + b + sigma eps, a Gaussian sampler equal to the exact
    posterior (its mean optionally shifted) and the oracle adversary; plus the VAE with the same networks
    and the exact marginal p(x) = N(b, W W^T + sigma^2 I) (test_vae.linear_gaussian_vae)."""
    vae, exact = linear_gaussian_vae(sigma=sigma, encoder_shift=encoder_shift)
    sampler = GaussianSampler(vae.encoder, 2)
    avb = AVB(sampler, vae.decoder, OracleAdversary(sampler), 2, likelihood="gaussian", scale=sigma).double()
    return avb, vae, exact


@torch.no_grad()
def test_elbo_estimate_with_the_optimal_adversary_is_the_elbo():
    avb, vae, exact = linear_gaussian_avb(encoder_shift=0.5)
    x = exact.sample((20,))
    torch.manual_seed(1)
    torch.testing.assert_close(avb.elbo_estimate(x, samples=50_000), vae.elbo(x, samples=50_000), rtol=0, atol=0.03)


@torch.no_grad()
def test_log_likelihood_with_fitted_proposal_recovers_exact_marginal():
    # the proposal is a Gaussian fitted to encoder samples: it never evaluates q's density
    avb, _, exact = linear_gaussian_avb()  # q = the exact posterior: the fit is near-perfect
    x = exact.sample((100,))
    torch.manual_seed(2)
    estimate = avb.log_likelihood(x, samples=2000, fit_samples=500)
    assert float((estimate - exact.log_prob(x)).abs().max()) < 0.03
    # a poor encoder (mean off by 1.6 posterior std) gives a poor proposal: biased low at small K,
    # close on average at large K
    avb, _, exact = linear_gaussian_avb(encoder_shift=0.5)
    truth = exact.log_prob(x)
    small = float((avb.log_likelihood(x, samples=10, fit_samples=500) - truth).mean())
    large = float((avb.log_likelihood(x, samples=4000, fit_samples=500) - truth).mean())
    assert small < -0.1 and abs(large) < 0.05, (small, large)


def old_avb_log_likelihood(model, x, k, m, max_elements=2**22):
    """AVB.log_likelihood as it was before the importance-sampling loop was shared with the VAE."""
    flat = x.reshape(len(x), -1)
    zs = model.posterior_sample(x, m)
    mean = zs.mean(0)
    centred = zs - mean
    cov = torch.einsum("mni,mnj->nij", centred, centred) / (m - 1)
    eye = torch.eye(model.latent_dim, dtype=flat.dtype)
    proposal = D.MultivariateNormal(mean, scale_tril=torch.linalg.cholesky(cov + 1e-4 * eye))
    prior = D.Normal(torch.zeros((), dtype=flat.dtype), 1.0)
    block = max(1, min(k, max_elements // max(1, flat.numel())))
    parts = []
    for start in range(0, k, block):
        z = proposal.sample((min(block, k - start),))
        log_w = model.log_px_given_z(flat, z) + prior.log_prob(z).sum(-1) - proposal.log_prob(z)
        parts.append(torch.logsumexp(log_w, dim=0))
    return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)


@torch.no_grad()
@pytest.mark.parametrize("max_elements", [2**22, 40])  # one block; blocks of 3 samples
def test_shared_importance_sampler_equals_the_previous_avb_loop(max_elements):
    avb, _, exact = linear_gaussian_avb(encoder_shift=0.5)
    x = exact.sample((4,))
    torch.manual_seed(3)
    old = old_avb_log_likelihood(avb, x, 10, 20, max_elements)
    torch.manual_seed(3)
    new = avb.log_likelihood(x, samples=10, fit_samples=20, max_elements=max_elements)
    torch.testing.assert_close(new, old, rtol=0, atol=1e-12)


def toy_avb(adversary_updates=1):
    """The AVB toy's networks at a small size: 4-D data, 2-D latent."""
    return AVB(igm.nets.MLP(4 + 8, 2, (16,)), igm.nets.MLP(2, 4, (16,)), igm.nets.MLP(4 + 2, 1, (16,)),
               latent_dim=2, noise_dim=8, adversary_updates=adversary_updates)


def test_players_and_few_steps_change_every_network():
    torch.manual_seed(0)
    model = toy_avb(adversary_updates=2)
    players = model.players()
    assert [(p.name, p.updates) for p in players] == [("adversary", 2), ("model", 1)]
    x = 2 * torch.eye(4).repeat(16, 1) - 1  # one-hot points mapped to {-1, 1}
    fit_and_check_every_parameter_changes(
        model, x, keys={"adversary", "model", "elbo", "reconstruction", "T(x, z_q)", "T(x, z_p)"})


def test_shapes_and_sampling():
    torch.manual_seed(0)
    model = toy_avb()
    x = 2 * torch.eye(4) - 1
    assert model.encode(x).shape == (4, 2)
    assert model.posterior_sample(x, 3).shape == (3, 4, 2)
    assert model.adversary_logits(x, torch.zeros(4, 2)).shape == (4,)
    assert model.elbo_estimate(x, samples=3).shape == (4,)
    with torch.no_grad():
        assert model.log_likelihood(x, samples=10, fit_samples=20).shape == (4,)
    assert model.reconstruct(x).shape == (4, 4)
    draws, means = model.sample(6), model.sample_mean(6)
    assert draws.shape == means.shape == (6, 4) and not draws.requires_grad and not means.requires_grad
    assert set(draws.unique().tolist()) <= {-1.0, 1.0}  # x ~ p(x): binary in igmlib's convention
    assert float(means.abs().max()) < 1  # E[x | z] = 2 sigmoid(l) - 1
    assert model.likelihood == "bernoulli" and not hasattr(model, "generator")
    assert {p.name: p.modules for p in model.players()}["model"] == [model.encoder, model.decoder, model.observation]


def test_gaussian_sampler_reshapes_for_image_encoders():
    vae = VAE(nn.Sequential(nn.Flatten(), nn.Linear(64, 4)), nn.Linear(2, 64), 2, event_shape=(1, 8, 8))
    sampler = GaussianSampler(vae.encoder, 2, event_shape=(1, 8, 8))
    model = AVB(sampler, vae.decoder, igm.nets.MLP(66, 1, (8,)), 2, event_shape=(1, 8, 8))
    x = igm.data.digits("test").x[:5]
    torch.manual_seed(0)
    z = model.encode(x)
    mean, log_var = vae.encode(x)
    torch.manual_seed(0)
    eps = torch.randn(5, 2)
    torch.testing.assert_close(z, mean + (0.5 * log_var).exp() * eps)
    assert model.sample(3).shape == (3, 1, 8, 8)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"adversary": None}, TypeError, "adversary must be a torch.nn.Module"),
        ({"adversary_updates": 0}, ValueError, "adversary_updates must be > 0"),
        ({"noise_dim": 0}, ValueError, "noise_dim must be > 0"),
        ({"likelihood": "laplace"}, ValueError, "bernoulli, gaussian"),
        ({"lr_adversary": -1.0}, ValueError, "lr_adversary must be > 0"),
    ],
)
def test_bad_construction(kwargs, error, match):
    args = {"encoder": nn.Linear(6, 2), "decoder": nn.Linear(2, 4), "adversary": nn.Linear(6, 1), **kwargs}
    with pytest.raises(error, match=match):
        AVB(args.pop("encoder"), args.pop("decoder"), args.pop("adversary"), 2, **args)


def test_bad_shapes_are_explained():
    model = AVB(nn.Linear(6, 3), nn.Linear(2, 4), nn.Linear(6, 1), 2)
    with pytest.raises(ValueError, match=r"\(N, latent_dim\) = \(N, 2\)"):
        model.encode(torch.zeros(3, 4))
    model = toy_avb()
    with pytest.raises(ValueError, match="same number of rows"):
        model.adversary_logits(torch.zeros(3, 4), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="fit_samples must be >= 2"):
        model.log_likelihood(torch.zeros(3, 4), fit_samples=1)
