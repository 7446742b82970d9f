"""WAE (Tolstikhin et al. 2018): the IMQ MMD penalty, WAE-MMD and WAE-GAN."""
import math

import pytest
import torch
from torch import nn

import igmlib as igm
from conftest import fit_and_check_every_parameter_changes
from igmlib.divergences import inverse_multiquadratic_kernel, unbiased_mmd2
from igmlib.models import WAE


def imq_mmd2_by_hand(x, y, cs):
    def k(a, b):
        return sum(c / (c + ((a - b) ** 2).sum()) for c in cs)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def imq_mmd2(x, y, scales):
    def k(a, b):
        return inverse_multiquadratic_kernel(a, b, scales)

    return unbiased_mmd2(k(x, x), k(y, y), k(x, y))


def test_imq_mmd2_by_hand():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64) + 1
    torch.testing.assert_close(imq_mmd2(x, y, (6.0,)), imq_mmd2_by_hand(x, y, [6.0]))
    torch.testing.assert_close(imq_mmd2(x, y, (1.0, 6.0)), imq_mmd2_by_hand(x, y, [1.0, 6.0]))


def test_mmd_penalty_is_zero_mean_for_codes_from_the_prior():
    torch.manual_seed(0)
    model = WAE(nn.Linear(4, 8), nn.Linear(8, 4), 8)
    values = torch.stack([model.mmd_penalty(torch.randn(32, 8)) for _ in range(2000)])
    mean, se = float(values.mean()), float(values.std()) / math.sqrt(len(values))
    assert abs(mean) < 4 * se
    shifted = torch.stack([model.mmd_penalty(torch.randn(32, 8) + 0.5) for _ in range(200)])
    assert float(shifted.mean()) > 20 * se


def test_autoencoder_loss_by_hand_for_both_penalties():
    torch.manual_seed(0)
    x = torch.randn(6, 4, dtype=torch.float64)
    model = WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2).double()
    torch.manual_seed(1)
    out = model.autoencoder_loss(x)
    torch.manual_seed(1)
    z = model.encoder(x)
    rec = ((x - model.generator(z)) ** 2).sum(1).mean()
    mmd = imq_mmd2_by_hand(z, torch.randn(6, 2, dtype=torch.float64), [s * 4.0 for s in igm.models.wae.IMQ_SCALES])
    torch.testing.assert_close(out["reconstruction"], rec.detach())
    torch.testing.assert_close(out["mmd2"], mmd.detach())
    torch.testing.assert_close(out["loss"], rec + 10.0 * mmd)

    gan = WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2, penalty="gan", discriminator=nn.Linear(2, 1)).double()
    z = gan.encoder(x)
    logits = gan.discriminator(z)
    out = gan.autoencoder_loss(x)
    torch.testing.assert_close(out["loss"], ((x - gan.generator(z)) ** 2).sum(1).mean() - torch.log(torch.sigmoid(logits)).mean())
    torch.manual_seed(2)
    d_out = gan.discriminator_loss(x)
    torch.manual_seed(2)
    prior = gan.discriminator(torch.randn(6, 2, dtype=torch.float64))
    expected = -torch.log(torch.sigmoid(prior)).mean() - torch.log(1 - torch.sigmoid(logits)).mean()
    torch.testing.assert_close(d_out["loss"], expected)


def digits_wae(penalty="mmd", latent_dim=8):
    encoder = nn.Sequential(nn.Flatten(), igm.nets.MLP(64, latent_dim, (64,)))
    decoder = nn.Sequential(igm.nets.MLP(latent_dim, 64, (64,)), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    disc = igm.nets.MLP(latent_dim, 1, (32,)) if penalty == "gan" else None
    return WAE(encoder, decoder, latent_dim, penalty=penalty, discriminator=disc)


@pytest.mark.parametrize("penalty", ["mmd", "gan"])
def test_a_few_steps_change_every_parameter(penalty):
    torch.manual_seed(0)
    keys = ("autoencoder", "reconstruction") + (("discriminator", "D(z)") if penalty == "gan" else ("mmd2",))
    fit_and_check_every_parameter_changes(digits_wae(penalty), igm.data.digits("train").x[:256], keys=keys)


def test_training_lowers_reconstruction_and_keeps_codes_near_the_prior():
    torch.manual_seed(0)
    model = digits_wae()
    x = igm.data.digits("train").x
    history = igm.fit(model, x, steps=300, batch_size=64, seed=0, progress=False)
    assert sum(history["reconstruction"][-20:]) / 20 < 0.5 * history["reconstruction"][0]
    with torch.no_grad():
        codes = model.encode(x[:500])
    assert float(codes.mean(0).abs().max()) < 0.5 and 0.5 < float(codes.std(0).mean()) < 1.5
    s = model.sample(5)
    assert s.shape == (5, 1, 8, 8) and not s.requires_grad
    assert model.decoder is model.generator
    assert model.reconstruct(x[:3]).shape == (3, 1, 8, 8)


def test_bad_arguments():
    with pytest.raises(ValueError, match="penalty='gan' needs a latent discriminator"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2, penalty="gan")
    with pytest.raises(ValueError, match="pass discriminator= only with penalty='gan'"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2, discriminator=nn.Linear(2, 1))
    with pytest.raises(ValueError, match="unknown penalty"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2, penalty="kl")
    with pytest.raises(ValueError, match="penalty_weight must be >= 0"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2, penalty_weight=-1.0)
    with pytest.raises(ValueError, match=r"the encoder must output codes \(N, latent_dim\) = \(3, 2\)"):
        WAE(nn.Linear(4, 3), nn.Linear(2, 4), 2).encode(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="the decoder outputs 5 numbers per code but a data point has 4"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 5), 2).autoencoder_loss(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        WAE(nn.Linear(4, 2), nn.Linear(2, 4), 2).mmd_penalty(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="scales must be > 0"):
        inverse_multiquadratic_kernel(torch.zeros(2, 2), torch.zeros(2, 2), (1.0, -1.0))
