"""Training speed and peak memory of igmlib's ``fit`` next to a plain hand-written PyTorch loop.

For every model of the book at its chapter's size, the same networks (same initial weights), losses,
optimiser settings and batch size are trained (a) by ``igm.fit`` and (b) by a plain loop in the style
of pytorch/examples' dcgan: default ``torch.optim.Adam``, ``zero_grad()``, a second generator forward
for the generator step, the other player's gradients computed and discarded, ``.item()`` logging
every step. The two runs alternate (``--repeats`` times) so that load changes hit both alike; the
table reports the medians and the ratio ``igmlib / plain`` of steps per second (> 1: fit is faster).

Peak memory (``--memory``, a separate 20-step run): the peak of the tensor memory allocated from
the model's creation to the last step: ``torch.cuda.max_memory_allocated`` on CUDA, the running sum
of the allocations ``torch.profiler`` records on CPU, at the resolution of single ops (see
``memory_probe``).

Usage:
    python benchmarks/speed.py [--device cpu|cuda|mps] [--steps 200] [--repeats 5]
                               [--models gan_ring,dcgan_digits] [--memory] [--csv out.csv]

Adding a model: write ``build()`` (returns ``(model, data, batch_size)``) and a plain step factory
``plain(model, data, batch_size, steps) -> step()`` (one iteration, returning the logged floats), and
register both with one ``CASES`` entry.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import igmlib as igm
from igmlib.divergences import mmd2
from igmlib.models.moment_matching import STATISTICS


@dataclass(frozen=True)
class Case:
    """One benchmark entry: a model at a chapter's size and its plain-loop twin."""

    description: str  # networks, data, batch
    build: Callable[[torch.device], tuple[nn.Module, object, int]]  # -> (model, data, batch_size)
    plain: Callable[[nn.Module, object, int, int], Callable[[], list[float]]]  # -> one plain training step


# ---------------------------------------------------------------- plain loops (pytorch/examples style)


def plain_sampler(data, batch: int, device: torch.device):
    """Draw a minibatch as a plain loop would: from the distribution, a random subset of a tensor, or a sampler."""
    if isinstance(data, torch.distributions.Distribution):
        return lambda: data.sample((batch,)).to(device)
    if callable(data) and not isinstance(data, torch.Tensor):  # a sampler n -> (x, y), e.g. unpaired domains
        return lambda: tuple(t.to(device) for t in data(batch))
    x = data.to(device)
    return lambda: x[torch.randperm(len(x))[:batch].to(device)]


def device_of(model) -> torch.device:
    return next(model.parameters()).device


def adam(modules, lr, betas):
    """The default (for-loop) Adam over the parameters of ``modules``, as a plain loop builds it."""
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=lr, betas=betas)


