"""InfoGAN: the mutual-information bound, code sampling, generation and a few training steps."""
import math

import pytest
import torch

import igmlib as igm
from igmlib.divergences import gaussian_information_bound, mutual_information_bound
from igmlib.models import InfoGAN


def small_infogan(latent_dim=4, categorical=10, continuous=2, **kwargs):
    gen = igm.nets.ConvGenerator(latent_dim + categorical + continuous, width=8)
    body = igm.nets.ConvDiscriminator(width=8, out_features=16)
    return InfoGAN(gen, body, latent_dim, categorical, continuous, q_hidden=16, **kwargs)


# ---------------------------------------------------------------- the bound (pure functions)

def test_bound_is_log_k_for_a_perfect_q_and_lower_otherwise():
    codes = torch.arange(50) % 10
    perfect = 100.0 * torch.nn.functional.one_hot(codes, 10).double()
    assert float(mutual_information_bound(perfect, codes)) == pytest.approx(math.log(10), abs=1e-12)
    # one-hot codes give the same value as indices
    assert float(mutual_information_bound(perfect, torch.nn.functional.one_hot(codes, 10))) == pytest.approx(math.log(10), abs=1e-12)
    # a Q that predicts the uniform distribution knows nothing: the bound is exactly 0
    assert float(mutual_information_bound(torch.zeros(50, 10), codes)) == pytest.approx(0.0, abs=1e-6)
    # a partly right Q: probability p on the true code, the rest spread evenly -> ln K + ln p
    p = 0.7
    probs = torch.full((50, 10), (1 - p) / 9, dtype=torch.float64)
    probs[torch.arange(50), codes] = p
    bound = float(mutual_information_bound(probs.log(), codes))
    assert bound == pytest.approx(math.log(10) + math.log(p), abs=1e-12)
    assert bound < math.log(10)
    # a confidently wrong Q: the bound is negative
    assert float(mutual_information_bound(perfect, (codes + 1) % 10)) < 0


def test_gaussian_bound_matches_its_formula():
    mean = torch.tensor([[0.2, -0.5], [0.1, 0.4]], dtype=torch.float64)
    codes = torch.tensor([[0.0, -0.5], [0.3, 1.0]], dtype=torch.float64)
    expected = sum(
        math.log(2) + torch.distributions.Normal(mean[:, j], 1.0).log_prob(codes[:, j]).mean().item() for j in range(2)
    )
    assert float(gaussian_information_bound(mean, codes)) == pytest.approx(expected, abs=1e-12)
    log_std = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    expected = sum(
        math.log(2) + torch.distributions.Normal(mean[:, j], log_std[j].exp()).log_prob(codes[:, j]).mean().item()
        for j in range(2)
    )
    assert float(gaussian_information_bound(mean, codes, log_std)) == pytest.approx(expected, abs=1e-12)


def test_bound_gradient():
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    codes = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.autograd.gradcheck(lambda l: mutual_information_bound(l, codes), (logits,))
    mean = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    log_std = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    u = torch.rand(6, 2, dtype=torch.float64) * 2 - 1
    assert torch.autograd.gradcheck(lambda m, s: gaussian_information_bound(m, u, s), (mean, log_std))


@pytest.mark.parametrize(
    "logits, codes, match",
    [
        (torch.zeros(5, 3), torch.zeros(4, dtype=torch.long), r"codes must be indices \(N,\) int64 or one-hot \(N, 3\)"),
        (torch.zeros(5, 3), torch.zeros(5), r"codes must be indices"),
        (torch.zeros(5, 3), torch.full((5,), 3), r"index codes must lie in 0..2"),
        (torch.zeros(5), torch.zeros(5, dtype=torch.long), r"logits must be 2-D"),
        (torch.zeros(5, 3), torch.zeros(5, 4), r"codes must have shape \(N, 3\)"),
    ],
)
def test_bound_bad_input(logits, codes, match):
    with pytest.raises(ValueError, match=match):
        mutual_information_bound(logits, codes)


# ---------------------------------------------------------------- codes and generation

def test_code_sampling_shapes_and_distribution():
    model = small_infogan()
    torch.manual_seed(0)
    codes = model.sample_codes(20000)
    assert codes.index.shape == (20000,) and codes.index.dtype == torch.long
    assert codes.one_hot.shape == (20000, 10) and codes.continuous.shape == (20000, 2)
    torch.testing.assert_close(codes.one_hot.sum(1), torch.ones(20000))
    assert torch.equal(codes.one_hot.argmax(1), codes.index)
    frequencies = torch.bincount(codes.index, minlength=10).double() / 20000
    # binomial standard error sqrt(0.1 * 0.9 / 20000) = 0.0021: allow 4 of them
    torch.testing.assert_close(frequencies, torch.full((10,), 0.1, dtype=torch.float64), atol=0.0085, rtol=0)
    assert codes.continuous.min() >= -1 and codes.continuous.max() <= 1
    torch.testing.assert_close(codes.continuous.mean(0), torch.zeros(2), atol=0.02, rtol=0)  # s.e. 0.004
    torch.testing.assert_close(codes.continuous.var(0), torch.full((2,), 1 / 3), atol=0.02, rtol=0)


