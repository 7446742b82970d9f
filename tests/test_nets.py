"""Networks: shapes at several image sizes, output ranges, and bad input."""
import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.nets import ACTIVATIONS, MLP, ConvDiscriminator, ConvGenerator


@pytest.mark.parametrize("hidden", [(), (16,), (8, 8, 8)])
def test_mlp_shapes_and_layers(hidden):
    net = MLP(3, 5, hidden=hidden)
    assert net(torch.randn(7, 3)).shape == (7, 5)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [m.in_features for m in linears] == [3, *hidden]
    assert [m.out_features for m in linears] == [*hidden, 5]
    assert (net.in_features, net.out_features) == (3, 5)


def test_mlp_out_activation_and_batch_norm():
    net = MLP(2, 4, hidden=(8, 8), activation="leaky_relu", out_activation="tanh", batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net) == 2
    assert isinstance(net[-1], nn.Tanh)
    y = net(10 * torch.randn(32, 2))
    assert bool((y.abs() <= 1).all())
    # default: logits, no output activation
    assert isinstance(MLP(2, 1)[-1], nn.Linear)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_builds(name):
    assert MLP(2, 1, hidden=(4,), activation=name)(torch.randn(3, 2)).shape == (3, 1)


@pytest.mark.parametrize("image_size", [8, 28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_shapes(image_size, channels):
    g = ConvGenerator(latent_dim=6, image_size=image_size, channels=channels, width=8)
    d = ConvDiscriminator(image_size=image_size, channels=channels, width=8, out_features=3)
    x = g(torch.randn(4, 6))
    assert x.shape == (4, channels, image_size, image_size)
    assert d(x).shape == (4, 3)
    assert ConvDiscriminator(image_size, channels, width=8)(x).shape == (4, 1)


def test_generator_output_in_unit_range():
    torch.manual_seed(0)
    g = ConvGenerator(latent_dim=4, image_size=8, width=8)
    with torch.no_grad():
        x = g(100 * torch.randn(64, 4))  # large latents saturate tanh, never exceed it
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert float(x.abs().max()) > 0.99


def test_conv_nets_are_differentiable():
    g, d = ConvGenerator(3, 8, width=4), ConvDiscriminator(8, width=4)
    z = torch.randn(2, 3, requires_grad=True)
    d(g(z)).sum().backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)
    assert all(p.grad is not None for p in g.parameters())


@pytest.mark.parametrize(
    "shape, match",
    [
        ((4, 1, 7, 8), r"x must have shape \(N, 1, 8, 8\), got \(4, 1, 7, 8\)"),
        ((4, 3, 8, 8), r"x must have shape \(N, 1, 8, 8\), got \(4, 3, 8, 8\)"),
        ((4, 64), r"x must have shape \(N, 1, 8, 8\), got \(4, 64\)"),
    ],
)
def test_discriminator_rejects_wrong_shape(shape, match):
    with pytest.raises(ValueError, match=match):
        ConvDiscriminator(8, width=4)(torch.zeros(shape))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ConvGenerator(4, image_size=30), ValueError, r"image_size must be divisible by 4 \(e.g. 8, 28, 32\), got 30"),
        (lambda: ConvDiscriminator(image_size=10), ValueError, r"image_size must be divisible by 4 .*got 10"),
        (lambda: ConvGenerator(4, image_size=0), ValueError, r"image_size must be > 0"),
        (lambda: ConvGenerator(0), ValueError, r"latent_dim must be > 0"),
        (lambda: ConvDiscriminator(8, out_features=0), ValueError, r"out_features must be > 0"),
        (lambda: MLP(2, 1, activation="gelu"), ValueError,
         r"unknown activation 'gelu'; choose one of: elu, identity, leaky_relu, relu, sigmoid, softplus, tanh"),
        (lambda: MLP(2, 1, out_activation="softmax"), ValueError, r"unknown activation 'softmax'; choose one of: elu"),
        (lambda: MLP(0, 1), ValueError, r"in_features must be > 0"),
        (lambda: MLP(2, 1, hidden=(8, 0)), ValueError, r"hidden width must be > 0"),
        (lambda: MLP(2, 1.5), TypeError, r"out_features must be an int"),
    ],
)
def test_nets_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_nets_exported():
    assert igm.nets.MLP is MLP and igm.nets.ConvGenerator is ConvGenerator


def _normalised_layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@pytest.mark.parametrize("make, x", [
    (lambda: MLP(2, 1, hidden=(32, 32), spectral_norm=True), torch.randn(64, 2)),
    (lambda: ConvDiscriminator(8, width=8, spectral_norm=True), torch.randn(16, 1, 8, 8)),
])
def test_spectral_norm_makes_each_layer_1_lipschitz(make, x):
    # Miyato et al. 2018: W / sigma(W), sigma from one power iteration per forward pass in train mode
    torch.manual_seed(0)
    net = make()
    layers = _normalised_layers(net)
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    with torch.no_grad():
        for m in layers:
            m.parametrizations.weight.original.mul_(5.0)  # far from 1-Lipschitz
    raw = [torch.linalg.matrix_norm(m.parametrizations.weight.original.detach().reshape(len(m.weight), -1), ord=2)
           for m in layers]
    assert min(float(s) for s in raw) > 1.5  # the unnormalised weights are not 1-Lipschitz
    net.train()
    for _ in range(50):  # power iterations: u converges to the top singular vector
        net(x)
    net.eval()  # reading the weight in eval mode does not iterate again
    with torch.no_grad():
        sigmas = [float(torch.linalg.matrix_norm(m.weight.reshape(len(m.weight), -1), ord=2)) for m in layers]
    assert all(abs(s - 1) < 0.05 for s in sigmas), sigmas


def test_spectral_norm_keeps_conv_discriminator_free_of_normalisation_and_trains():
    net = ConvDiscriminator(8, width=4, spectral_norm=True)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.LayerNorm)) for m in net.modules())
    assert len(_normalised_layers(net)) == 3  # two convolutions and the head
    # the power-iteration vectors are buffers: part of the state dict (exact resume)
    assert any(k.endswith("parametrizations.weight.original") for k in net.state_dict())
    assert any(k.endswith("_u") for k in net.state_dict())
    model = igm.models.GAN(ConvGenerator(4, 8, width=4), net, 4, loss="hinge")
    history = igm.fit(model, torch.rand(32, 1, 8, 8) * 2 - 1, steps=3, batch_size=8, seed=0)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())


def test_spectral_normalise_rejects_a_non_module():
    with pytest.raises(TypeError, match="module must be a torch.nn.Module, got int"):
        igm.nets.spectral_normalise(3)