def bce(logits, label: float):
    """Binary cross-entropy of logits against a constant label (``nn.BCEWithLogitsLoss``)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def plain_gan(model, data, batch, steps):
    netG, netD, nz = model.generator, model.discriminator, model.latent_dim
    p = next(model.parameters())
    draw = plain_sampler(data, batch, p.device)
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=model.lr, betas=model.betas)
    optG = torch.optim.Adam(netG.parameters(), lr=model.lr, betas=model.betas)

    def step():
        # (1) Update D: maximize log D(x) + log(1 - D(G(z)))
        netD.zero_grad()
        real = draw().requires_grad_(model.penalty == "r1")
        output = netD(real)
        errD_real = criterion(output, torch.ones_like(output))
        if model.penalty == "r1":  # as Mescheder et al.'s code: + gamma/2 E ||grad_x D(x)||^2 on the data
            errD_real.backward(retain_graph=True)
            grad, = torch.autograd.grad(output.sum(), real, create_graph=True)
            reg = 0.5 * model.penalty_weight * grad.pow(2).flatten(1).sum(1).mean()
            reg.backward()
            errD_real = errD_real + reg.detach()  # logged with the penalty, as fit logs D's loss
        else:
            errD_real.backward()
        D_x = torch.sigmoid(output).mean().item()
        fake = netG(torch.randn(batch, nz, device=p.device))
        output = netD(fake.detach())
        errD_fake = criterion(output, torch.zeros_like(output))
        errD_fake.backward()
        D_G_z1 = torch.sigmoid(output).mean().item()
        errD = errD_real + errD_fake
        optD.step()
        # (2) Update G: maximize log D(G(z)) (a second generator forward on fresh latents)
        netG.zero_grad()
        output = netD(netG(torch.randn(batch, nz, device=p.device)))
        errG = criterion(output, torch.ones_like(output))
        errG.backward()  # also fills netD's gradients, discarded by the next netD.zero_grad()
        optG.step()
        return [errD.item(), errG.item(), D_x, D_G_z1]

    return step


def plain_moments(model, data, batch, steps):
    netG, p = model.generator, next(model.parameters())
    draw = plain_sampler(data, batch, p.device)
    stats = [STATISTICS[name] for name in model.names]
    opt = torch.optim.Adam(netG.parameters(), lr=model.lr, betas=model.betas)

    def step():
        # Update G: minimise sum_s || s(G(z)) - s(x) ||^2
        opt.zero_grad()
        x = draw().reshape(batch, -1)
        fake = netG(torch.randn(batch, model.latent_dim, device=p.device)).reshape(batch, -1)
        errors = [((s(fake) - s(x)) ** 2).sum() for s in stats]
        loss = sum(errors)
        loss.backward()
        opt.step()
        return [loss.item(), *(e.item() for e in errors)]

    return step


def plain_gmmn(model, data, batch, steps):
    netG, p = model.generator, next(model.parameters())
    draw = plain_sampler(data, batch, p.device)
    opt = torch.optim.Adam(netG.parameters(), lr=model.lr, betas=model.betas)

    def step():
        # Update G: minimise sqrt(MMD^2(G(z), x))
        opt.zero_grad()
        x = draw().reshape(batch, -1)
        fake = netG(torch.randn(batch, model.latent_dim, device=p.device)).reshape(batch, -1)
        m2 = mmd2(fake, x, bandwidth=model.bandwidths, unbiased=model.unbiased)
        loss = m2.clamp_min(1e-12).sqrt()
        loss.backward()
        opt.step()
        return [loss.item(), m2.item()]

    return step


def plain_density_network(model, data, batch, steps):
    p = next(model.parameters())
    draw = plain_sampler(data, batch, p.device)
    opt = torch.optim.Adam(model.parameters(), lr=model.lr, betas=model.betas)

    def step():
        # Update the network: maximise the Monte Carlo log-likelihood
        opt.zero_grad()
        ll = model.log_likelihood(draw(), model.samples)
        loss = -ll.mean()
        loss.backward()
        opt.step()
        return [loss.item(), ll.mean().item()]

    return step


def plain_wgan(model, data, batch, steps):
    # in the style of the WGAN and WGAN-GP reference code: requires_grad toggled by hand, separate
    # critic forwards on real, fake and interpolated batches, .item() logging every step
    netG, netD, nz = model.generator, model.critic, model.latent_dim
    p = next(model.parameters())
    draw = plain_sampler(data, batch, p.device)
    if model.constraint == "clip":
        optD = torch.optim.RMSprop(netD.parameters(), lr=model.lr)
        optG = torch.optim.RMSprop(netG.parameters(), lr=model.lr)
    else:
        optD = torch.optim.Adam(netD.parameters(), lr=model.lr, betas=model.betas)
        optG = torch.optim.Adam(netG.parameters(), lr=model.lr, betas=model.betas)

    def step():
        # (1) Update the critic n_critic times: maximise E f(x) - E f(G(z)) (- lambda GP)
        for q in netD.parameters():
            q.requires_grad = True
        for _ in range(model.n_critic):
            netD.zero_grad()
            real = draw()
            fake = netG(torch.randn(batch, nz, device=p.device)).detach()
            d_real, d_fake = netD(real).mean(), netD(fake).mean()
            loss = d_fake - d_real
            eps = torch.rand(batch, *([1] * (real.dim() - 1)), device=p.device)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(netD(x_hat).sum(), x_hat, create_graph=model.constraint == "gp")
            norms = grad.flatten(1).norm(2, dim=1)
            if model.constraint == "gp":
                loss = loss + model.gp_weight * ((norms - 1) ** 2).mean()
            loss.backward()
            optD.step()
            if model.constraint == "clip":
                for q in netD.parameters():
                    q.data.clamp_(-model.clip, model.clip)
            w, gnorm = (d_real - d_fake).item(), norms.mean().item()
        # (2) Update G: minimise -E f(G(z))
        for q in netD.parameters():
            q.requires_grad = False
        netG.zero_grad()
        errG = -netD(netG(torch.randn(batch, nz, device=p.device))).mean()
        errG.backward()
        optG.step()
        return [loss.item(), errG.item(), w, gnorm]

    return step


def plain_fgan(model, data, batch, steps):
    netG, netV, nz, div = model.generator, model.critic, model.latent_dim, model.divergence
    dev = device_of(model)
    draw = plain_sampler(data, batch, dev)
    optD, optG = adam([netV], model.lr, model.betas), adam([netG], model.lr, model.betas)

    def step():
        # (1) Update the critic: maximise F = E_P g_f(V(x)) - E_Q f*(g_f(V(G(z))))
        #     (KL: g_f(v) = v, f*(g_f(v)) = exp(v - 1))
        netV.zero_grad()
        real = draw()
        fake = netG(torch.randn(batch, nz, device=dev))
        bound = div.activation(netV(real)).mean() - div.conjugate_of_activation(netV(fake.detach())).mean()
        (-bound).backward()
        optD.step()
        # (2) Update G: minimise -E f*(g_f(V(G(z)))) (a second generator forward)
        netG.zero_grad()
        errG = -div.conjugate_of_activation(netV(netG(torch.randn(batch, nz, device=dev)))).mean()
        errG.backward()  # also fills netV's gradients, discarded by the next netV.zero_grad()
        optG.step()
        return [-bound.item(), bound.item(), errG.item()]

    return step


def plain_infogan(model, data, batch, steps):
    # as the common PyTorch InfoGAN code: codes drawn by hand, Q's cross-entropy and Gaussian
    # log-density written out; lambda = 1, so G and Q share the information term unscaled
    netG, body, d_head, q_head = model.generator, model.body, model.d_head, model.q_head
    k, l, dev = model.categorical, model.continuous, device_of(model)
    draw = plain_sampler(data, batch, dev)
    optD = adam([body, d_head], model.lr_discriminator, model.betas)
    optG = adam([netG, q_head], model.lr_generator, model.betas)

    def generate():
        c = torch.randint(k, (batch,), device=dev)
        u = 2 * torch.rand(batch, l, device=dev) - 1
        z = torch.randn(batch, model.latent_dim, device=dev)
        return netG(torch.cat([z, F.one_hot(c, k).float(), u], 1)), c, u

    def information(features, c, u):  # ln K - CE + sum_l E[ln 2 + log N(u_l; mean_l, 1)]
        out = q_head(features)
        log_q = -0.5 * (u - out[:, k:k + l]) ** 2 - 0.5 * math.log(2 * math.pi)
        return math.log(k) - F.cross_entropy(out[:, :k], c) + (math.log(2) + log_q).mean(0).sum()

    def step():
        # (1) Update D (body + D head): real -> 1, fake -> 0, and the body learns the codes too
        optD.zero_grad()
        errD_real = bce(d_head(body(draw())), 1.0)
        fake, c, u = generate()
        features = body(fake.detach())
        errD = errD_real + bce(d_head(features), 0.0) - model.info_weight * information(features, c, u)
        errD.backward()  # also fills Q's gradients, discarded by optG.zero_grad()
        optD.step()
        # (2) Update G and Q: fool D and keep the codes readable
        optG.zero_grad()
        fake, c, u = generate()
        features = body(fake)
        gan = bce(d_head(features), 1.0)
        info = information(features, c, u)
        errG = gan - info
        errG.backward()  # also fills D's gradients, discarded by optD.zero_grad()
        optG.step()
        return [errD.item(), errG.item(), gan.item(), info.item()]

    return step


class ImagePool:
    """The image history of the CycleGAN reference code (junyanz/pytorch-CycleGAN-and-pix2pix), per image."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()) < 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out)


