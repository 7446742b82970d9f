"""ConditionalGAN (Mirza and Osindero 2014; projection discriminator, Miyato and Koyama 2018)."""
import pytest
import torch
from torch import nn

import igmlib as igm
from conftest import fit_and_check_every_parameter_changes
from igmlib.models import ConditionalGAN


def toy_model(projection=False, classes=2, features=8, **kwargs):
    body = nn.Sequential(igm.nets.MLP(2, features, (16,)), nn.LeakyReLU(0.2))
    return ConditionalGAN(igm.nets.MLP(2 + classes, 2, (32,)), body, 2, classes, features,
                          projection=projection, **kwargs)


def two_gaussians(n=2048, seed=0):
    """Label 0: N((-2, 0), 0.3^2 I); label 1: N((2, 0), 0.3^2 I)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(2, (n,), generator=g)
    x = 0.3 * torch.randn(n, 2, generator=g)
    x[:, 0] += 4.0 * y - 2.0
    return x, y


def test_projection_discriminator_is_psi_plus_inner_product_by_hand():
    torch.manual_seed(0)
    model = toy_model(projection=True, classes=3).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0])
    phi = model.discriminator_body(x)
    expected = phi @ model.head.weight[0] + model.head.bias[0] + (model.embed.weight[y] * phi).sum(1)
    torch.testing.assert_close(model.discriminate(x, y)[:, 0], expected)


def test_concatenation_discriminator_and_generator_input_by_hand():
    torch.manual_seed(0)
    model = toy_model(projection=False, classes=3).double()
    x, z = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    y = torch.tensor([2, 0, 1, 2])
    one_hot = torch.eye(3, dtype=torch.float64)[y]
    phi = model.discriminator_body(x)
    first, last = model.head[0], model.head[2]
    hidden = torch.nn.functional.leaky_relu(torch.cat([phi, one_hot], 1) @ first.weight.T + first.bias, 0.2)
    torch.testing.assert_close(model.discriminate(x, y), hidden @ last.weight.T + last.bias)
    torch.testing.assert_close(model.generate(z, y), model.generator(torch.cat([z, one_hot], 1)))


def test_losses_are_the_gan_losses_on_labelled_pairs():
    torch.manual_seed(0)
    model = toy_model(projection=True).double()
    x, y = two_gaussians(16)
    x = x.double()
    torch.manual_seed(3)
    out = model.discriminator_loss((x, y))
    torch.manual_seed(3)
    fake = model.generate(model.prior(16), y)
    real_l, fake_l = model.discriminate(x, y), model.discriminate(fake, y)
    expected = torch.nn.functional.softplus(-real_l).mean() + torch.nn.functional.softplus(fake_l).mean()
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("projection", [False, True])
def test_a_few_steps_change_every_parameter(projection):
    torch.manual_seed(0)
    model = toy_model(projection=projection)
    history = fit_and_check_every_parameter_changes(model, two_gaussians(256), keys=("discriminator", "generator", "D(x)"))
    assert len(history["generator"]) == 5


def test_each_player_moves_only_its_networks():
    torch.manual_seed(0)
    model = toy_model(projection=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    igm.fit(model, two_gaussians(256), steps=3, batch_size=32, seed=0, progress=False,
            optimizers={"generator": lambda p: torch.optim.SGD(p, lr=0.0)})
    for key, value in model.state_dict().items():
        assert torch.equal(before[key], value) == key.startswith("generator."), key


@pytest.mark.parametrize("projection", [False, True])
def test_samples_land_on_the_requested_class(projection):
    torch.manual_seed(0)
    model = toy_model(projection=projection, lr=2e-3)
    igm.fit(model, two_gaussians(), steps=600, batch_size=128, seed=0, progress=False)
    torch.manual_seed(1)
    for label, centre in ((0, -2.0), (1, 2.0)):
        x = model.sample(500, torch.full((500,), label))
        assert float((x[:, 0] - centre).abs().lt(1.0).float().mean()) > 0.9, label
    assert model.sample(7).shape == (7, 2)  # uniform labels


@pytest.mark.parametrize(
    "labels, error, match",
    [(torch.zeros(4), TypeError, "labels must be an integer tensor"),
     ([0, 1, 0, 1], TypeError, "labels must be an integer tensor"),
     (torch.zeros(4, 1, dtype=torch.long), ValueError, r"labels must have shape \(4,\)"),
     (torch.zeros(3, dtype=torch.long), ValueError, r"labels must have shape \(4,\)"),
     (torch.tensor([0, 1, 2, 1]), ValueError, r"labels must lie in \[0, 2\) \(classes=2\), got values in \[0, 2\]"),
     (torch.tensor([0, -1, 0, 1]), ValueError, r"must lie in \[0, 2\)")],
)
def test_bad_labels(labels, error, match):
    model = toy_model()
    with pytest.raises(error, match=match):
        model.sample(4, labels)
    with pytest.raises(error, match=match):
        model.generate(torch.zeros(4, 2), labels)


def test_bad_batches_and_construction():
    model = toy_model()
    with pytest.raises(TypeError, match=r"trains on \(x, y\) batches"):
        model.discriminator_loss(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        model.discriminator_loss((torch.zeros(4, 2), torch.zeros(3, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"discriminator_body must output \(N, features\) = \(N, 5\)"):
        ConditionalGAN(nn.Linear(4, 2), nn.Linear(2, 8), 2, 2, 5).discriminate(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="classes must be > 0"):
        toy_model(classes=0)
    with pytest.raises(ValueError, match="unknown loss"):
        toy_model(loss="wasserstein")
    with pytest.raises(TypeError, match="discriminator_body must be a torch.nn.Module"):
        ConditionalGAN(nn.Linear(4, 2), "body", 2, 2, 5)
