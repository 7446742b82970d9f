"""ALI / BiGAN: pairs seen by the discriminator, encoders, training steps, bad input."""
import pytest
import torch
from torch import nn

import igmlib as igm
from igmlib.models import ALI, PairDiscriminator
from igmlib.nets import MLP, ConvDiscriminator, ConvGenerator


class Spy(nn.Module):
    """Wraps a discriminator and records the shapes of every input it receives."""

    def __init__(self, net, takes_pairs=False):
        super().__init__()
        self.net, self.takes_pairs, self.seen = net, takes_pairs, []

    def forward(self, *inputs):
        self.seen.append(tuple(tuple(t.shape) for t in inputs))
        return self.net(*inputs)


def flat_ali(stochastic=True, d=2, k=3, seed=0, spy=False):
    torch.manual_seed(seed)
    disc = MLP(d + k, 1, hidden=(16,))
    return ALI(MLP(k, d, hidden=(16,)), MLP(d, 2 * k if stochastic else k, hidden=(16,)),
               Spy(disc) if spy else disc, latent_dim=k, stochastic=stochastic, lr=1e-3)


def image_ali(stochastic=True, k=4, seed=0, spy=False):
    torch.manual_seed(seed)
    disc = PairDiscriminator(ConvDiscriminator(8, width=8, out_features=16), MLP(k, 16, hidden=(16,)),
                             MLP(32, 1, hidden=(16,)), latent_dim=k)
    return ALI(ConvGenerator(k, 8, width=8), ConvDiscriminator(8, width=8, out_features=2 * k if stochastic else k),
               Spy(disc, takes_pairs=True) if spy else disc, latent_dim=k, stochastic=stochastic, lr=1e-3)


# ------------------------------------------------------------------ pairs

def test_flat_discriminator_sees_concatenated_pairs_of_matching_shapes():
    model = flat_ali(spy=True)
    model.discriminator_loss(torch.randn(10, 2))
    model.generator_encoder_loss(torch.randn(10, 2))
    # two calls per step (encoder pairs, generator pairs), each on cat[x, z] of shape (10, 2 + 3)
    assert model.discriminator.seen == [((10, 5),)] * 4


def test_pair_discriminator_sees_x_and_z_with_the_same_batch():
    model = image_ali(spy=True)
    model.discriminator_loss(igm.data.digits("train").x[:6])
    assert model.discriminator.seen == [((6, 1, 8, 8), (6, 4))] * 2
    assert model.discriminate(torch.randn(5, 1, 8, 8), torch.randn(5, 4)).shape == (5, 1)


@pytest.mark.parametrize(
    "x, z, match",
    [
        (torch.randn(5, 2), torch.randn(4, 3), r"same number of pairs, got x \(5, 2\) and z \(4, 3\)"),
        (torch.randn(5, 2), torch.randn(5, 2), r"z must have shape \(N, 3\), got \(5, 2\)"),
        (torch.randn(5, 2), torch.randn(5), r"z must be 2-D"),
        (torch.randn(5), torch.randn(5, 3), r"x must have shape \(N, \.\.\.\)"),
        (torch.randn(5, 1, 2, 1), torch.randn(5, 3), r"cannot be concatenated with z: for images use a pair"),
    ],
)
def test_discriminate_rejects_mismatched_pairs(x, z, match):
    with pytest.raises(ValueError, match=match):
        flat_ali().discriminate(x, z)


def test_pair_discriminator_rejects_mismatched_pairs_when_called_directly():
    disc = image_ali().discriminator
    with pytest.raises(ValueError, match=r"same number of pairs"):
        disc(torch.randn(3, 1, 8, 8), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 4\)"):
        disc(torch.randn(3, 1, 8, 8), torch.randn(3, 5))


def test_encoder_with_the_wrong_output_size_is_rejected():
    model = ALI(MLP(3, 2), MLP(2, 3), MLP(5, 1), latent_dim=3)  # stochastic needs 2 * 3 outputs
    with pytest.raises(ValueError, match=r"encoder must output \(N, 2 \* latent_dim\) = \(N, 6\).*got \(4, 3\)"):
        model.encode(torch.randn(4, 2))
    bigan = ALI(MLP(3, 2), MLP(2, 6), MLP(5, 1), latent_dim=3, stochastic=False)
    with pytest.raises(ValueError, match=r"encoder must output \(N, latent_dim\) = \(N, 3\)"):
        bigan.encode(torch.randn(4, 2))


@pytest.mark.parametrize("bad", ["encoder", "discriminator"])
def test_non_modules_are_rejected(bad):
    nets = {"generator": MLP(3, 2), "encoder": MLP(2, 6), "discriminator": MLP(5, 1)}
    nets[bad] = lambda x: x
    with pytest.raises(TypeError, match=f"{bad} must be a torch.nn.Module"):
        ALI(**nets, latent_dim=3)


# ------------------------------------------------------------------ encoders