def plain_cyclegan(model, data, batch, steps):
    # in the style of the reference code: MSE / L1 criteria, history pools, LambdaLR decay; the
    # discriminators' fakes are recomputed on their own minibatch (as fit gives each player one)
    G, F_, D_X, D_Y = model.generator_xy, model.generator_yx, model.discriminator_x, model.discriminator_y
    draw = plain_sampler(data, batch, device_of(model))
    optG, optD = adam([G, F_], model.lr, model.betas), adam([D_X, D_Y], model.lr, model.betas)
    flat = int(model.decay_start * steps)
    decay = lambda t: 1.0 if t < flat else max(0.0, (steps - t) / max(steps - flat, 1))
    schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (optG, optD)]
    pool_x, pool_y = ImagePool(model.history_x.capacity), ImagePool(model.history_y.capacity)
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def step():
        # (1) Update G and F with D_X, D_Y frozen (requires_grad toggled by hand, as the reference)
        x, y = draw()
        for q in [*D_X.parameters(), *D_Y.parameters()]:
            q.requires_grad = False
        optG.zero_grad()
        fake_y, fake_x = G(x), F_(y)
        out_y, out_x = D_Y(fake_y), D_X(fake_x)
        adversarial = mse(out_y, torch.ones_like(out_y)) + mse(out_x, torch.ones_like(out_x))
        cycle = l1(F_(fake_y), x) + l1(G(fake_x), y)
        errG = adversarial + model.cycle_weight * cycle
        errG.backward()
        optG.step()
        # (2) Update D_X and D_Y: real -> 1, fakes from the pools -> 0
        for q in [*D_X.parameters(), *D_Y.parameters()]:
            q.requires_grad = True
        optD.zero_grad()
        x, y = draw()
        fake_y, fake_x = pool_y.query(G(x)), pool_x.query(F_(y))
        errD = 0.0
        for D, real, fake in ((D_Y, y, fake_y), (D_X, x, fake_x)):
            out_real, out_fake = D(real), D(fake.detach())
            loss = 0.5 * (mse(out_real, torch.ones_like(out_real)) + mse(out_fake, torch.zeros_like(out_fake)))
            loss.backward()
            errD = errD + loss.item()
        optD.step()
        for scheduler in schedulers:
            scheduler.step()
        return [errG.item(), adversarial.item(), cycle.item(), errD]

    return step


