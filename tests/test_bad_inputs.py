"""Every bad input caught at the door: one table of calls that must fail, each with the error type
and what its message must say (what was expected, what came and, where there is one, the fix).

Each row is ``(id, call, error, match)``; ``call`` builds its own small inputs, so rows are independent.
"""
from __future__ import annotations

import pytest
import torch
from torch import distributions as D
from torch import nn

import igmlib as igm
from igmlib import metrics as M
from igmlib.divergences import (alpha_divergence, f_divergence, gaussian_kernel, gaussian_kl, inverse_multiquadratic_kernel,
                                median_bandwidth, mmd2, mutual_information_bound, rational_quadratic_kernel)
from igmlib.models import (ALI, AVB, FGAN, GAN, GMMN, MMDGAN, VAE, WAE, WGAN, ConditionalGAN, CycleGAN, DensityNetwork,
                           InfoGAN, MomentMatching, UnrolledGAN, adam)
from igmlib.nets import (MLP, ConvDiscriminator, ConvGenerator, ConvTranslator, MinibatchStdDev, Packed, ResidualBlock,
                         make_activation)

NAN, INF = float("nan"), float("inf")


# ------------------------------------------------------------------------------------ builders
def mlp(i=2, o=2):
    return MLP(i, o, (8,))


def gan(**kw):
    kw.setdefault("latent_dim", 2)
    return GAN(kw.pop("generator", mlp(kw["latent_dim"], 2)), kw.pop("discriminator", mlp(2, 1)), **kw)


def image_gan():
    return GAN(ConvGenerator(4, width=4), ConvDiscriminator(width=4), 4)


def cyclegan(**kw):
    return CycleGAN(ConvTranslator(width=4), ConvTranslator(width=4), ConvDiscriminator(width=4),
                    ConvDiscriminator(width=4), **kw)


def fit(model=None, data=None, **kw):
    kw.setdefault("steps", 1)
    kw.setdefault("batch_size", 8)
    kw.setdefault("progress", False)
    return igm.fit(gan() if model is None else model, torch.randn(32, 2) if data is None else data, **kw)


def x2(n=32, d=2):
    return torch.randn(n, d)


def with_value(x, value, index=0):
    x = x.clone()
    x.view(-1)[index] = value
    return x


def images(n=8, low=-1.0, high=1.0):
    return torch.rand(n, 1, 8, 8) * (high - low) + low