def test_stochastic_encoder_samples_vary_and_centre_on_the_mean():
    model = flat_ali(stochastic=True)
    x = torch.randn(1, 2).expand(4000, 2)
    z = model.encode(x)
    mean, log_std = (t.detach() for t in model.encoder_params(x[:1]))
    assert z.shape == (4000, 3) and not z.requires_grad
    assert z.std(0).min() > 0
    # the draws follow N(mean, exp(log_std)^2): sample mean and std within 5 standard errors
    torch.testing.assert_close(z.mean(0), mean[0], atol=float(5 * log_std.exp().max() / 4000**0.5), rtol=0)
    torch.testing.assert_close(z.std(0), log_std[0].exp(), rtol=0.06, atol=0)
    torch.testing.assert_close(model.encode(x[:5], mean=True), mean.expand(5, 3))


def test_deterministic_encoder_is_a_function():
    model = flat_ali(stochastic=False)
    x = torch.randn(7, 2)
    torch.testing.assert_close(model.encode(x), model.encode(x))
    torch.testing.assert_close(model.encode(x), model.encoder(x).detach())
    assert model.encoder_params(x)[1] is None
    assert model.reconstruct(x).shape == (7, 2)


def test_rencode_is_differentiable_and_reconstruct_has_image_shape():
    model = image_ali()
    x = igm.data.digits("train").x[:8]
    z = model.rencode(x)
    assert z.shape == (8, 4) and z.requires_grad
    z.sum().backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, 1, 8, 8)


# ------------------------------------------------------------------ training

@pytest.mark.parametrize("stochastic", [True, False], ids=["ALI", "BiGAN"])
@pytest.mark.parametrize("kind", ["flat", "image"])
def test_a_few_steps_change_every_player_and_keep_losses_finite(kind, stochastic):
    if kind == "flat":
        model, data = flat_ali(stochastic=stochastic), igm.data.grid()
    else:
        model, data = image_ali(stochastic=stochastic), igm.data.digits("train")  # (x, y) batches
    before = {name: [p.detach().clone() for p in m.parameters()]
              for name, m in [("generator", model.generator), ("encoder", model.encoder),
                              ("discriminator", model.discriminator)]}
    history = igm.fit(model, data, steps=3, batch_size=16, seed=0)
    assert set(history) == {"discriminator", "generator_encoder", "D(x,E(x))", "D(G(z),z)"}
    assert all(len(v) == 3 and all(torch.isfinite(torch.tensor(v))) for v in history.values())
    for name, params in before.items():
        after = getattr(model, name).parameters()
        assert any(not torch.equal(a, b) for a, b in zip(params, after)), f"{name} did not change"


def test_players_and_their_modules():
    model = flat_ali()
    players = {p.name: p for p in model.players()}
    assert list(players) == ["discriminator", "generator_encoder"]
    ids = {id(p) for p in players["generator_encoder"].parameters()}
    assert ids == {id(p) for p in [*model.generator.parameters(), *model.encoder.parameters()]}
    assert {id(p) for p in players["discriminator"].parameters()} == {id(p) for p in model.discriminator.parameters()}


def test_losses_at_an_indifferent_discriminator_are_log_4():
    # a discriminator that outputs logit 0 everywhere: both players' losses are 2 log 2 nats
    class Zero(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, xz):
            return self.w * xz[:, :1] * 0

    model = ALI(MLP(3, 2), MLP(2, 6), Zero(), latent_dim=3)
    log4 = torch.log(torch.tensor(4.0))
    torch.testing.assert_close(model.discriminator_loss(torch.randn(9, 2))["loss"], log4)
    torch.testing.assert_close(model.generator_encoder_loss(torch.randn(9, 2)), log4)


def test_bigan_learns_to_invert_on_a_line():
    # data on a line in 2-D, a 1-D latent: after training, G(E(x)) stays close to x (BiGAN Theorem 2)
    torch.manual_seed(0)
    direction = torch.tensor([[0.6, 0.8]])
    data = lambda n: torch.randn(n, 1) * direction
    model = ALI(MLP(1, 2, hidden=(32,)), MLP(2, 1, hidden=(32,)), MLP(3, 1, hidden=(32, 32)),
                latent_dim=1, stochastic=False, lr=1e-3)
    x = data(1000)
    before = float((model.reconstruct(x) - x).norm(dim=1).mean())
    igm.fit(model, data, steps=600, batch_size=128, seed=0)
    after = float((model.reconstruct(x) - x).norm(dim=1).mean())
    assert before > 0.5  # the data's mean norm is 0.8
    assert after < 0.3 * before  # measured: 0.84 -> 0.11 (other seeds 0.14-0.37 of the start)


def test_two_time_scale_learning_rates():
    torch.manual_seed(0)
    model = ALI(MLP(3, 2), MLP(2, 6), MLP(5, 1), 3, lr=1e-4, lr_discriminator=4e-4)
    lrs = {p.name: p.optimizer(p.parameters()).defaults["lr"] for p in model.players()}
    assert lrs == {"discriminator": 4e-4, "generator_encoder": 1e-4}
    assert ALI(MLP(3, 2), MLP(2, 6), MLP(5, 1), 3, lr_generator_encoder=1e-5).lr_generator_encoder == 1e-5
    with pytest.raises(ValueError, match="lr_generator_encoder must be > 0"):
        ALI(MLP(3, 2), MLP(2, 6), MLP(5, 1), 3, lr_generator_encoder=-1.0)