def plain_ali(model, data, batch, steps):
    # pairs concatenated as [x, z]; the encoder's Gaussian sample written out; BCE with labels
    netG, netE, netD, k, dev = model.generator, model.encoder, model.discriminator, model.latent_dim, device_of(model)
    draw = plain_sampler(data, batch, dev)
    optD, optGE = adam([netD], model.lr, model.betas), adam([netG, netE], model.lr, model.betas)

    def pairs():
        x, z = draw(), torch.randn(batch, k, device=dev)
        out = netE(x)
        z_hat = out[:, :k] + out[:, k:].exp() * torch.randn(batch, k, device=dev)
        return x, z_hat, netG(z), z

    def step():
        # (1) Update D: encoder pairs (x, E(x)) -> 1, generator pairs (G(z), z) -> 0
        optD.zero_grad()
        x, z_hat, x_tilde, z = pairs()
        errD = bce(netD(torch.cat([x, z_hat.detach()], 1)), 1.0) + bce(netD(torch.cat([x_tilde.detach(), z], 1)), 0.0)
        errD.backward()
        optD.step()
        # (2) Update G and E with swapped labels (second encoder and generator forward on a fresh batch)
        optGE.zero_grad()
        x, z_hat, x_tilde, z = pairs()
        errGE = bce(netD(torch.cat([x, z_hat], 1)), 0.0) + bce(netD(torch.cat([x_tilde, z], 1)), 1.0)
        errGE.backward()  # also fills D's gradients, discarded by the next optD.zero_grad()
        optGE.step()
        return [errD.item(), errGE.item()]

    return step


def bernoulli_nll(logits, x):
    """-log p(x | z) per data point from decoder logits and images in [-1, 1] (targets (x + 1) / 2)."""
    return F.binary_cross_entropy_with_logits(logits, (x.flatten(1) + 1) / 2, reduction="none").sum(1)


def plain_vae(model, data, batch, steps):
    # pytorch/examples' vae: reparameterise, BCE + analytic KL (here averaged over the batch, as fit)
    netE, netDec, k = model.encoder, model.decoder, model.latent_dim
    draw = plain_sampler(data, batch, device_of(model))
    opt = adam([model], model.lr, model.betas)

    def step():
        opt.zero_grad()
        x = draw()
        out = netE(x)
        mu, logvar = out[:, :k], out[:, k:]
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        rec = bernoulli_nll(netDec(z), x).mean()
        kld = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        loss = rec + kld
        loss.backward()
        opt.step()
        return [loss.item(), -loss.item(), kld.item(), -rec.item()]

    return step


