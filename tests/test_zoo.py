"""igmlib.book.zoo and igmlib.book.evaluation: every registered model builds and trains; evaluate on
perfect and collapsed samplers, as each model's configuration says."""
import math

import numpy as np
import pytest
import torch

import igmlib as igm
from igmlib.book import evaluation, zoo

PAIRS = [(name, problem) for name in zoo.MODELS for problem in zoo.PROBLEMS if zoo.supports(name, problem)]


class Sampler:
    """A stand-in model: ``sample(n)`` returns what ``draw(n)`` gives (no parameters)."""

    def __init__(self, draw):
        self.draw = draw

    def sample(self, n):
        return self.draw(n)


@pytest.mark.parametrize("name,problem", PAIRS)
def test_every_model_builds_and_takes_two_finite_steps(name, problem):
    igm.seed_everything(0)
    model, fit_kwargs = zoo.build(name, problem, device="cpu")
    before = [p.detach().clone() for p in model.parameters()]
    assert set(fit_kwargs) == {"batch_size", "steps"} and fit_kwargs["steps"] >= 1  # steps: the full budget's
    history = igm.fit(model, zoo.problem_data(problem), progress=False, seed=0, **{**fit_kwargs, "steps": 2})
    assert all(len(v) == 2 and all(math.isfinite(x) for x in v) for v in history.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # training changed weights
    x = model.sample(5)
    assert x.shape == ((5, 1, 8, 8) if problem == "digits" else (5, 2))


def test_every_model_has_a_problem_and_the_toys_cover_all_but_infogan():
    assert len(PAIRS) == sum(len(config.problems) for config in zoo.MODELS.values())
    assert all(config.problems for config in zoo.MODELS.values())
    without_toys = [name for name in zoo.MODELS if not zoo.supports(name, "ring")]
    assert without_toys == ["infogan"]
    assert not zoo.supports("infogan", "ring") and zoo.supports("infogan", "digits")


@pytest.mark.parametrize("call,error,match", [
    (lambda: zoo.build("gann", "ring"), ValueError, "unknown model name 'gann'; choose one of: ali, avb"),
    (lambda: zoo.build("gan", "rings"), ValueError, "unknown problem 'rings'; choose one of: digits, grid, ring"),
    (lambda: zoo.build("infogan", "grid"), ValueError, "no configuration for problem 'grid'; it supports: digits"),
    (lambda: evaluation.evaluate(object(), "ring"), TypeError, "sample"),
    (lambda: evaluation.evaluate(Sampler(lambda n: torch.zeros(n, 2)), "ring", n=5), ValueError, "at least 10"),
    (lambda: evaluation.evaluate(Sampler(lambda n: torch.zeros(n, 3)), "ring", n=20), ValueError, r"shape \(N, 2\)"),
    (lambda: evaluation.evaluate(Sampler(lambda n: torch.zeros(n, 2)), "ring", sampler="mean"), ValueError,
     "unknown sampler 'mean'; choose one of: sample, sample_mean"),
    (lambda: zoo.Config(lambda p: None, sampler="mode"), ValueError, "unknown sampler 'mode'"),
    (lambda: evaluation.leaderboard(["gan"], ["ring"], [], 2), ValueError, "seeds is empty"),
    (lambda: evaluation.leaderboard(["gan"], ["ring"], [0], 0), ValueError, "steps for 'ring'"),
    (lambda: evaluation.summarize([], ["modes"]), ValueError, "no rows"),
])
def test_bad_input_raises_with_a_helpful_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_evaluate_on_the_ring_scores_data_as_perfect_and_a_collapse_as_one_mode():
    ring = igm.data.ring()
    perfect = evaluation.evaluate(Sampler(lambda n: ring.sample((n,))), "ring", n=1000, seed=0)
    collapsed = evaluation.evaluate(Sampler(lambda n: torch.tensor([2.0, 0.0]) + 0.02 * torch.randn(n, 2)), "ring",
                             n=1000, seed=0)
    assert set(perfect) == set(evaluation.TOY_METRICS) == set(collapsed)
    assert perfect["modes"] == perfect["total_modes"] == 8 and collapsed["modes"] == 1
    # 3 std in 2-D holds P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.989 of each mode's mass
    assert perfect["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert perfect["mode_kl"] == pytest.approx(0.0, abs=0.02)
    assert collapsed["mode_kl"] == pytest.approx(math.log(8), abs=1e-9)
    assert perfect["mmd2"] == pytest.approx(0.0, abs=0.005) and collapsed["mmd2"] > 0.3
    assert perfect["two_sample"] == pytest.approx(0.5, abs=0.05) and collapsed["two_sample"] > 0.85
    assert perfect["recall"] > 0.9 and collapsed["recall"] < 0.2 and collapsed["precision"] > 0.9
    assert perfect["density"] == pytest.approx(1.0, abs=0.1) and perfect["coverage"] > 0.9
    assert collapsed["coverage"] < 0.2  # one mode of eight: about 1/8 of the real balls hold a sample
    # the exact log-density of samples cannot see the missing modes: collapse scores as well as data
    assert collapsed["toy_log_likelihood"] == pytest.approx(perfect["toy_log_likelihood"], abs=0.2)
    assert math.isnan(perfect["log_likelihood"])  # a bare sampler has no likelihood


class CodeSampler(Sampler):
    """A stand-in with an unsupervised classifier: ``predict_code`` maps digit labels through ``codes``."""

    def __init__(self, draw, codes):
        super().__init__(draw)
        self.codes = codes

    def predict_code(self, images):
        test = igm.data.digits("test")
        assert torch.equal(images, test.x)  # scored on the labelled test digits
        return self.codes(test.y)


def test_code_accuracy_is_the_matched_accuracy_of_predict_code_on_test_digits():
    train = igm.data.digits("train").x
    draw = lambda n: train[torch.randint(len(train), (n,))]
    permuted = evaluation.evaluate(CodeSampler(draw, lambda y: (y * 3 + 1) % 10), "digits", n=100, seed=0)
    assert permuted["code_accuracy"] == 1.0  # codes are arbitrary names: a permutation loses nothing
    merged = evaluation.evaluate(CodeSampler(draw, lambda y: torch.where(y == 9, 4, y)), "digits", n=100, seed=0)
    y = igm.data.digits("test").y
    assert merged["code_accuracy"] == pytest.approx(1 - float((y == 9).float().mean()))  # 9s counted as errors
    assert math.isnan(evaluation.evaluate(Sampler(draw), "digits", n=100, seed=0)["code_accuracy"])


def test_evaluate_on_digits_separates_real_images_from_one_repeated_image():
    train = igm.data.digits("train").x
    real = evaluation.evaluate(Sampler(lambda n: train[torch.randint(len(train), (n,))]), "digits", n=500, seed=0)
    one = evaluation.evaluate(Sampler(lambda n: train[:1].expand(n, -1, -1, -1) + 0.01 * torch.randn(n, 1, 8, 8)),
                       "digits", n=500, seed=0)
    assert set(real) == set(evaluation.DIGIT_METRICS) == set(one)
    assert real["frechet"] < 0.1 * one["frechet"]
    assert real["inception_score"] > 7 and one["inception_score"] == pytest.approx(1.0, abs=0.05)
    assert real["recall"] > 0.7 and one["recall"] < 0.05
    assert abs(real["kid"]) < 0.05 * one["kid"]
    assert real["coverage"] > 0.8 and one["coverage"] < 0.05 and real["density"] == pytest.approx(1.0, abs=0.3)
    assert real["two_sample"] < 0.75 and one["two_sample"] > 0.95
    assert real["parzen"] > one["parzen"] and real["parzen_bandwidth"] > 0


def test_evaluate_gives_nan_for_non_finite_samples_and_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    out = evaluation.evaluate(Sampler(lambda n: torch.full((n, 2), float("nan"))), "grid", n=20)
    assert all(math.isnan(v) for v in out.values())
    assert torch.equal(state, torch.get_rng_state())


def test_evaluate_leaves_numpy_and_torch_global_states_untouched():
    ring = igm.data.ring()
    torch.manual_seed(3)
    np.random.seed(3)
    expected_torch, expected_numpy = torch.rand(4), np.random.rand(4)
    torch.manual_seed(3)
    np.random.seed(3)
    # the metrics draw with NumPy (the two-sample split) and torch (the data): both inside the fork
    first = evaluation.evaluate(Sampler(lambda n: ring.sample((n,))), "ring", n=200, seed=1)
    torch.testing.assert_close(torch.rand(4), expected_torch)
    np.testing.assert_array_equal(np.random.rand(4), expected_numpy)
    again = evaluation.evaluate(Sampler(lambda n: ring.sample((n,))), "ring", n=200, seed=1)
    assert again == pytest.approx(first, nan_ok=True)  # seeded: the same numbers


class LikelihoodSampler(Sampler):
    """A sampler with ``sample_mean`` and a ``log_likelihood`` that records its sample count."""

    def __init__(self, draw, mean=None):
        super().__init__(draw)
        self.counts = []
        if mean is not None:
            self.sample_mean = mean
        self.weight = torch.nn.Parameter(torch.zeros(()))

    def parameters(self):
        return iter([self.weight])

    def log_likelihood(self, x, k):
        self.counts.append(k)
        return torch.zeros(len(x))


def test_evaluate_scores_the_configured_sampler_and_likelihood_samples():
    ring = igm.data.ring()
    far = LikelihoodSampler(lambda n: 100 + torch.randn(n, 2), mean=lambda n: ring.sample((n,)))
    scored_mean = evaluation.evaluate(far, "ring", n=200, sampler="sample_mean", likelihood_samples=7)
    assert scored_mean["modes"] == 8 and set(far.counts) == {7}
    assert evaluation.evaluate(far, "ring", n=200)["modes"] == 0  # sample(n): the far-away draws
    # a model without sample_mean is scored on sample (the likelihood models before they had one)
    plain = LikelihoodSampler(lambda n: ring.sample((n,)))
    assert evaluation.evaluate(plain, "ring", n=200, sampler="sample_mean")["modes"] == 8
    assert set(plain.counts) == {200}  # the default


def test_the_configurations_say_how_each_model_is_scored():
    assert {n for n, c in zoo.MODELS.items() if c.sampler == "sample_mean"} == {"vae", "avb"}
    assert zoo.MODELS["density_network"].likelihood_samples == 4096
    assert all(c.likelihood_samples == 200 for n, c in zoo.MODELS.items() if n != "density_network")


def test_leaderboard_rows_and_summary():
    seen = []
    rows = evaluation.leaderboard(["gan", "infogan"], ["ring"], seeds=[0, 1], steps={"ring": 3}, n=100, device="cpu",
                           progress=False, callback=lambda row, model: seen.append((row["seed"], type(model).__name__)))
    assert seen == [(0, "GAN"), (1, "GAN")]  # InfoGAN has no toy configuration: skipped
    assert [(r["model"], r["seed"], r["steps"], r["status"]) for r in rows] == [("gan", 0, 3, "ok"), ("gan", 1, 3, "ok")]
    assert all(r["train_seconds"] > 0 and set(evaluation.TOY_METRICS) <= set(r) for r in rows)
    table, header = evaluation.summarize(rows, ["modes", "train_seconds"])
    assert header == ["problem", "model", "runs", "modes", "train s"]
    assert table[0][:3] == ["ring", "gan", "2/2"] and "±" in table[0][3]


def test_leaderboard_trains_each_model_for_its_own_steps_unless_told_otherwise(monkeypatch):
    monkeypatch.setitem(zoo.STEPS, "ring", 3)
    monkeypatch.setattr(evaluation, "evaluate", lambda model, problem, **kwargs: {})
    own = evaluation.leaderboard(["gan", "vae"], ["ring"], [0], n=10, device="cpu", progress=False)
    assert {r["model"]: r["steps"] for r in own} == {n: zoo.build(n, "ring")[1]["steps"] for n in ("gan", "vae")}
    told = evaluation.leaderboard(["gan", "vae"], ["ring"], [0], {"ring": 2}, n=10, device="cpu", progress=False)
    assert [r["steps"] for r in told] == [2, 2]


def test_leaderboard_scores_each_model_as_its_configuration_says(monkeypatch):
    seen = {}

    def record(model, problem, **kwargs):
        seen[type(model).__name__] = (kwargs["sampler"], kwargs["likelihood_samples"])
        return {}

    monkeypatch.setattr(evaluation, "evaluate", record)
    evaluation.leaderboard(["vae", "density_network", "gan"], ["ring"], [0], 1, n=10, device="cpu", progress=False)
    assert seen == {"VAE": ("sample_mean", 200), "DensityNetwork": ("sample", 4096), "GAN": ("sample", 200)}
