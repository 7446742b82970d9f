"""Tests of igmlib.models.DensityNetwork (MacKay 1995) and igmlib.metrics.gaussian_log_likelihood."""
import math

import numpy as np
import pytest
import torch
from torch import distributions as D
from torch import nn

import igmlib as igm
from igmlib.models import DensityNetwork


def linear_gaussian(latent_dim=2, data_dim=3, sigma=0.5, seed=0, dtype=torch.float32):
    """A density network with a linear decoder x = W z + b + sigma eps and its exact marginal
    p(x) = N(b, W W^T + sigma^2 I)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(data_dim, latent_dim, generator=g, dtype=dtype)
    b = torch.randn(data_dim, generator=g, dtype=dtype)
    net = nn.Linear(latent_dim, data_dim).to(dtype)
    with torch.no_grad():
        net.weight.copy_(w)
        net.bias.copy_(b)
    model = DensityNetwork(net, latent_dim, (data_dim,), scale=sigma)
    exact = D.MultivariateNormal(b, w @ w.T + sigma**2 * torch.eye(data_dim, dtype=dtype))
    return model, exact, w, b


# ---- the Monte Carlo estimator against the closed form --------------------------------------------
@torch.no_grad()
def test_estimate_converges_to_exact_linear_gaussian():
    model, exact, _, _ = linear_gaussian(sigma=1.0)
    torch.manual_seed(0)
    x = exact.sample((200,))
    truth = exact.log_prob(x)
    errors = []
    for s in (1, 16, 256, 16384):
        errs = [(model.log_likelihood(x, s) - truth).abs().mean() for _ in range(4)]
        errors.append(float(torch.stack(errs).mean()))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.05, errors
    # at large S the mean over points is within a small two-sided band around the exact mean
    mean_err = float((model.log_likelihood(x, 65536) - truth).mean())
    assert abs(mean_err) < 0.01


@torch.no_grad()
def test_single_sample_expectation_and_jensen_bias():
    # E_z[log p(x|z)] = -D/2 log(2 pi s^2) - (|x - b|^2 + |W|_F^2) / (2 s^2): the S=1 estimate's mean.
    sigma = 0.5
    model, exact, w, b = linear_gaussian(sigma=sigma, dtype=torch.float64)
    model.double()
    x = torch.tensor([[0.3, -0.2, 1.0]], dtype=torch.float64)
    analytic_s1 = float(-1.5 * math.log(2 * math.pi * sigma**2) - (((x - b) ** 2).sum() + (w**2).sum()) / (2 * sigma**2))
    truth = float(exact.log_prob(x))
    torch.manual_seed(1)
    reps = 4000
    est1 = torch.stack([model.log_likelihood(x, 1) for _ in range(reps)]).squeeze()
    est8 = torch.stack([model.log_likelihood(x, 8) for _ in range(reps)]).squeeze()
    se1, se8 = float(est1.std()) / math.sqrt(reps), float(est8.std()) / math.sqrt(reps)
    assert abs(float(est1.mean()) - analytic_s1) < 4 * se1
    # biased low, and the bias shrinks with S: E[S=1] < E[S=8] < log p(x) (Burda et al. 2016, Thm 1)
    assert analytic_s1 + 4 * se8 < float(est8.mean()) < truth - 4 * se8


@torch.no_grad()
def test_blocked_computation_matches_one_block():
    net = igm.nets.MLP(2, DensityNetwork.output_size("mixture", (3,), 4), (16,))
    model = DensityNetwork(net, 2, (3,), likelihood="mixture", components=4)
    torch.manual_seed(0)
    x, z = torch.randn(50, 3), torch.randn(300, 2)
    whole = model.log_likelihood(x, z=z)
    model.max_elements = 100  # forces many sample and row blocks
    torch.testing.assert_close(model.log_likelihood(x, z=z), whole, rtol=1e-5, atol=1e-5)


def test_gradcheck_mixture_head_float64():
    torch.manual_seed(0)
    net = igm.nets.MLP(2, DensityNetwork.output_size("mixture", (2,), 3), (8,), activation="tanh").double()
    model = DensityNetwork(net, 2, (2,), likelihood="mixture", components=3).double()
    z = torch.randn(7, 2, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: model.log_likelihood(x, z=z), (x,))


# ---- shapes of each head --------------------------------------------------------------------------
HEADS = [
    ("gaussian", {}, (2,)),
    ("gaussian", {"scale": 0.1}, (2,)),
    ("mixture", {"components": 3}, (2,)),
    ("bernoulli", {}, (1, 4, 4)),
    ("gaussian", {}, (1, 4, 4)),
]


@pytest.mark.parametrize("head,kwargs,event_shape", HEADS)
def test_shapes(head, kwargs, event_shape):
    out = DensityNetwork.output_size(head, event_shape, kwargs.get("components"))
    d = math.prod(event_shape)
    assert out == (3 * (1 + 2 * d) if head == "mixture" else d)
    model = DensityNetwork(igm.nets.MLP(3, out, (8,)), 3, event_shape, likelihood=head, samples=5, **kwargs)
    torch.manual_seed(0)
    assert model.sample(6).shape == (6, *event_shape)
    assert model.sample_mean(6).shape == (6, *event_shape)
    cond = model.conditional(torch.randn(4, 3))
    assert cond.batch_shape == (4,) and cond.event_shape == (d,)
    x = torch.where(torch.rand(7, *event_shape) > 0.5, 1.0, -1.0) if head == "bernoulli" else torch.randn(7, *event_shape)
    ll = model.log_likelihood(x)
    assert ll.shape == (7,) and ll.dtype == torch.float32 and torch.isfinite(ll).all()
    loss = model.model_loss(x)["loss"]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    if head == "bernoulli":  # igmlib's pixel convention: draws in {-1, 1}, means in [-1, 1]
        assert set(model.sample(50).unique().tolist()) <= {-1.0, 1.0}
        assert float(model.sample_mean(50).abs().max()) < 1


def test_vocabulary_decoder_and_likelihood():
    model = DensityNetwork(nn.Linear(2, 3), 2, (3,), likelihood="gaussian")
    assert not hasattr(model, "generator") and isinstance(model.decoder, nn.Linear)
    assert model.likelihood == "gaussian"
    assert set(model.state_dict()) == {"decoder.weight", "decoder.bias", "log_scale"}


@torch.no_grad()
def test_sample_draws_from_p_x_and_sample_mean_gives_the_means():
    # on the same prior draws (same seed) sample - sample_mean is the observation noise sigma eps alone
    model, exact, w, b = linear_gaussian(sigma=0.5)
    torch.manual_seed(2)
    draws = model.sample(200_000)
    torch.manual_seed(2)
    means = model.sample_mean(200_000)
    noise = draws - means
    torch.testing.assert_close(noise.var(0), torch.full((3,), 0.25), rtol=0, atol=0.005)
    assert float(noise.mean(0).abs().max()) < 0.005
    # sample is p(x) = N(b, W W^T + sigma^2 I); sample_mean has covariance W W^T
    torch.testing.assert_close(torch.cov(draws.T), exact.covariance_matrix, rtol=0, atol=0.05)
    torch.testing.assert_close(torch.cov(means.T), w @ w.T, rtol=0, atol=0.05)
    torch.testing.assert_close(model(torch.zeros(2, 2)), b.expand(2, 3))


def test_bernoulli_head_reads_data_in_minus_one_one():
    torch.manual_seed(0)
    model = DensityNetwork(nn.Linear(2, 4), 2, (4,), likelihood="bernoulli")
    x, z = torch.where(torch.rand(5, 4) > 0.5, 1.0, -1.0), torch.randn(3, 2)
    logits = model.decoder(z)  # (S, D)
    log_p = D.Independent(D.Bernoulli(logits=logits), 1).log_prob(((x + 1) / 2)[:, None, :])  # (N, S)
    expected = torch.logsumexp(log_p, dim=1) - math.log(3)
    torch.testing.assert_close(model.log_likelihood(x, z=z), expected)
    torch.testing.assert_close(model(z), 2 * torch.sigmoid(logits) - 1)

def test_learned_scale_is_a_parameter_fixed_scale_is_not():
    learned = DensityNetwork(nn.Linear(1, 2), 1, (2,))
    fixed = DensityNetwork(nn.Linear(1, 2), 1, (2,), scale=0.3)
    assert learned.log_scale.shape == (2,) and learned.log_scale.requires_grad
    assert fixed.log_scale is None and len(list(fixed.parameters())) == 2
    torch.testing.assert_close(fixed.conditional(torch.zeros(3, 1)).base_dist.scale, torch.full((3, 2), 0.3))


# ---- training -------------------------------------------------------------------------------------
def test_training_increases_held_out_log_likelihood():
    data = igm.data.gaussian_mixture(torch.tensor([[-1.5, 0.0], [1.5, 0.0]]), 0.3)
    torch.manual_seed(123)
    test = data.sample((500,))
    model = DensityNetwork(igm.nets.MLP(1, 2, (32, 32)), 1, (2,), samples=64, lr=3e-3)
    with torch.no_grad():
        before = float(model.log_likelihood(test, 4096).mean())
    history = igm.fit(model, data, steps=300, batch_size=128, seed=0, progress=False)
    with torch.no_grad():
        after = float(model.log_likelihood(test, 4096).mean())
    exact = float(data.log_prob(test).mean())
    assert set(history) == {"model", "log p(x)"} and len(history["model"]) == 300
    assert after > before + 1.0
    assert exact - 1.0 < after < exact + 0.1  # a held-out estimate cannot beat the truth by much


# ---- bad input ------------------------------------------------------------------------------------
def _gauss(**kw):
    return DensityNetwork(nn.Linear(2, 2), 2, (2,), **kw)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: _gauss(likelihood="poisson"), ValueError, "unknown likelihood 'poisson'; choose one of: bernoulli, gaussian, mixture"),
        (lambda: _gauss(likelihood="mixture"), ValueError, "needs components"),
        (lambda: _gauss(scale=0.1, likelihood="bernoulli"), ValueError, "scale is only used by the gaussian head"),
        (lambda: _gauss(components=3), ValueError, "components is only used by the mixture head"),
        (lambda: _gauss(samples=0), ValueError, "samples must be > 0"),
        (lambda: _gauss(scale=-1.0), ValueError, "scale must be > 0"),
        (lambda: DensityNetwork("net", 2, (2,)), TypeError, "decoder must be a torch.nn.Module"),
        (lambda: DensityNetwork.output_size("mixture", (2,)), ValueError, "needs components"),
    ],
)
def test_bad_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda m: m.log_likelihood(torch.randn(64)), ValueError, r"x must have shape \(N, 2\), got \(64,\): use x.reshape\(-1, 2\)"),
        (lambda m: m.log_likelihood(torch.randn(8, 3)), ValueError, r"x must have shape \(N, 2\), got \(8, 3\)"),
        (lambda m: m.log_likelihood(torch.randn(8, 2), 0), ValueError, "samples must be > 0, got 0"),
        (lambda m: m.log_likelihood(torch.randn(8, 2), -3), ValueError, "samples must be > 0"),
        (lambda m: m.log_likelihood(torch.randn(8, 2), 2.5), TypeError, "samples must be an int"),
        (lambda m: m.log_likelihood(torch.randn(8, 2), 5, z=torch.randn(4, 2)), ValueError, "samples=5 but z has 4 rows"),
        (lambda m: m.log_likelihood(torch.randn(8, 2), z=torch.randn(4, 3)), ValueError, r"z must have shape \(N, 2\)"),
        (lambda m: m.log_likelihood(torch.zeros(8, 2, dtype=torch.long)), TypeError, "floating-point"),
    ],
)
def test_bad_log_likelihood_input(call, error, match):
    with pytest.raises(error, match=match):
        call(_gauss())


@pytest.mark.parametrize("x", [torch.rand(5, 1, 2, 2) * 2 - 1, (torch.rand(5, 1, 2, 2) > 0.5).float()],
                         ids=["grey levels", "bits in {0, 1}"])
def test_bernoulli_rejects_non_binary_data_and_wrong_network_size(x):
    model = DensityNetwork(nn.Linear(2, 4), 2, (1, 2, 2), likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"needs binary data in \{-1, 1\} .*got values in .*"
                                         r"torch.where\(x > 0, 1.0, -1.0\); map bits in \{0, 1\} with 2 \* x - 1"):
        model.log_likelihood(x)
    wrong = DensityNetwork(nn.Linear(2, 5), 2, (1, 2, 2), likelihood="bernoulli")
    with pytest.raises(ValueError, match=r"decoder output must have shape \(N, 4\)"):
        wrong.sample(3)
    with pytest.raises(NotImplementedError, match="use sample"):
        model.rsample(3)


# ---- the single-Gaussian baseline -----------------------------------------------------------------
def test_gaussian_log_likelihood_matches_scipy_and_converges():
    from scipy.stats import multivariate_normal

    torch.manual_seed(0)
    cov = torch.tensor([[1.0, 0.6], [0.6, 2.0]], dtype=torch.float64)
    truth = D.MultivariateNormal(torch.tensor([1.0, -2.0], dtype=torch.float64), cov)
    train, test = truth.sample((20000,)), truth.sample((50,))
    got = igm.metrics.gaussian_log_likelihood(train, test, jitter=0.0)
    a = train.numpy()
    ref = multivariate_normal(a.mean(0), np.cov(a, rowvar=False)).logpdf(test.numpy())
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-10)
    assert got.shape == (50,) and got.dtype == torch.float64
    torch.testing.assert_close(got, truth.log_prob(test), rtol=0, atol=0.05)


def test_gaussian_log_likelihood_images_and_constant_pixels():
    x = igm.data.digits("train").x[:300]  # some pixels are constant -1: singular covariance
    ll = igm.metrics.gaussian_log_likelihood(x, x[:10], jitter=1e-3)
    assert ll.shape == (10,) and torch.isfinite(ll).all()


@pytest.mark.parametrize(
    "train,test,match",
    [
        (torch.randn(1, 2), torch.randn(3, 2), r"N >= 2"),
        (torch.randn(10), torch.randn(3), r"N >= 2"),
        (torch.randn(10, 2), torch.randn(3, 3), r"test points must have the shape of train points \(2,\)"),
    ],
)
def test_gaussian_log_likelihood_bad_input(train, test, match):
    with pytest.raises(ValueError, match=match):
        igm.metrics.gaussian_log_likelihood(train, test)