def plain_avb(model, data, batch, steps):
    # Algorithm 1 of Mescheder et al. with flat images: adversary steps, then encoder + decoder
    netE, netDec, netT, k = model.encoder, model.decoder, model.adversary, model.latent_dim
    dev = device_of(model)
    draw = plain_sampler(data, batch, dev)
    optT = adam([netT], model.lr_adversary, model.betas)
    optM = adam([netE, netDec, model.observation], model.lr, model.betas)

    def encode(x):
        return netE(torch.cat([x, torch.randn(batch, model.noise_dim, device=dev)], 1))

    def step():
        # (1) Update T: posterior pairs (x, z ~ q(z|x)) -> 1, prior pairs (x, z ~ p(z)) -> 0
        for _ in range(model.adversary_updates):
            optT.zero_grad()
            x = draw().flatten(1)
            z_q, z_p = encode(x).detach(), torch.randn(batch, k, device=dev)
            errT = bce(netT(torch.cat([x, z_q], 1)), 1.0) + bce(netT(torch.cat([x, z_p], 1)), 0.0)
            errT.backward()
            optT.step()
        # (2) Update encoder and decoder: minimise E_q[-log p(x|z) + T(x, z)]
        optM.zero_grad()
        x = draw().flatten(1)
        z = encode(x)
        rec = -bernoulli_nll(netDec(z), x)
        elbo = (rec - netT(torch.cat([x, z], 1)).flatten()).mean()
        (-elbo).backward()  # also fills T's gradients, discarded by the next optT.zero_grad()
        optM.step()
        return [errT.item(), -elbo.item(), elbo.item(), rec.mean().item()]

    return step


# ---------------------------------------------------------------- the book's models at their chapters' sizes


def gan_ring(device):  # chapter 04: 8-ring, MLP 2-128-128, lr 5e-4, batch 256
    model = igm.models.GAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2, lr=5e-4)
    return model.to(device), igm.data.ring(), 256


def dcgan_digits(device):  # chapter 04: conv GAN on 8x8 digits, width 32, latent 32, lr 5e-4, batch 64
    model = igm.models.GAN(igm.nets.ConvGenerator(32, image_size=8, width=32),
                           igm.nets.ConvDiscriminator(image_size=8, width=32), latent_dim=32, lr=5e-4)
    return model.to(device), igm.data.digits().x, 64


def moments_ring(device):  # chapter 03: tanh MLP 2-64, mean + covariance, lr 3e-3, batch 512
    model = igm.models.MomentMatching(igm.nets.MLP(2, 2, hidden=(64,), activation="tanh"), latent_dim=2,
                                      statistics=("mean", "covariance"), lr=3e-3)
    return model.to(device), igm.data.ring(), 512


def gmmn_digits(device):  # chapter 03: GMMN on digits, MLP 16-256-256-64 (tanh out), batch 256
    model = igm.models.GMMN(igm.nets.MLP(16, 64, hidden=(256, 256), out_activation="tanh"), latent_dim=16,
                            bandwidths=(2.0, 4.0, 8.0))
    return model.to(device), igm.data.digits().x, 256


def density_network_ring(device):  # chapter 02: MLP 1-128-128-2, S = 128 prior samples, batch 128
    model = igm.models.DensityNetwork(igm.nets.MLP(1, 2, (128, 128)), latent_dim=1, event_shape=(2,),
                                      samples=128, lr=3e-3)
    return model.to(device), igm.data.ring(), 128


def wgan_gp_ring(device):  # WGAN-GP: MLP 2-128-128 critic, n_critic 5, Adam 1e-4 (0, 0.9), batch 256
    model = igm.models.WGAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2, constraint="gp")
    return model.to(device), igm.data.ring(), 256


def wgan_clip_ring(device):  # WGAN with weight clipping: RMSprop 5e-5, clip 0.01, n_critic 5, batch 256
    model = igm.models.WGAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2, constraint="clip")
    return model.to(device), igm.data.ring(), 256


def fgan_ring(device):  # chapter 05: f-GAN (KL), alternating updates, MLP 2-128-128, lr 5e-4, batch 256
    model = igm.models.FGAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2, divergence="kl", lr=5e-4)
    return model.to(device), igm.data.ring(), 256