def test_generate_uses_the_codes_and_accepts_indices_or_one_hot():
    model = small_infogan().eval()
    z = torch.randn(5, 4)
    c = torch.tensor([0, 3, 9, 2, 2])
    u = torch.rand(5, 2) * 2 - 1
    by_index = model.generate(z, c, u)
    assert by_index.shape == (5, 1, 8, 8)
    torch.testing.assert_close(model.generate(z, torch.nn.functional.one_hot(c, 10).float(), u), by_index)
    # the generator sees exactly concat(z, one-hot c, u)
    torch.testing.assert_close(by_index, model.generator(torch.cat([z, torch.nn.functional.one_hot(c, 10).float(), u], 1)))
    assert not torch.allclose(model.generate(z, (c + 1) % 10, u), by_index)
    assert model.sample(7).shape == (7, 1, 8, 8) and not model.sample(7).requires_grad
    grid = model.traverse(0, steps=5)
    assert grid.shape == (50, 1, 8, 8)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"categorical": 1}, ValueError, r"categorical must be 0 .* or >= 2"),
        ({"categorical": 0, "continuous": 0}, ValueError, r"needs at least one code"),
        ({"info_weight": -1.0}, ValueError, r"info_weight must be >= 0"),
        ({"continuous_std": "free"}, ValueError, r"unknown continuous_std 'free'; choose one of: fixed, learned"),
    ],
)
def test_infogan_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        small_infogan(**kwargs)


def test_infogan_rejects_a_generator_of_the_wrong_input_size():
    with pytest.raises(ValueError, match=r"generator takes 4 inputs .* = 4 \+ 10 \+ 2 = 16"):
        InfoGAN(igm.nets.ConvGenerator(4), igm.nets.ConvDiscriminator(out_features=8), 4)


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("continuous_std", ["fixed", "learned"])
def test_infogan_trains_every_player(continuous_std):
    model = small_infogan(continuous_std=continuous_std)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = igm.fit(model, igm.data.digits().x, steps=3, batch_size=32, seed=0, progress=False)
    for key in ("discriminator", "generator", "mi_categorical", "mi_continuous", "D(x)"):
        assert len(history[key]) == 3 and all(math.isfinite(v) for v in history[key])
    assert all(v <= math.log(10) for v in history["mi_categorical"])
    changed = {k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])}
    for part in ("generator.", "body.", "d_head.", "q_head."):
        assert any(k.startswith(part) for k in changed), f"{part} did not change"
    bound = model.mutual_information_bound(64, seed=0)
    assert bound.categorical <= math.log(10) and math.isfinite(bound.continuous)
    assert model.mutual_information_bound(64, seed=0) == bound  # seeded: reproducible
    assert model.predict_code(igm.data.digits("test").x[:9]).shape == (9,)


def test_info_weight_zero_leaves_the_generator_without_information_gradient():
    model = small_infogan(info_weight=0.0)
    torch.manual_seed(0)
    model.generator_loss(16)["loss"].backward()
    # Q still learns (a probe of the codes) ...
    assert model.q_head[0].weight.grad.abs().sum() > 0
    with_info = [p.grad.clone() for p in model.generator.parameters()]
    model.zero_grad()
    # ... while the generator gets exactly the plain GAN gradient (same draws: same seed, same order)
    torch.manual_seed(0)
    codes = model.sample_codes(16)
    x = model.generate(model.prior(16), codes.one_hot, codes.continuous)
    igm.losses.generator_loss(model.d_head(model.body(x)), "non_saturating").backward()
    for a, p in zip(with_info, model.generator.parameters()):
        torch.testing.assert_close(a, p.grad)


def test_info_weight_changes_the_generator_gradient():
    grads = []
    for weight in (0.0, 1.0):
        model = small_infogan(info_weight=weight)
        model.load_state_dict(small_infogan_state)
        torch.manual_seed(0)
        model.generator_loss(16)["loss"].backward()
        grads.append(next(model.generator.parameters()).grad)
    assert not torch.allclose(grads[0], grads[1])


torch.manual_seed(0)
small_infogan_state = small_infogan().state_dict()


def test_code_widget_and_static_row():
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = small_infogan().eval()
    ax = igm.book.widgets.plot_infogan_codes(model, 3, [0.5, -1.0], noise=4)
    assert ax.get_title() == "c = 3, u1 = +0.5, u2 = -1.0"
    plt.close(ax.figure)
    widget = igm.book.widgets.infogan_code_explorer(model, noise=4)
    assert [c.description for c in widget.children[:-1]] == ["c", "u1", "u2"]
    plt.close("all")
    with pytest.raises(ValueError, match=r"continuous must hold 2 values"):
        igm.book.widgets.plot_infogan_codes(model, 0, [0.0])


def test_learning_rates_follow_the_lr_pattern():
    # the paper's rates by default; lr sets both; lr_<player> sets one
    lrs = lambda m: {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in m.players()}  # noqa: E731
    assert lrs(small_infogan()) == {"discriminator": 2e-4, "generator": 1e-3}
    assert lrs(small_infogan(lr=5e-4)) == {"discriminator": 5e-4, "generator": 5e-4}
    assert lrs(small_infogan(lr=5e-4, lr_generator=1e-4)) == {"discriminator": 5e-4, "generator": 1e-4}
    assert lrs(small_infogan(lr_discriminator=1e-4)) == {"discriminator": 1e-4, "generator": 1e-3}
    with pytest.raises(ValueError, match="lr must be > 0"):
        small_infogan(lr=0.0)


def test_hinge_loss_trains():
    torch.manual_seed(0)
    model = small_infogan(loss="hinge")
    history = igm.fit(model, torch.rand(32, 1, 8, 8) * 2 - 1, steps=2, batch_size=8, seed=0)
    assert all(math.isfinite(v) for values in history.values() for v in values)
