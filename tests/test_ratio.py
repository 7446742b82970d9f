"""Tests of igmlib.models.RatioEstimator: the logistic-regression density-ratio estimator."""
import math

import pytest
import torch
from torch import distributions as D

import igmlib as igm
from igmlib.models import RatioEstimator


def gaussian(mean, std):
    return D.Independent(D.Normal(torch.tensor([mean]), torch.tensor([std])), 1)


def test_recovers_the_log_ratio_of_two_gaussians():
    # p = N(0.5, 1), q = N(-0.5, 1.5^2): log p/q = log 1.5 - (x - 0.5)^2 / 2 + (x + 0.5)^2 / 4.5
    p, q = gaussian(0.5, 1.0), gaussian(-0.5, 1.5)
    torch.manual_seed(0)
    est = RatioEstimator(igm.nets.MLP(1, 1, hidden=(32, 32), activation="tanh"), q, lr=3e-3)
    hist = igm.fit(est, p, steps=1500, batch_size=512, seed=0, progress=False)
    x = torch.linspace(-1.5, 2.0, 201)[:, None]  # the bulk of p: mean +- ~1.5 std
    exact = p.log_prob(x) - q.log_prob(x)
    with torch.no_grad():
        learned = est.log_ratio(x)
    torch.testing.assert_close(learned, exact, atol=0.15, rtol=0.0)
    # the probability is the sigmoid of the log ratio, the class posterior p / (p + q)
    torch.testing.assert_close(est.probability(x).detach(), torch.sigmoid(exact), atol=0.04, rtol=0.0)
    # the final loss is close to its minimum log 4 - 2 JSD(p || q), which is below log 4
    assert set(hist) == {"classifier", "accuracy"}
    assert sum(hist["classifier"][-100:]) / 100 < math.log(4)


def test_tensor_and_callable_references_give_the_same_model():
    q = gaussian(0.0, 1.0)
    torch.manual_seed(0)
    bank = q.sample((4096,))
    losses = []
    for reference in (bank, lambda n: bank[torch.randperm(len(bank))[:n]]):
        torch.manual_seed(0)
        est = RatioEstimator(igm.nets.MLP(1, 1, hidden=(8,)), reference)
        losses.append(igm.fit(est, gaussian(1.0, 1.0), steps=20, batch_size=64, seed=1, progress=False)["classifier"])
    assert losses[0] == losses[1]


def test_shapes_and_loss_value():
    q = gaussian(0.0, 1.0)
    est = RatioEstimator(igm.nets.MLP(1, 1, hidden=(8,)), q)
    x = torch.randn(7, 1)
    assert est.log_ratio(x).shape == (7,)
    assert est.probability(x).shape == (7,)
    torch.manual_seed(3)
    out = est.classifier_loss(x)
    torch.manual_seed(3)
    ref = est.sample_reference(7)
    expected = igm.losses.discriminator_loss(est(x), est(ref), "minimax")
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize(
    "classifier, reference, error, match",
    [
        ("not a net", gaussian(0.0, 1.0), TypeError, "classifier must be a torch.nn.Module"),
        (igm.nets.MLP(1, 1), 3.0, TypeError, "reference must be a torch Distribution"),
        (igm.nets.MLP(1, 1), torch.zeros(5, 1, dtype=torch.long), TypeError, "floating-point"),
    ],
)
def test_bad_construction(classifier, reference, error, match):
    with pytest.raises(error, match=match):
        RatioEstimator(classifier, reference)


def test_mismatched_spaces_and_small_reference_bank():
    est = RatioEstimator(igm.nets.MLP(2, 1, hidden=(8,)), D.Independent(D.Normal(torch.zeros(3), 1.0), 1))
    with pytest.raises(ValueError, match="same space"):
        est.classifier_loss(torch.randn(4, 2))
    est = RatioEstimator(igm.nets.MLP(1, 1, hidden=(8,)), torch.randn(3, 1))
    with pytest.raises(ValueError, match="reference tensor has 3"):
        est.classifier_loss(torch.randn(4, 1))