def gan_r1_grid(device):  # chapter 06: GAN + R1 (gamma 0.1), MLP 2-64-64, 25-grid, lr 1e-3, batch 256
    model = igm.models.GAN(igm.nets.MLP(2, 2, hidden=(64, 64)), igm.nets.MLP(2, 1, hidden=(64, 64)), 2,
                           lr=1e-3, penalty="r1", penalty_weight=0.1)
    return model.to(device), igm.data.grid(), 256


def infogan_digits(device):  # chapter 07: conv width 32, noise 8 + 10 categories + 2 continuous, batch 64
    model = igm.models.InfoGAN(igm.nets.ConvGenerator(8 + 10 + 2, image_size=8, width=32),
                               igm.nets.ConvDiscriminator(image_size=8, width=32, out_features=128), 8,
                               categorical=10, continuous=2)
    return model.to(device), igm.data.digits().x, 64


def cyclegan_digits(device):  # chapter 08: ConvTranslator / ConvDiscriminator width 16, lr 1e-3, batch 32
    model = igm.models.CycleGAN(igm.nets.ConvTranslator(width=16), igm.nets.ConvTranslator(width=16),
                                igm.nets.ConvDiscriminator(8, width=16), igm.nets.ConvDiscriminator(8, width=16),
                                lr=1e-3)
    return model.to(device), igm.data.unpaired_domains(igm.data.digits(), "inverted", seed=0).sampler(), 32


def ali_grid(device):  # chapter 09: ALI, MLPs 2-128-128 (G, E, D on [x, z]), 25-grid, lr 1e-3, batch 256
    model = igm.models.ALI(igm.nets.MLP(2, 2), igm.nets.MLP(2, 4), igm.nets.MLP(4, 1), latent_dim=2, lr=1e-3)
    return model.to(device), igm.data.grid(), 256


def binary_digits():
    return torch.where(igm.data.digits().x > 0, 1.0, -1.0)


def vae_digits(device):  # chapter 11: VAE, MLPs 64-256-256-16 / 8-256-256-64, binarised digits, batch 128
    model = igm.models.VAE(nn.Sequential(nn.Flatten(), igm.nets.MLP(64, 16, (256, 256))),
                           igm.nets.MLP(8, 64, (256, 256)), 8, event_shape=(1, 8, 8))
    return model.to(device), binary_digits(), 128


def avb_digits(device):  # chapter 11: AVB, MLPs 72-256-256-8 / 8-256-256-64 / 72-256-256-1, 2 adversary steps
    model = igm.models.AVB(igm.nets.MLP(72, 8, (256, 256)), igm.nets.MLP(8, 64, (256, 256)),
                           igm.nets.MLP(72, 1, (256, 256), activation="elu"), 8, event_shape=(1, 8, 8),
                           lr=5e-4, lr_adversary=2e-3, adversary_updates=2)
    return model.to(device), binary_digits(), 128


CASES: dict[str, Case] = {
    "gan_ring": Case("GAN, MLP 2-128-128, 8-ring, batch 256", gan_ring, plain_gan),
    "dcgan_digits": Case("GAN, conv width 32, 8x8 digits, batch 64", dcgan_digits, plain_gan),
    "moments_ring": Case("MomentMatching, MLP 2-64 tanh, 8-ring, batch 512", moments_ring, plain_moments),
    "gmmn_digits": Case("GMMN, MLP 16-256-256-64, digits, batch 256", gmmn_digits, plain_gmmn),
    "density_network_ring": Case("DensityNetwork, MLP 1-128-128-2, S=128, 8-ring, batch 128",
                                 density_network_ring, plain_density_network),
    "wgan_gp_ring": Case("WGAN-GP, MLP 2-128-128, n_critic 5, 8-ring, batch 256", wgan_gp_ring, plain_wgan),
    "wgan_clip_ring": Case("WGAN clip, MLP 2-128-128, n_critic 5, 8-ring, batch 256", wgan_clip_ring, plain_wgan),
    "fgan_ring": Case("f-GAN (KL), MLP 2-128-128, 8-ring, batch 256", fgan_ring, plain_fgan),
    "gan_r1_grid": Case("GAN + R1, MLP 2-64-64, 25-grid, batch 256", gan_r1_grid, plain_gan),
    "infogan_digits": Case("InfoGAN, conv width 32, 10 + 2 codes, digits, batch 64", infogan_digits, plain_infogan),
    "cyclegan_digits": Case("CycleGAN, ConvTranslator width 16, digits, batch 32", cyclegan_digits, plain_cyclegan),
    "ali_grid": Case("ALI, MLP 2-128-128, 25-grid, batch 256", ali_grid, plain_ali),
    "vae_digits": Case("VAE, MLP 64-256-256, latent 8, digits, batch 128", vae_digits, plain_vae),
    "avb_digits": Case("AVB, MLP 72-256-256, latent 8, 2 adversary steps, digits, batch 128", avb_digits, plain_avb),
}