class TinyClassifier(nn.Module):
    """(N, 1, 8, 8) images -> (N, 3) logits; features (N, 4)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
        self.head = nn.Linear(4, 3)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def garbage_file(tmp_path, content: bytes, name="ckpt.pt"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def ring():
    return igm.data.ring()


# ----------------------------------------------------------------------------------- the table
# (id, call(tmp_path), error, match)
CASES = [
    # ---- model constructors: latent_dim, lr, betas, names, weights, networks -----------------
    ("GAN-latent_dim-zero", lambda t: GAN(mlp(), mlp(2, 1), 0), ValueError, r"latent_dim must be > 0, got 0"),
    ("GAN-latent_dim-float", lambda t: GAN(mlp(), mlp(2, 1), 2.5), TypeError, r"latent_dim must be an int, got float"),
    ("GAN-latent_dim-str", lambda t: GAN(mlp(), mlp(2, 1), "2"), TypeError, r"latent_dim must be an int, got str"),
    ("GAN-latent_dim-bool", lambda t: GAN(mlp(), mlp(2, 1), True), TypeError, r"latent_dim must be an int, got bool"),
    ("GAN-lr-negative", lambda t: gan(lr=-1e-3), ValueError, r"lr must be > 0, got -0.001"),
    ("GAN-lr-zero", lambda t: gan(lr=0), ValueError, r"lr must be > 0, got 0"),
    ("GAN-lr-nan", lambda t: gan(lr=NAN), ValueError, r"lr must be finite, got nan"),
    ("GAN-lr-str", lambda t: gan(lr="1e-3"), TypeError, r"lr must be a number, got str"),
    ("GAN-lr_discriminator-negative", lambda t: gan(lr_discriminator=-1.0), ValueError, r"lr_discriminator must be > 0"),
    ("GAN-lr_generator-inf", lambda t: gan(lr_generator=INF), ValueError, r"lr_generator must be finite"),
    ("GAN-betas-beta1-one", lambda t: gan(betas=(1.0, 0.999)), ValueError,
     r"betas must be two numbers in \[0, 1\), got \(1.0, 0.999\)"),
    ("GAN-betas-scalar", lambda t: gan(betas=0.5), TypeError, r"betas must be a pair \(beta1, beta2\).*got float"),
    ("GAN-betas-one-entry", lambda t: gan(betas=(0.5,)), ValueError, r"betas must be a pair \(beta1, beta2\), got 1 value"),
    ("GAN-betas-negative", lambda t: gan(betas=(-0.1, 0.9)), ValueError, r"betas must be two numbers in \[0, 1\)"),
    ("GAN-betas-strings", lambda t: gan(betas=("a", "b")), TypeError, r"betas must hold numbers, got str"),
    ("GAN-betas-three", lambda t: gan(betas=(0.5, 0.9, 0.99)), ValueError, r"betas must be a pair .*got 3 values"),
    ("GAN-loss-unknown", lambda t: gan(loss="minmax"), ValueError, r"unknown loss 'minmax'; choose one of: .*minimax"),
    ("GAN-loss-not-str", lambda t: gan(loss=1), TypeError, r"loss must be a string, one of"),
    ("GAN-penalty-unknown", lambda t: gan(penalty="r3"), ValueError, r"unknown penalty 'r3'; choose one of"),
    ("GAN-penalty_weight-negative", lambda t: gan(penalty="r1", penalty_weight=-1.0), ValueError,
     r"penalty_weight must be >= 0"),
    ("GAN-generator-str", lambda t: GAN("mlp", mlp(2, 1), 2), TypeError, r"generator must be a torch.nn.Module, got str"),
    ("GAN-discriminator-None", lambda t: GAN(mlp(), None, 2), TypeError,
     r"discriminator must be a torch.nn.Module, got NoneType"),
    ("GAN-discriminator-function", lambda t: GAN(mlp(), lambda x: x, 2), TypeError,
     r"discriminator must be a torch.nn.Module, got function"),
    ("GAN-ema-above-one", lambda t: gan(ema=1.5), ValueError, r"ema.*\(0, 1\)"),
    ("GAN-decay_start-one", lambda t: gan(decay_start=1.0), ValueError, r"decay_start must be a fraction of the run in \[0, 1\)"),
    ("WGAN-constraint-unknown", lambda t: WGAN(mlp(), mlp(2, 1), 2, constraint="gradient"), ValueError,
     r"unknown constraint 'gradient'; choose one of: clip, gp"),
    ("WGAN-n_critic-zero", lambda t: WGAN(mlp(), mlp(2, 1), 2, n_critic=0), ValueError, r"n_critic must be > 0, got 0"),
    ("WGAN-n_critic-float", lambda t: WGAN(mlp(), mlp(2, 1), 2, n_critic=2.0), TypeError, r"n_critic must be an int"),
    ("WGAN-clip-negative", lambda t: WGAN(mlp(), mlp(2, 1), 2, constraint="clip", clip=-0.01), ValueError,
     r"clip must be > 0"),
    ("WGAN-gp_weight-negative", lambda t: WGAN(mlp(), mlp(2, 1), 2, gp_weight=-10.0), ValueError, r"gp_weight must be"),
    ("WGAN-betas-beta2-above-one", lambda t: WGAN(mlp(), mlp(2, 1), 2, betas=(0.5, 1.5)), ValueError,
     r"betas must be two numbers in \[0, 1\), got \(0.5, 1.5\)"),
    ("WGAN-clip-with-betas", lambda t: WGAN(mlp(), mlp(2, 1), 2, constraint="clip", betas=(0.5, 0.9)), ValueError,
     r"betas apply to Adam .*drop betas"),
    ("WGAN-critic-str", lambda t: WGAN(mlp(), "critic", 2), TypeError, r"critic must be a torch.nn.Module, got str"),
    ("FGAN-divergence-unknown", lambda t: FGAN(mlp(), mlp(2, 1), 2, divergence="kll"), ValueError,
     r"unknown divergence 'kll'; choose one of: .*kl"),
    ("FGAN-divergence-int", lambda t: FGAN(mlp(), mlp(2, 1), 2, divergence=3), TypeError, r"divergence must be"),
    ("FGAN-generator_objective-unknown", lambda t: FGAN(mlp(), mlp(2, 1), 2, generator_objective="maximum"),
     ValueError, r"unknown generator_objective 'maximum'; choose one of"),
    ("FGAN-betas-list-of-one", lambda t: FGAN(mlp(), mlp(2, 1), 2, betas=[0.5]), ValueError, r"betas must be a pair"),
    ("MMDGAN-kernel-unknown", lambda t: MMDGAN(mlp(), mlp(2, 4), 2, kernel="gauss"), ValueError,
     r"unknown kernel 'gauss'; choose one of"),
    ("MMDGAN-scales-negative", lambda t: MMDGAN(mlp(), mlp(2, 4), 2, scales=[-1.0]), ValueError, r"scales.*> 0"),
    ("MMDGAN-constraint-unknown", lambda t: MMDGAN(mlp(), mlp(2, 4), 2, constraint="sn"), ValueError,
     r"unknown constraint 'sn'; choose one of"),
    ("MMDGAN-n_critic-negative", lambda t: MMDGAN(mlp(), mlp(2, 4), 2, n_critic=-1), ValueError, r"n_critic must be > 0"),
    ("MMDGAN-betas-str", lambda t: MMDGAN(mlp(), mlp(2, 4), 2, betas="0.5,0.9"), TypeError,
     r"betas must be a pair \(beta1, beta2\).*got str"),
    ("GMMN-bandwidth-negative", lambda t: GMMN(mlp(), 2, bandwidths=-1.0), ValueError, r"bandwidth.*> 0"),
    ("GMMN-bandwidth-unknown-name", lambda t: GMMN(mlp(), 2, bandwidths="mean"), ValueError,
     r"unknown bandwidths 'mean'; choose 'median' or pass numbers"),
    ("GMMN-bandwidths-empty", lambda t: GMMN(mlp(), 2, bandwidths=[]), ValueError, r"bandwidths.*at least one"),
    ("GMMN-betas-beta1-nan", lambda t: GMMN(mlp(), 2, betas=(NAN, 0.9)), ValueError, r"betas must be two numbers in \[0, 1\)"),
    ("MomentMatching-statistic-unknown", lambda t: MomentMatching(mlp(), 2, statistics=("mean", "kurtosis")), ValueError,
     r"unknown statistic 'kurtosis'; choose one of"),
    ("MomentMatching-weights-length", lambda t: MomentMatching(mlp(), 2, weights=(1.0,)), ValueError,
     r"weights must have one entry per statistic \(2\), got 1"),
    ("MomentMatching-weights-negative", lambda t: MomentMatching(mlp(), 2, weights=(-1.0, 1.0)), ValueError,
     r"weight must be >= 0, got -1.0"),
    ("InfoGAN-categorical-negative", lambda t: InfoGAN(mlp(14, 2), mlp(2, 8), 2, categorical=-1), ValueError,
     r"categorical must be >= 0"),
    ("InfoGAN-continuous_std-unknown", lambda t: InfoGAN(mlp(14, 2), mlp(2, 8), 2, continuous_std="free"), ValueError,
     r"unknown continuous_std 'free'; choose one of"),
    ("InfoGAN-info_weight-negative", lambda t: InfoGAN(mlp(14, 2), mlp(2, 8), 2, info_weight=-1.0), ValueError,
     r"info_weight must be >= 0"),
    ("InfoGAN-betas-beta1-two", lambda t: InfoGAN(mlp(14, 2), mlp(2, 8), 2, betas=(2.0, 0.9)), ValueError,
     r"betas must be two numbers in \[0, 1\)"),
    ("ConditionalGAN-classes-zero", lambda t: ConditionalGAN(mlp(), mlp(2, 8), 2, 0, 8), ValueError,
     r"classes must be > 0, got 0"),
    ("ConditionalGAN-features-float", lambda t: ConditionalGAN(mlp(), mlp(2, 8), 2, 3, 8.0), TypeError,
     r"features must be an int"),
    ("ConditionalGAN-loss-unknown", lambda t: ConditionalGAN(mlp(), mlp(2, 8), 2, 3, 8, loss="hinge2"), ValueError,
     r"unknown loss 'hinge2'"),
    ("CycleGAN-cycle_weight-negative", lambda t: cyclegan(cycle_weight=-1.0), ValueError, r"cycle_weight must be >= 0"),
    ("CycleGAN-identity_weight-str", lambda t: cyclegan(identity_weight="5"), TypeError, r"identity_weight must be a number"),
    ("CycleGAN-history-float", lambda t: cyclegan(history=2.5), TypeError, r"history must be an int"),
    ("CycleGAN-decay_start-str", lambda t: cyclegan(decay_start="half"), TypeError, r"decay_start must be a number"),
    ("CycleGAN-decay_start-above-one", lambda t: cyclegan(decay_start=1.5), ValueError,
     r"decay_start must be a fraction of the run in \[0, 1\)"),
    ("CycleGAN-betas-scalar", lambda t: cyclegan(betas=0.5), TypeError, r"betas must be a pair \(beta1, beta2\)"),
    ("CycleGAN-generator-str", lambda t: CycleGAN("G", ConvTranslator(), ConvDiscriminator(), ConvDiscriminator()),
     TypeError, r"generator_xy must be a torch.nn.Module"),
    ("VAE-likelihood-unknown", lambda t: VAE(mlp(2, 4), mlp(2, 2), 2, likelihood="poisson"), ValueError,
     r"unknown likelihood 'poisson'; choose one of"),
    ("VAE-beta-negative", lambda t: VAE(mlp(2, 4), mlp(2, 2), 2, likelihood="gaussian", beta=-1.0), ValueError,
     r"beta must be"),
    ("VAE-scale-negative", lambda t: VAE(mlp(2, 4), mlp(2, 2), 2, likelihood="gaussian", scale=-0.1), ValueError,
     r"scale must be > 0"),
    ("VAE-event_shape-zero", lambda t: VAE(mlp(2, 4), mlp(2, 2), 2, event_shape=(0,)), ValueError,
     r"event_shape entry must be > 0"),
    ("VAE-encoder-str", lambda t: VAE("enc", mlp(2, 2), 2), TypeError, r"encoder must be a torch.nn.Module"),
    ("VAE-betas-pair-of-str", lambda t: VAE(mlp(2, 4), mlp(2, 2), 2, betas=("0.9", "0.999")), TypeError,
     r"betas must hold numbers"),
    ("AVB-adversary_updates-zero", lambda t: AVB(mlp(4, 2), mlp(2, 2), mlp(4, 1), 2, adversary_updates=0), ValueError,
     r"adversary_updates must be > 0"),
    ("AVB-likelihood-unknown", lambda t: AVB(mlp(4, 2), mlp(2, 2), mlp(4, 1), 2, likelihood="laplace"), ValueError,
     r"unknown likelihood 'laplace'"),
    ("AVB-noise_dim-zero", lambda t: AVB(mlp(4, 2), mlp(2, 2), mlp(4, 1), 2, noise_dim=0), ValueError,
     r"noise_dim must be > 0"),
    ("AVB-lr_adversary-negative", lambda t: AVB(mlp(4, 2), mlp(2, 2), mlp(4, 1), 2, lr_adversary=-1.0), ValueError,
     r"lr_adversary must be > 0"),
    ("DensityNetwork-event_shape-missing", lambda t: DensityNetwork(mlp(2, 4), 2, None), ValueError,
     r"event_shape is required"),
    ("DensityNetwork-samples-zero", lambda t: DensityNetwork(mlp(2, 4), 2, (2,), samples=0), ValueError,
     r"samples must be > 0"),
    ("DensityNetwork-likelihood-unknown", lambda t: DensityNetwork(mlp(2, 4), 2, (2,), likelihood="cauchy"), ValueError,
     r"unknown likelihood 'cauchy'"),
    ("WAE-penalty-unknown", lambda t: WAE(mlp(2, 2), mlp(2, 2), 2, penalty="kl"), ValueError,
     r"unknown penalty 'kl'; choose one of"),
    ("WAE-gan-without-discriminator", lambda t: WAE(mlp(2, 2), mlp(2, 2), 2, penalty="gan"), ValueError,
     r"discriminator"),
    ("WAE-kernel_multiples-negative", lambda t: WAE(mlp(2, 2), mlp(2, 2), 2, kernel_multiples=[-1.0]), ValueError,
     r"kernel_multiples.*> 0"),
    ("WAE-latent_dim-zero", lambda t: WAE(mlp(2, 2), mlp(2, 2), 0), ValueError, r"latent_dim must be > 0"),
    ("ALI-latent_dim-negative", lambda t: ALI(mlp(2, 2), mlp(2, 4), mlp(4, 1), -2), ValueError, r"latent_dim must be > 0"),
    ("ALI-betas-beta2-one", lambda t: ALI(mlp(2, 2), mlp(2, 4), mlp(4, 1), 2, betas=(0.5, 1.0)), ValueError,
     r"betas must be two numbers in \[0, 1\)"),
    ("UnrolledGAN-unrolled_steps-negative", lambda t: UnrolledGAN(mlp(), mlp(2, 1), 2, unrolled_steps=-1), ValueError,
     r"unrolled_steps must be >= 0"),
    ("UnrolledGAN-unroll_optimizer-unknown", lambda t: UnrolledGAN(mlp(), mlp(2, 1), 2, unroll_optimizer="rmsprop"),
     ValueError, r"unknown unroll_optimizer 'rmsprop'; choose one of"),
    ("UnrolledGAN-unroll_lr-negative", lambda t: UnrolledGAN(mlp(), mlp(2, 1), 2, unroll_lr=-1.0), ValueError,
     r"unroll_lr must be > 0"),
    ("adam-betas-above-one", lambda t: adam(1e-3, (0.9, 1.2)), ValueError, r"betas must be two numbers in \[0, 1\)"),
    ("adam-lr-negative", lambda t: adam(-1e-3), ValueError, r"lr must be > 0"),
    # ---- fit: data ----------------------------------------------------------------------------
    ("fit-data-int64", lambda t: fit(data=torch.randint(0, 5, (32, 2))), TypeError,
     r"data must be floating point, got torch.int64: convert them first, e.g. data.float\(\)"),
    ("fit-data-bool", lambda t: fit(data=torch.ones(32, 2, dtype=torch.bool)), TypeError,
     r"data must be floating point, got torch.bool"),
    ("fit-data-float64", lambda t: fit(data=x2().double()), TypeError,
     r"data are torch.float64 but the model's parameters are torch.float32: .*data.to\(torch.float32\)"),
    ("fit-data-complex", lambda t: fit(data=torch.randn(32, 2, dtype=torch.complex64)), TypeError,
     r"data must be floating point, got torch.complex64"),
    ("fit-data-nan", lambda t: fit(data=with_value(x2(), NAN)), ValueError, r"the data contain NaN or infinite values"),
    ("fit-data-inf", lambda t: fit(data=with_value(x2(), INF, 5)), ValueError, r"the data contain NaN or infinite values"),
    ("fit-data-list", lambda t: fit(data=[[0.0, 1.0]] * 32), TypeError,
     r"data must be a torch Distribution, a tensor \(N, \.\.\.\).*got list"),
    ("fit-data-numpy", lambda t: fit(data=x2().numpy()), TypeError, r"data must be a torch Distribution.*got ndarray"),
    ("fit-data-1d", lambda t: fit(data=torch.randn(32)), ValueError,
     r"data must have a batch dimension \(N, \.\.\.\), got shape \(32,\): use data.reshape\(-1, 1\)"),
    ("fit-data-wrong-width", lambda t: fit(data=x2(d=3)), ValueError,
     r"player 'discriminator' could not compute its loss on a minibatch of shape \(8, 3\)"),
    ("fit-latent_dim-mismatch", lambda t: fit(GAN(mlp(3, 2), mlp(2, 1), 2)), ValueError,
     r"player 'discriminator' could not compute its loss .*with latent_dim = 2; the error came from the generator"),
    ("fit-generator-output-mismatch", lambda t: fit(GAN(mlp(2, 3), mlp(2, 1), 2)), ValueError,
     r"could not compute its loss .*the error came from the discriminator"),
    ("fit-distribution-scalar-event", lambda t: fit(data=D.Normal(0.0, 1.0)), ValueError,
     r"a data distribution must have event_shape \(d,\), got \(\): wrap it in torch.distributions.Independent"),
    ("fit-tuple-lengths", lambda t: fit(data=(x2(32), x2(31))), ValueError,
     r"data tensors must have the same first dimension, got \[32, 31\]"),
    ("fit-callable-data-ints", lambda t: fit(data=lambda n: torch.randint(0, 3, (n, 2))), TypeError,
     r"data must be floating point, got torch.int64"),
    ("fit-callable-data-nan", lambda t: fit(data=lambda n: torch.full((n, 2), NAN)), ValueError,
     r"the data contain NaN or infinite values \(found in the first minibatch\)"),
    ("fit-callable-data-returns-list", lambda t: fit(data=lambda n: [[0.0, 0.0]] * n), TypeError,
     r"data\(batch_size\) must return a tensor or a tuple of tensors, got list"),
    ("fit-images-0-255", lambda t: fit(image_gan(), images(32, 0.0, 255.0)), ValueError,
     r"images must have pixel values in \[-1, 1\], got values in \[[0-9.]+, 2[0-9]{2}(\.[0-9]+)?\]: rescale them, e.g. x / 127.5 - 1"),
    ("fit-images-0-1-offset", lambda t: fit(image_gan(), images(32, 0.0, 2.0)), ValueError,
     r"images must have pixel values in \[-1, 1\]"),
    ("fit-images-callable-0-255", lambda t: fit(image_gan(), lambda n: images(n, 0.0, 255.0)), ValueError,
     r"pixel values in \[-1, 1\].*x / 127.5 - 1"),
    ("fit-not-trainable", lambda t: fit(nn.Linear(2, 2)), TypeError, r"Trainable"),
    ("fit-model-str", lambda t: fit("gan"), TypeError, r"Trainable"),
    # ---- fit: arguments -------------------------------------------------------------------
    ("fit-steps-zero", lambda t: fit(steps=0), ValueError, r"steps must be > 0, got 0"),
    ("fit-steps-float", lambda t: fit(steps=10.0), TypeError, r"steps must be an int, got float"),
    ("fit-batch_size-zero", lambda t: fit(batch_size=0), ValueError, r"batch_size must be > 0, got 0"),
    ("fit-batch_size-too-large", lambda t: fit(batch_size=64), ValueError,
     r"batch_size \(64\) exceeds the 32 samples in data: lower batch_size"),
    ("fit-batch_size-str", lambda t: fit(batch_size="8"), TypeError, r"batch_size must be an int, got str"),
    ("fit-seed-negative", lambda t: fit(seed=-1), ValueError, r"seed must be >= 0, got -1"),
    ("fit-seed-float", lambda t: fit(seed=0.5), TypeError, r"seed must be an int, got float"),
    ("fit-seed-str", lambda t: fit(seed="0"), TypeError, r"seed must be an int, got str"),
    ("fit-checkpoint_every-zero", lambda t: fit(checkpoint_every=0), ValueError, r"checkpoint_every must be > 0"),
    ("fit-sync_every-negative", lambda t: fit(sync_every=-5), ValueError, r"sync_every must be > 0"),
    ("fit-amp-fp16", lambda t: fit(amp="fp16"), ValueError, r"unknown amp 'fp16'; choose one of: False \(float32\), 'bf16'"),
    ("fit-amp-true", lambda t: fit(amp=True), ValueError, r"unknown amp True"),
    ("fit-callbacks-int", lambda t: fit(callbacks=5), TypeError,
     r"callbacks must be a callable or a list of callables callback\(TrainState\), got int"),
    ("fit-callbacks-item-not-callable", lambda t: fit(callbacks=[lambda s: None, "plot"]), TypeError,
     r"callbacks\[1\] must be callable as callback\(TrainState\), got str"),
    ("fit-callbacks-str", lambda t: fit(callbacks="print"), TypeError, r"callbacks must be a callable or a list of callables"),
    ("fit-optimizers-class", lambda t: fit(optimizers=torch.optim.Adam), TypeError,
     r"optimizers must be a dict \{player name: factory\}.*got type"),
    ("fit-optimizers-list", lambda t: fit(optimizers=[lambda p: torch.optim.SGD(p, lr=0.1)]), TypeError,
     r"optimizers must be a dict \{player name: factory\}.*got list"),
    ("fit-optimizers-str-value", lambda t: fit(optimizers={"generator": "adam"}), TypeError,
     r"optimizers\['generator'\] must be a callable parameters -> torch.optim.Optimizer.*got str"),
    ("fit-optimizers-instance-value", lambda t: fit(optimizers={"generator": torch.optim.SGD([nn.Parameter(torch.ones(1))],
                                                                                             lr=0.1)}), TypeError,
     r"optimizers\['generator'\] must be a callable.*got SGD.*lambda p: torch.optim.Adam\(p"),
    ("fit-optimizers-factory-returns-wrong", lambda t: fit(optimizers={"generator": lambda p: 0.1}), TypeError,
     r"optimizers\['generator'\] returned float, not a torch.optim.Optimizer"),
    ("fit-optimizers-unknown-player", lambda t: fit(optimizers={"critic": lambda p: torch.optim.SGD(p, lr=0.1)}), ValueError,
     r"optimizers given for unknown players \['critic'\]; this model's players are: discriminator, generator"),
    ("fit-checkpoint-int", lambda t: fit(checkpoint=5), TypeError,
     r"checkpoint must be a file path \(str or os.PathLike\), got int"),
    ("fit-checkpoint-directory", lambda t: fit(checkpoint=t), ValueError,
     r"checkpoint .* is a directory: pass a file path, e.g. .*run.pt"),
    ("fit-checkpoint-bytes", lambda t: fit(checkpoint=b"run.pt"), TypeError, r"checkpoint must be a file path"),
    ("fit-resume-int", lambda t: fit(resume=3), TypeError, r"resume must be a file path \(str or os.PathLike\), got int"),
    ("fit-resume-missing", lambda t: fit(resume=t / "missing.pt"), igm.CheckpointError, r"cannot read checkpoint"),
    ("fit-resume-garbage", lambda t: fit(resume=garbage_file(t, b"not a checkpoint")), igm.CheckpointError,
     r"is not an igmlib checkpoint"),
    ("fit-resume-directory", lambda t: fit(resume=t), igm.CheckpointError, r"cannot read checkpoint .*directory"),
    ("fit-CycleGAN-one-tensor", lambda t: fit(cyclegan(), images(32)), TypeError,
     r"CycleGAN expects a pair of domains \(x_a, x_b\).*got a Tensor"),
    ("fit-CycleGAN-three-tensors", lambda t: fit(cyclegan(), (images(32), images(32), images(32))), TypeError,
     r"CycleGAN expects a pair of domains \(x_a, x_b\).*got a tuple of 3"),
    ("fit-CycleGAN-0-255", lambda t: fit(cyclegan(), (images(32, 0, 255), images(32, 0, 255))), ValueError,
     r"pixel values in \[-1, 1\].*x / 127.5 - 1"),
    ("fit-CycleGAN-second-domain-nan", lambda t: fit(cyclegan(), (images(32), with_value(images(32), NAN))), ValueError,
     r"NaN or infinite"),
    # ---- metrics ---------------------------------------------------------------------------
    ("frechet-nan", lambda t: M.frechet_distance(with_value(x2(), NAN), x2()), ValueError,
     r"features_a contains NaN or infinite values \(1 of 64 entries\)"),
    ("frechet-inf", lambda t: M.frechet_distance(x2(), with_value(x2(), INF)), ValueError, r"features_b contains NaN or infinite"),
    ("frechet-dims", lambda t: M.frechet_distance(x2(d=3), x2(d=2)), ValueError,
     r"features_b must have shape \(N, 3\), got \(32, 2\)"),
    ("frechet-one-sample", lambda t: M.frechet_distance(x2(1), x2()), ValueError, r"need at least 2 feature vectors"),
    ("frechet-ints", lambda t: M.frechet_distance(torch.ones(4, 2, dtype=torch.long), x2()), TypeError,
     r"features_a must have a floating-point dtype"),
    ("frechet-raw-images", lambda t: M.frechet_distance(images(), images()), ValueError,
     r"features_a must be features \(N, d\), got images of shape \(8, 1, 8, 8\): pass a classifier's features"),
    ("inception_score-nan", lambda t: M.inception_score(with_value(x2(8, 3), NAN)), ValueError,
     r"logits contains NaN or infinite"),
    ("inception_score-1d", lambda t: M.inception_score(torch.randn(8)), ValueError, r"logits must be 2-D"),
    ("kid-dims", lambda t: M.kid(x2(d=3), x2(d=4)), ValueError, r"same feature size d, got 3 and 4"),
    ("kid-nan", lambda t: M.kid(with_value(x2(), NAN), x2()), ValueError, r"real_features contains NaN"),
    ("kid-subset_size-one", lambda t: M.kid(x2(), x2(), subset_size=1), ValueError, r"subset_size must be at least 2"),
    ("kid-subsets-zero", lambda t: M.kid(x2(), x2(), subsets=0), ValueError, r"subsets must be > 0"),
    ("kid-one-sample", lambda t: M.kid(x2(1), x2()), ValueError, r"at least 2 real and 2 fake"),
    ("kid-raw-images", lambda t: M.kid(images(), images()), ValueError, r"real_features must be features \(N, d\), got images"),
    ("density_coverage-k-too-large", lambda t: M.density_coverage(x2(5), x2(), k=5), ValueError,
     r"k must be smaller than the number of real feature vectors"),
    ("density_coverage-k-zero", lambda t: M.density_coverage(x2(), x2(), k=0), ValueError, r"k must be > 0"),
    ("density_coverage-inf", lambda t: M.density_coverage(x2(), with_value(x2(), -INF)), ValueError,
     r"fake_features contains NaN or infinite"),
    ("precision_recall-nan", lambda t: M.precision_recall(with_value(x2(), NAN), x2()), ValueError,
     r"contains NaN or infinite"),
    ("precision_recall-dims", lambda t: M.precision_recall(x2(d=2), x2(d=3)), ValueError, r"real and fake must have the same number of features, got 2 and 3"),
    ("precision_recall-k-too-large", lambda t: M.precision_recall(x2(3), x2(3), k=3), ValueError, r"k must be smaller"),
    ("two_sample-nan", lambda t: M.two_sample_accuracy(with_value(x2(), NAN), x2()), ValueError, r"real contains NaN"),
    ("two_sample-dims", lambda t: M.two_sample_accuracy(x2(d=2), x2(d=3)), ValueError, r"real and fake|shape"),
    ("two_sample-test_fraction", lambda t: M.two_sample_accuracy(x2(), x2(), test_fraction=1.5), ValueError,
     r"test_fraction must be a number in \(0, 1\), got 1.5"),
    ("two_sample-classifier-unknown", lambda t: M.two_sample_accuracy(x2(), x2(), classifier="svm"), ValueError,
     r"classifier"),
    ("classifier_accuracy-labels-above-classes", lambda t: M.classifier_accuracy(
        TinyClassifier(), images(), torch.arange(8)), ValueError,
     r"labels must be class indices in \[0, 3\) \(the classifier has 3 classes\), got values in \[0, 7\]"),
    ("classifier_accuracy-labels-negative", lambda t: M.classifier_accuracy(
        TinyClassifier(), images(), -torch.ones(8, dtype=torch.long)), ValueError, r"labels must be class indices in \[0, 3\)"),
    ("classifier_accuracy-images-0-255", lambda t: M.classifier_accuracy(
        TinyClassifier(), images(8, 0, 255), torch.zeros(8, dtype=torch.long)), ValueError,
     r"images must have pixel values in \[-1, 1\], got values in \[[0-9.]+, 2[0-9]{2}(\.[0-9]+)?\]: rescale them, e.g. x / 127.5 - 1"),
    ("classifier_accuracy-images-nan", lambda t: M.classifier_accuracy(
        TinyClassifier(), with_value(images(), NAN), torch.zeros(8, dtype=torch.long)), ValueError,
     r"images contains NaN or infinite"),
    ("classifier_accuracy-labels-float", lambda t: M.classifier_accuracy(TinyClassifier(), images(), torch.zeros(8)),
     TypeError, r"labels must hold integer class labels, got dtype torch.float32: use labels.long\(\)"),
    ("classifier_accuracy-labels-length", lambda t: M.classifier_accuracy(
        TinyClassifier(), images(), torch.zeros(7, dtype=torch.long)), ValueError, r"labels must have shape \(8,\)"),
    ("classifier_accuracy-images-2d", lambda t: M.classifier_accuracy(TinyClassifier(), x2(8, 64), torch.zeros(8).long()),
     ValueError, r"images must be 4-D"),
    ("classifier_accuracy-batch_size-zero", lambda t: M.classifier_accuracy(
        TinyClassifier(), images(), torch.zeros(8).long(), batch_size=0), ValueError, r"batch_size must be > 0"),
    ("label_preservation-labels-above-classes", lambda t: M.label_preservation(
        TinyClassifier(), images(), torch.full((8,), 5)), ValueError, r"labels must be class indices in \[0, 3\)"),
    ("label_preservation-images-0-255", lambda t: M.label_preservation(
        TinyClassifier(), images(8, 0, 255), torch.zeros(8).long()), ValueError, r"x / 127.5 - 1"),
    ("classifier_frechet-0-255", lambda t: M.classifier_frechet_distance(TinyClassifier(), images(), images(8, 0, 255)),
     ValueError, r"fake must have pixel values in \[-1, 1\]"),
    ("classifier_frechet-nan", lambda t: M.classifier_frechet_distance(TinyClassifier(), with_value(images(), NAN), images()),
     ValueError, r"real contains NaN or infinite"),
    ("classifier_frechet-no-features", lambda t: M.classifier_frechet_distance(nn.Flatten(), images(), images()),
     TypeError, r"classifier must have a features\(x\) method"),
    ("cluster_accuracy-float-labels", lambda t: M.cluster_accuracy([0.5, 1.0], [0, 1]), TypeError,
     r"labels_true must hold integer class labels"),
    ("cluster_accuracy-lengths", lambda t: M.cluster_accuracy([0, 1, 2], [0, 1]), ValueError,
     r"labels_pred must have shape \(3,\)"),
    ("cluster_accuracy-2d", lambda t: M.cluster_accuracy([[0, 1]], [[0, 1]]), ValueError, r"labels_true must be 1-D"),
    ("cluster_accuracy-empty", lambda t: M.cluster_accuracy([], []), ValueError, r"labels_true is empty"),
    ("mode_coverage-nan", lambda t: M.mode_coverage(with_value(x2(), NAN), ring()), ValueError, r"samples contains NaN"),
    ("mode_coverage-dims", lambda t: M.mode_coverage(x2(d=3), ring()), ValueError, r"samples must have shape \(N, 2\)"),
    ("mode_coverage-threshold", lambda t: M.mode_coverage(x2(), ring(), threshold=-1.0), ValueError,
     r"threshold must be > 0"),
    ("mode_coverage-no-modes", lambda t: M.mode_coverage(x2()), ValueError, r"centres"),
    ("mode_kl-inf", lambda t: M.mode_kl(with_value(x2(), INF), ring()), ValueError, r"samples contains NaN"),
    ("histogram_kl-nan", lambda t: M.histogram_kl(with_value(torch.randn(32, 1), NAN), igm.data.lognormal()), ValueError,
     r"samples contains NaN"),
    ("histogram_kl-bins-zero", lambda t: M.histogram_kl(torch.rand(32, 1), igm.data.lognormal(), bins=0), ValueError,
     r"bins must be > 0"),
    ("wasserstein_1d-nan", lambda t: M.wasserstein_1d(with_value(torch.randn(32), NAN), torch.randn(32)), ValueError,
     r"samples_a contains NaN"),
    ("wasserstein_1d-2d", lambda t: M.wasserstein_1d(x2(), x2()), ValueError, r"samples_a must have shape \(N,\) or \(N, 1\), got \(32, 2\)"),
    ("toy_log_likelihood-nan", lambda t: M.toy_log_likelihood(with_value(x2(), NAN), ring()), ValueError,
     r"samples contains NaN"),
    ("toy_log_likelihood-reduction", lambda t: M.toy_log_likelihood(x2(), ring(), reduction="avg"), ValueError,
     r"unknown reduction 'avg'; choose one of"),
    ("gaussian_log_likelihood-nan", lambda t: M.gaussian_log_likelihood(with_value(x2(), NAN), x2()), ValueError,
     r"train contains NaN"),
    ("gaussian_log_likelihood-dims", lambda t: M.gaussian_log_likelihood(x2(d=2), x2(d=3)), ValueError,
     r"test points must have the shape of train points \(2,\), got \(3,\)"),
    ("gaussian_log_likelihood-jitter", lambda t: M.gaussian_log_likelihood(x2(), x2(), jitter=-1.0), ValueError,
     r"jitter must be >= 0"),
    ("parzen-bandwidth-zero", lambda t: M.parzen_log_likelihood(x2(), x2(), 0.0), ValueError, r"bandwidth must be > 0"),
    ("parzen-nan", lambda t: M.parzen_log_likelihood(x2(), with_value(x2(), NAN), 0.5), ValueError, r"test contains NaN"),
    ("parzen-reduction", lambda t: M.parzen_log_likelihood(x2(), x2(), 0.5, reduction="avg"), ValueError,
     r"unknown reduction 'avg'"),
    ("parzen-dims", lambda t: M.parzen_log_likelihood(x2(d=2), x2(d=3), 0.5), ValueError, r"shape|dimension"),
    ("select_parzen-candidates-negative", lambda t: M.select_parzen_bandwidth(x2(), x2(), [-1.0]), ValueError,
     r"bandwidth candidate must be > 0, got -1.0"),
    ("linear_probe-labels-float", lambda t: M.linear_probe(x2(), torch.zeros(32), x2(), torch.zeros(32).long()),
     TypeError, r"train_labels must hold integer class labels"),
    ("linear_probe-nan", lambda t: M.linear_probe(with_value(x2(), NAN), torch.arange(32) % 2, x2(), torch.arange(32) % 2),
     ValueError, r"train_features contains NaN"),
    ("linear_probe-lengths", lambda t: M.linear_probe(x2(), torch.arange(31) % 2, x2(), torch.arange(32) % 2),
     ValueError, r"train_labels must have shape \(32,\)"),
    ("linear_probe-unseen-test-class", lambda t: M.linear_probe(x2(), torch.arange(32) % 2, x2(), torch.arange(32) % 3),
     ValueError, r"test_labels hold classes \[2\] that train_labels never show"),
    ("same_mode_rate-nan", lambda t: M.same_mode_rate(with_value(x2(), NAN), x2(), ring()), ValueError, r"x contains NaN"),
    ("same_mode_rate-shapes", lambda t: M.same_mode_rate(x2(32), x2(31), ring()), ValueError, r"x_rec"),
    # ---- divergences and kernels -------------------------------------------------------------
    ("gaussian_kernel-bandwidth-zero", lambda t: gaussian_kernel(x2(), x2(), 0.0), ValueError, r"bandwidth must be > 0"),
    ("gaussian_kernel-bandwidth-negative-in-list", lambda t: gaussian_kernel(x2(), x2(), [1.0, -1.0]), ValueError,
     r"bandwidth.*> 0"),
    ("gaussian_kernel-bandwidth-nan", lambda t: gaussian_kernel(x2(), x2(), NAN), ValueError, r"bandwidth must be finite"),
    ("gaussian_kernel-bandwidth-str", lambda t: gaussian_kernel(x2(), x2(), "wide"), TypeError, r"bandwidth"),
    ("gaussian_kernel-dims", lambda t: gaussian_kernel(x2(d=2), x2(d=3), 1.0), ValueError, r"y must have shape|same"),
    ("mmd2-bandwidth-unknown", lambda t: mmd2(x2(), x2(), bandwidth="mean"), ValueError,
     r"unknown bandwidth 'mean'; choose 'median' or pass numbers"),
    ("mmd2-bandwidth-negative", lambda t: mmd2(x2(), x2(), bandwidth=-1.0), ValueError, r"bandwidth must be > 0"),
    ("mmd2-block_size-zero", lambda t: mmd2(x2(), x2(), bandwidth=1.0, block_size=0), ValueError, r"block_size must be > 0"),
    ("mmd2-unbiased-one-sample", lambda t: mmd2(x2(1), x2(1), bandwidth=1.0), ValueError, r"at least 2"),
    ("median_bandwidth-max_points-zero", lambda t: median_bandwidth(x2(), max_points=0), ValueError,
     r"max_points must be"),
    ("rq_kernel-alphas-negative", lambda t: rational_quadratic_kernel(x2(), x2(), [-1.0]), ValueError, r"alphas.*> 0"),
    ("rq_kernel-alphas-empty", lambda t: rational_quadratic_kernel(x2(), x2(), []), ValueError, r"alphas.*at least one"),
    ("imq_kernel-scales-zero", lambda t: inverse_multiquadratic_kernel(x2(), x2(), [0.0]), ValueError, r"scales.*> 0"),
    ("f_divergence-unknown", lambda t: f_divergence("kll"), ValueError, r"unknown divergence 'kll'; choose one of"),
    ("f_divergence-int", lambda t: f_divergence(5), TypeError, r"divergence must be"),
    ("alpha_divergence-nan", lambda t: alpha_divergence(NAN), ValueError, r"alpha must be finite"),
    ("alpha_divergence-str", lambda t: alpha_divergence("2"), TypeError, r"alpha must be a real number, got str"),
    ("gaussian_kl-shapes", lambda t: gaussian_kl(x2(8, 2), x2(8, 3)), ValueError, r"log_var must have.*shape|same shape"),
    ("mutual_information-codes-out-of-range", lambda t: mutual_information_bound(x2(8, 3), torch.full((8,), 5)),
     ValueError, r"index codes must lie in 0..2, got values in 5..5"),
    # ---- losses and penalties ------------------------------------------------------------------
    ("discriminator_loss-kind", lambda t: igm.losses.discriminator_loss(x2(8, 1), x2(8, 1), "hinged"), ValueError,
     r"unknown kind 'hinged'; choose one of"),
    ("generator_loss-kind", lambda t: igm.losses.generator_loss(x2(8, 1), "saturating2"), ValueError,
     r"unknown kind 'saturating2'"),
    ("generator_loss-int-logits", lambda t: igm.losses.generator_loss(torch.ones(8, 1, dtype=torch.long)), TypeError,
     r"fake_logits must be floating point, got torch.int64: use fake_logits.float\(\)"),
    ("discriminator_loss-list", lambda t: igm.losses.discriminator_loss([0.0], [1.0]), TypeError,
     r"real_logits must be a torch.Tensor"),
    ("clip_weights-c-negative", lambda t: igm.penalties.clip_weights(mlp(), -0.01), ValueError, r"c must be > 0"),
    ("clip_weights-module-str", lambda t: igm.penalties.clip_weights("net"), TypeError, r"module must be a torch.nn.Module"),
    ("gradient_penalty-shapes", lambda t: igm.penalties.gradient_penalty(mlp(2, 1), x2(8), x2(8, 3)), ValueError,
     r"real and fake must have the same shape"),
    ("r1_penalty-ints", lambda t: igm.penalties.r1_penalty(mlp(2, 1), torch.ones(8, 2, dtype=torch.long)), TypeError,
     r"must have a floating-point dtype, got torch.int64"),
    ("interpolate-lengths", lambda t: igm.penalties.interpolate(x2(8), x2(7)), ValueError, r"same shape"),
    # ---- nets ----------------------------------------------------------------------------------
    ("MLP-activation-unknown", lambda t: MLP(2, 2, activation="relu7"), ValueError, r"unknown activation 'relu7'; choose one of"),
    ("MLP-out_activation-unknown", lambda t: MLP(2, 2, out_activation="softmax2"), ValueError,
     r"unknown (out_)?activation 'softmax2'"),
    ("MLP-in_features-zero", lambda t: MLP(0, 2), ValueError, r"in_features must be > 0"),
    ("MLP-hidden-zero", lambda t: MLP(2, 2, (8, 0)), ValueError, r"hidden.* must be > 0"),
    ("MLP-hidden-float", lambda t: MLP(2, 2, (8.5,)), TypeError, r"hidden.* must be an int"),
    ("MLP-out_features-negative", lambda t: MLP(2, -1), ValueError, r"out_features must be > 0"),
    ("make_activation-unknown", lambda t: make_activation("gelu2"), ValueError, r"unknown activation 'gelu2'"),
    ("ConvGenerator-image_size", lambda t: ConvGenerator(4, image_size=10), ValueError,
     r"image_size must be divisible by 4 \(e.g. 8, 28, 32\), got 10"),
    ("ConvGenerator-latent_dim-zero", lambda t: ConvGenerator(0), ValueError, r"latent_dim must be > 0"),
    ("ConvGenerator-channels-zero", lambda t: ConvGenerator(4, channels=0), ValueError, r"channels must be > 0"),
    ("ConvDiscriminator-image_size", lambda t: ConvDiscriminator(image_size=7), ValueError, r"image_size must be divisible by 4"),
    ("ConvDiscriminator-out_features-zero", lambda t: ConvDiscriminator(out_features=0), ValueError,
     r"out_features must be > 0"),
    ("ConvTranslator-norm-unknown", lambda t: ConvTranslator(norm="group"), ValueError, r"unknown norm 'group'; choose one of"),
    ("ConvTranslator-blocks-negative", lambda t: ConvTranslator(blocks=-1), ValueError, r"blocks must be >= 0"),
    ("ResidualBlock-channels-zero", lambda t: ResidualBlock(0), ValueError, r"channels must be > 0"),
    ("MinibatchStdDev-group_size-zero", lambda t: MinibatchStdDev(group_size=0), ValueError, r"group_size must be > 0"),
    ("MinibatchStdDev-eps-negative", lambda t: MinibatchStdDev(eps=-1.0), ValueError, r"eps must be >= 0, got -1.0"),
    ("Packed-packing-zero", lambda t: Packed(mlp(), 0), ValueError, r"packing must be > 0"),
    ("Packed-body-str", lambda t: Packed("net", 2), TypeError, r"body must be a torch.nn.Module"),
    # ---- data ----------------------------------------------------------------------------------
    ("digits-split-unknown", lambda t: igm.data.digits("val"), ValueError, r"unknown split 'val'; choose one of: all, test, train"),
    ("digits-test_fraction-one", lambda t: igm.data.digits(test_fraction=1.5), ValueError, r"test_fraction must be in \(0, 1\)"),
    ("digits-test_fraction-zero", lambda t: igm.data.digits(test_fraction=0.0), ValueError, r"test_fraction must be > 0"),
    ("mnist-split-unknown", lambda t: igm.data.mnist("validation", root=t), ValueError, r"unknown split 'validation'"),
    ("ring-modes-zero", lambda t: igm.data.ring(modes=0), ValueError, r"modes must be > 0"),
    ("ring-std-zero", lambda t: igm.data.ring(std=0.0), ValueError, r"std must be > 0"),
    ("ring-radius-negative", lambda t: igm.data.ring(radius=-1.0), ValueError, r"radius must be > 0"),
    ("grid-size-float", lambda t: igm.data.grid(size=2.5), TypeError, r"size must be an int"),
    ("grid-spacing-negative", lambda t: igm.data.grid(spacing=-2.0), ValueError, r"spacing must be > 0"),
    ("gaussian_mixture-stds-negative", lambda t: igm.data.gaussian_mixture([[0.0], [1.0]], [1.0, -1.0]), ValueError,
     r"stds must be > 0|stds.*positive"),
    ("gaussian_mixture-weights-length", lambda t: igm.data.gaussian_mixture([[0.0], [1.0]], [1.0, 1.0], [1.0]), ValueError,
     r"weights"),
    ("gaussian_mixture-weights-negative", lambda t: igm.data.gaussian_mixture([[0.0], [1.0]], [1.0, 1.0], [1.0, -1.0]),
     ValueError, r"weights"),
    ("lognormal-sigma-negative", lambda t: igm.data.lognormal(sigma=-1.0), ValueError, r"sigma must be > 0"),
    ("beta-a-zero", lambda t: igm.data.beta(a=0.0), ValueError, r"a must be > 0"),
    ("unpaired_digits-style-unknown", lambda t: igm.data.unpaired_digits("blurred"), ValueError,
     r"unknown style 'blurred'; choose one of"),
    ("apply_style-unknown", lambda t: igm.data.apply_style(images(), "sepia"), ValueError, r"unknown style 'sepia'"),
    ("rotate-k-float", lambda t: igm.data.rotate(images(), 1.5), TypeError, r"k must be an int"),
    ("thicken-width-zero", lambda t: igm.data.thicken(images(), 0), ValueError, r"width must be > 0"),
    ("thicken-0-255", lambda t: igm.data.thicken(images(8, 0, 255)), ValueError, r"pixel values in \[-1, 1\]"),
    ("unpaired_sampler-shapes", lambda t: igm.data.unpaired_sampler(images(8), torch.rand(8, 1, 4, 4)), ValueError,
     r"x and y must hold images of the same shape \(C, H, W\), got \(1, 8, 8\) and \(1, 4, 4\)"),
    ("read_idx-garbage", lambda t: igm.data.read_idx(garbage_file(t, b"\x00\x01garbage", "x.idx")), ValueError,
     r"IDX"),
    # ---- plot helpers --------------------------------------------------------------------------
    ("image_grid-2d", lambda t: igm.plot.image_grid(x2(8, 64)), ValueError, r"images must be 4-D"),
    ("history-unknown-key", lambda t: igm.plot.history({"generator": [1.0, 2.0]}, ["critic"]), ValueError,
     r"unknown key|critic.*generator"),
    ("samples-3d", lambda t: igm.plot.samples(torch.randn(8, 3)), ValueError, r"\(N, 2\)"),
    ("image_grid-0-255", lambda t: igm.plot.image_grid(255 * torch.rand(4, 1, 8, 8)), ValueError,
     r"pixels in \[-1, 1\].*x / 127.5 - 1"),
    ("image_grid-nrow-0", lambda t: igm.plot.image_grid(images(4), nrow=0), ValueError, r"nrow must be > 0, got 0"),
    ("history-list", lambda t: igm.plot.history([1.0, 2.0]), TypeError, r"hist must be a mapping .* got list"),
    ("history-smooth-0", lambda t: igm.plot.history({"generator": [1.0, 2.0]}, smooth=0), ValueError,
     r"smooth must be > 0, got 0"),
    ("density-bins-0", lambda t: igm.plot.density(samples=torch.randn(50), bins=0), ValueError, r"bins must be > 0"),
    ("median_bandwidth-negative-seed", lambda t: igm.divergences.median_bandwidth(x2(), seed=-1), ValueError,
     r"seed must be >= 0, got -1"),
    # ---- checkpoints ---------------------------------------------------------------------------
    ("load_checkpoint-missing", lambda t: igm.load_checkpoint(t / "nope.pt"), igm.CheckpointError,
     r"cannot read checkpoint .*nope.pt"),
    ("load_checkpoint-empty", lambda t: igm.load_checkpoint(garbage_file(t, b"")), igm.CheckpointError,
     r"is empty \(0 bytes\)"),
    ("load_checkpoint-foreign", lambda t: igm.load_checkpoint(garbage_file(t, b"PK\x03\x04 a zip")), igm.CheckpointError,
     r"is not an igmlib checkpoint"),
    ("load_checkpoint-bad-hash", lambda t: igm.load_checkpoint(
        garbage_file(t, b"IGMLIB-CHECKPOINT 1\n" + b"0" * 64 + b"\npayload")), igm.CheckpointError,
     r"is corrupt: its SHA-256 does not match"),
    ("load_checkpoint-directory", lambda t: igm.load_checkpoint(t), igm.CheckpointError, r"cannot read checkpoint"),
    ("load_checkpoint-int", lambda t: igm.load_checkpoint(7), TypeError,
     r"path must be a file path \(str or os.PathLike\), got int"),
    ("load_checkpoint-torch-save", lambda t: igm.load_checkpoint(_torch_saved(t)), igm.CheckpointError,
     r"is not an igmlib checkpoint"),
]


def _torch_saved(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"model": {}}, path)
    return path


@pytest.mark.parametrize("call, error, match", [pytest.param(c, e, m, id=i) for i, c, e, m in CASES])
def test_bad_input_is_refused_with_a_clear_message(call, error, match, tmp_path):
    with pytest.raises(error, match=match):
        call(tmp_path)


def test_the_table_is_large_and_its_ids_distinct():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 150
    assert all(case[3] for case in CASES)  # every row says what the message must contain