# ---------------------------------------------------------------- measurement


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def make_runner(name: str, loop: str, device: torch.device) -> Callable[[int], None]:
    """A function ``run(steps)`` that trains a fresh copy of ``CASES[name]`` (seed 0) with ``loop``."""
    case = CASES[name]

    def run_igm(steps):
        torch.manual_seed(0)
        model, data, batch = case.build(device)
        igm.fit(model, data, steps=steps, batch_size=batch, seed=0, progress=False)

    def run_plain(steps):
        torch.manual_seed(0)
        model, data, batch = case.build(device)
        model.train()
        step = case.plain(model, data, batch, steps)
        history = []
        for _ in range(steps):
            history.append(step())

    return run_igm if loop == "igmlib" else run_plain


def timed(run, steps, device, clock=time.perf_counter) -> float:
    synchronize(device)
    start = clock()
    run(steps)
    synchronize(device)
    return clock() - start


def memory_probe(name: str, loop: str, device: torch.device, steps: int) -> float:
    """Peak memory (MiB) of one training run from set-up (model, optimizer) to the last step.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: the peak of the running sum of torch's tensor
    allocations and frees recorded by ``torch.profiler`` (``profile_memory=True``, each op's net
    allocation counted at its start), about the same quantity as on CUDA; the process's resident set (RSS) would mostly show the interpreter, torch's
    libraries and allocator caching.
    """
    run = make_runner(name, loop, device)
    if device.type == "cuda":
        run(2)  # set-up allocations (cuBLAS workspaces) outside the measurement
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run(steps)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run(steps)
    # each op's own (self) net allocation at its start, frees outside any op as "[memory]" events
    events = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    total = peak = 0
    for _, change in events:
        total += change
        peak = max(peak, total)
    return peak / 2**20


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: igm.device())")
    parser.add_argument("--steps", type=int, default=200, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per loop, interleaved")
    parser.add_argument("--models", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure peak memory (a separate 20-step run per model and loop)")
    parser.add_argument("--clock", choices=("wall", "process"), default="wall",
                        help="wall time, or this process's CPU time (CPU only: less sensitive to other "
                             "processes on a shared machine; single-threaded runs)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    if args.device:
        os.environ["IGM_DEVICE"] = args.device
    device = igm.device()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from: {', '.join(CASES)}")
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    machine = torch.cuda.get_device_name() if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"device: {device} ({machine}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.steps} steps x {args.repeats} interleaved repeats, {args.clock} clock")
    header = ["model", "igmlib steps/s", "plain steps/s", "ratio igmlib/plain", "igmlib peak MiB", "plain peak MiB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rows = []
    for name in names:
        runners = {loop: make_runner(name, loop, device) for loop in ("igmlib", "plain")}
        for run in runners.values():
            run(10)  # warm-up: lazy initialisation, allocator, kernels
        times = {loop: [] for loop in runners}
        for _ in range(args.repeats):
            for loop, run in runners.items():
                times[loop].append(timed(run, args.steps, device, clock))
        rate = {loop: args.steps / statistics.median(t) for loop, t in times.items()}
        memory = {loop: "n/a" for loop in runners}
        if args.memory:
            for loop in runners:
                memory[loop] = f"{memory_probe(name, loop, device, min(args.steps, 20)):.1f}"
        row = [CASES[name].description, f"{rate['igmlib']:.0f}", f"{rate['plain']:.0f}",
               f"{rate['igmlib'] / rate['plain']:.2f}", memory["igmlib"], memory["plain"]]
        rows.append(row)
        print("| " + " | ".join(row) + " |", flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


if __name__ == "__main__":
    main()
