"""The book's models with the book's settings: one :class:`Config` per model, for three problems.

The problems are the 8-Gaussian ``"ring"``, the 25-Gaussian ``"grid"`` and the 8x8 ``"digits"``.
:func:`build` returns a fresh model with its chapter's networks, learning rates and batch size;
:data:`MODELS` also says how the evaluation harness (:mod:`igmlib.book.evaluation`, which imports
this module, never the reverse) scores each model: which sampler, and how many samples its own
log-likelihood estimate takes.

Example::

    model, fit_kwargs = igm.book.zoo.build("wgan_gp", "ring")   # fit_kwargs: batch_size, steps
    igm.fit(model, igm.book.zoo.problem_data("ring"), seed=0, **fit_kwargs)
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .._validation import check_choice

PROBLEMS = ("ring", "grid", "digits")
TOYS = ("ring", "grid")
#: What :attr:`Config.sampler` may name: the model's ``sample(n)``, or ``sample_mean(n)`` (the mean
#: of ``p(x | z)`` for a likelihood model, falling back to ``sample`` for a model without one).
SAMPLERS = ("sample", "sample_mean")
_PIXELS, _IMAGE = 64, (1, 8, 8)
#: Full-budget training steps per problem of a model whose builder names none: :func:`build` puts
#: them into the fit keyword arguments as ``steps`` (a builder's own ``steps`` wins).
STEPS = {"ring": 2000, "grid": 2000, "digits": 800}


def _mlp(n_in, n_out, hidden=(128, 128), **kw):
    from ..nets import MLP

    return MLP(n_in, n_out, hidden=hidden, **kw)


def _image_mlp(n_in, n_out, image_out=False, **kw):
    """An MLP on flattened 8x8 images (``image_out``: from a latent to images in [-1, 1])."""
    if image_out:
        return nn.Sequential(_mlp(n_in, _PIXELS, out_activation="tanh", **kw), nn.Unflatten(1, _IMAGE))
    return nn.Sequential(nn.Flatten(), _mlp(n_in, n_out, **kw))


def _conv_gan_nets(latent, width=32):
    from ..nets import ConvDiscriminator, ConvGenerator

    return ConvGenerator(latent, image_size=8, width=width), ConvDiscriminator(image_size=8, width=width)


# Each builder: problem -> (model, fit keyword arguments). Settings follow the model's chapter.
def _density_network(p):
    from ..models import DensityNetwork

    if p == "digits":  # chapter 2: 4-D latent, Gaussian pixels, 64 prior samples per estimate
        return DensityNetwork(_mlp(4, _PIXELS), 4, _IMAGE, samples=64, lr=3e-3), {"batch_size": 64}
    k, s = (1, 128) if p == "ring" else (2, 256)
    return DensityNetwork(_mlp(k, 2), k, (2,), samples=s, lr=3e-3), {"batch_size": 128}


def _moment_matching(p):
    from ..models import MomentMatching

    if p == "digits":
        return MomentMatching(_image_mlp(16, 0, True, hidden=(256, 256)), 16, lr=1e-3), {"batch_size": 256}
    return (MomentMatching(_mlp(2, 2, (64,), activation="tanh"), 2, statistics=("mean", "covariance", "third", "fourth"),
                           lr=3e-3), {"batch_size": 512})


def _gmmn(p):
    from ..models import GMMN

    if p == "digits":  # chapter 3: Li et al.'s bandwidths rescaled to 64 pixels in [-1, 1]
        scale = 64 * 2**2 / 784
        bandwidths = tuple(math.sqrt(scale * s) for s in (2, 5, 10, 20, 40, 80))
        return GMMN(_image_mlp(16, 0, True, hidden=(256, 256)), 16, bandwidths=bandwidths), {"batch_size": 256}
    return GMMN(_mlp(2, 2, (64, 64)), 2, bandwidths="median", lr=3e-3), {"batch_size": 256}


# chapter 4: the plain GAN's steps on each problem, and the stabilised toy GAN that converges (gan_best)
_GAN_STEPS = {"ring": 2000, "grid": 2000, "digits": 1500}
_GAN_BEST_TOY = {"lr": 2e-3, "penalty": "r1", "penalty_weight": 1.0, "ema": 0.999, "decay_start": 0.5}
_GAN_BEST_STEPS = {"ring": 12000, "grid": 12000}
# the R1 GAN on the digits: Mescheder et al.'s gamma = 10 (GAN's default), the generator's
# weight average and lr 5e-4 decaying over the second half of 6000 steps (about a minute on one core)
_GAN_R1_DIGITS = {"ema": 0.999, "decay_start": 0.5}
_GAN_R1_DIGITS_STEPS = 6000


def _gan(penalty=None, weight=None):
    def build_gan(p):
        from ..models import GAN

        if p == "digits":
            kw = {"batch_size": 64} if penalty else {"batch_size": 64, "steps": _GAN_STEPS[p]}
            if penalty == "r1":  # converged: gamma = 10, the generator's weight average, decay, more steps
                kw["steps"] = _GAN_R1_DIGITS_STEPS
                return GAN(*_conv_gan_nets(32), 32, lr=5e-4, penalty=penalty, penalty_weight=weight,
                           **_GAN_R1_DIGITS), kw
            return GAN(*_conv_gan_nets(32), 32, lr=5e-4, penalty=penalty, penalty_weight=weight), kw
        if penalty is None:  # chapter 4
            return GAN(_mlp(2, 2), _mlp(2, 1), 2, lr=5e-4), {"batch_size": 256, "steps": _GAN_STEPS[p]}
        toy_weight = 0.1 if weight is None else weight  # chapter 6: gamma = 0.1 on the grid
        return (GAN(_mlp(2, 2, (64, 64)), _mlp(2, 1, (64, 64)), 2, lr=1e-3, penalty=penalty, penalty_weight=toy_weight),
                {"batch_size": 256})

    return build_gan


def _gan_best(p):
    from ..models import GAN

    # chapter 4: R1 (gamma = 1), the generator's weight average, lr 2e-3 decaying over the second half
    return (GAN(_mlp(2, 2, (64, 64)), _mlp(2, 1, (64, 64)), 2, **_GAN_BEST_TOY),
            {"batch_size": 256, "steps": _GAN_BEST_STEPS[p]})


def bounded_kl(bound: float = 4.0):
    """The KL row of the f-GAN table with a bounded output activation ``T = bound * tanh(V / bound)``.

    Any ``T`` inside ``dom f*`` (all reals for KL) gives a lower bound on ``KL(P || Q)``, so the
    objective stays a valid bound; it is tight only where ``T* = 1 + log(p / q)`` lies within
    ``(-bound, bound)``. Nowozin et al.'s ``g_f(v) = v`` lets the critic push ``T`` on the data up
    without limit while the data and the model are still apart (chapter 5 measures it on the digits).

    Returns:
        An :class:`igmlib.divergences.FDivergence` to pass as ``FGAN(..., divergence=bounded_kl())``.
    """
    import dataclasses

    from ..divergences import F_DIVERGENCES

    def activation(v):
        return bound * torch.tanh(v / bound)

    return dataclasses.replace(F_DIVERGENCES["kl"], label=f"Kullback-Leibler, T = {bound:g} tanh(V / {bound:g})",
                               activation=activation,
                               conjugate_of_activation=lambda v: torch.exp(activation(v) - 1))


def _fgan(divergence):
    def build_fgan(p):
        from ..models import FGAN

        if p == "digits":  # chapter 5: MLPs on flattened digits
            g = _image_mlp(16, 0, True, activation="leaky_relu")
            c = _image_mlp(_PIXELS, 1, activation="leaky_relu")
            if divergence == "kl":  # chapter 5: KL's T = V is unbounded and the critic runs away; bound it
                return (FGAN(g, c, 16, divergence=bounded_kl(), lr=2e-4, ema=0.999, decay_start=0.5),
                        {"batch_size": 128, "steps": 6000})
            return FGAN(g, c, 16, divergence=divergence, lr=5e-4), {"batch_size": 128}
        return FGAN(_mlp(2, 2), _mlp(2, 1), 2, divergence=divergence, lr=5e-4), {"batch_size": 256}

    return build_fgan


def _wgan(constraint):
    def build_wgan(p):
        from ..models import WGAN

        if p == "digits":  # the papers' defaults: RMSProp 5e-5 (clip), Adam 1e-4 (0.5, 0.9) and lambda 10 (GP)
            return WGAN(*_conv_gan_nets(32), 32, constraint=constraint), {"batch_size": 64}
        if constraint == "gp":  # chapter 6: lambda = 0.1 on toys (Gulrajani et al.'s toy setting)
            return (WGAN(_mlp(2, 2, (64, 64)), _mlp(2, 1, (64, 64)), 2, constraint="gp", gp_weight=0.1, lr=1e-3,
                         betas=(0.5, 0.9)), {"batch_size": 256})
        return WGAN(_mlp(2, 2, (64, 64)), _mlp(2, 1, (64, 64)), 2, constraint="clip"), {"batch_size": 256}

    return build_wgan


def _ali(stochastic):
    def build_ali(p):
        from ..models import ALI, PairDiscriminator
        from ..nets import ConvDiscriminator, ConvGenerator

        out = 2 if stochastic else 1
        if p == "digits":  # chapter 10: conv generator and encoder, a pair discriminator
            k, w = 16, 32
            disc = PairDiscriminator(ConvDiscriminator(8, width=w, out_features=128),
                                     _mlp(k, 128, (128,), activation="leaky_relu"),
                                     _mlp(256, 1, (256,), activation="leaky_relu"), latent_dim=k)
            return (ALI(ConvGenerator(k, 8, width=w), ConvDiscriminator(8, width=w, out_features=out * k), disc, k,
                        stochastic=stochastic, lr=5e-4), {"batch_size": 64})
        return (ALI(_mlp(2, 2), _mlp(2, out * 2), _mlp(4, 1), 2, stochastic=stochastic, lr=1e-3),
                {"batch_size": 256})

    return build_ali


def _vae(p):
    from ..models import VAE

    if p == "digits":  # chapter 11: 8-D latent, Bernoulli decoder on grey levels; 4000 steps (about 10 s)
        return VAE(_image_mlp(_PIXELS, 16, hidden=(256, 256)), _mlp(8, _PIXELS, (256, 256)), 8,
                   event_shape=_IMAGE), {"batch_size": 128, "steps": 4000}
    return VAE(_mlp(2, 4), _mlp(2, 2), 2, likelihood="gaussian"), {"batch_size": 256}


def _avb(p):
    from ..models import AVB

    if p == "digits":  # chapter 11
        return (AVB(_mlp(_PIXELS + 8, 8, (256, 256)), _mlp(8, _PIXELS, (256, 256)),
                    _mlp(_PIXELS + 8, 1, (256, 256), activation="elu"), 8, event_shape=_IMAGE, lr=5e-4,
                    lr_adversary=2e-3, adversary_updates=2), {"batch_size": 128, "steps": 4000})
    return (AVB(_mlp(2 + 16, 2, (64, 64), activation="elu"), _mlp(2, 2), _mlp(2 + 2, 1, activation="elu"), 2,
                noise_dim=16, likelihood="gaussian", lr=5e-4, lr_adversary=2e-3, adversary_updates=2),
            {"batch_size": 256})


def _mmd_gan(p):
    from ..models import MMDGAN

    # chapter 6: Binkowski et al.'s kernel and penalty, batch 64, lr 2e-3 decaying over the second half
    return MMDGAN(_mlp(2, 2, (64, 64)), _mlp(2, 16, (64, 64)), 2, lr=2e-3, decay_start=0.5), {"batch_size": 64}


def _infogan(p):
    from ..models import InfoGAN
    from ..nets import ConvDiscriminator, ConvGenerator

    # chapter 8: 6 noise variables, a 10-way categorical code, 2 continuous codes weighted 0.1 (the
    # paper's advice for continuous codes); lr 6e-4 for both players (the paper's G rate of 1e-3 against
    # D's 2e-4 collapses the samples on the digits), the generator's weight average and lr decay over
    # the second half of 8000 steps. benchmarks/infogan_settings.py measures the alternatives.
    k = 6
    return (InfoGAN(ConvGenerator(k + 10 + 2, 8, width=32), ConvDiscriminator(8, width=32, out_features=128), k,
                    continuous_weight=0.1, lr=6e-4, ema=0.999, decay_start=0.5), {"batch_size": 64, "steps": 8000})


# chapter 7 (mode collapse): one toy protocol for the GAN and its three remedies
_REMEDY_TOY = {"lr": 2e-3, "decay_start": 0.3}
_REMEDY_PACKS = 128  # minibatch of packs on the toys (PacGAN keeps the number of packs, not of samples)
_REMEDY_STEPS, _UNROLLED_STEPS = 5000, 2000


def _pacgan(m):
    def build_pacgan(p):
        from ..models import GAN
        from ..nets import Packed

        return (GAN(_mlp(2, 2), Packed(_mlp(2 * m, 1), m), 2, **_REMEDY_TOY),
                {"batch_size": _REMEDY_PACKS * m, "steps": _REMEDY_STEPS})

    return build_pacgan


def _gan_mbstd(p):
    from ..models import GAN

    return (GAN(_mlp(2, 2), _mlp(2, 1, minibatch_std=4), 2, **_REMEDY_TOY),
            {"batch_size": _REMEDY_PACKS, "steps": _REMEDY_STEPS})


def _unrolled_gan(p):
    from ..models import UnrolledGAN

    return (UnrolledGAN(_mlp(2, 2), _mlp(2, 1), 2, unrolled_steps=5, **_REMEDY_TOY),
            {"batch_size": _REMEDY_PACKS, "steps": _UNROLLED_STEPS})


@dataclass(frozen=True)
class Config:
    """One model of the book: where it runs, how it is built, and how the harness scores it.

    Attributes:
        build: ``build(problem) -> (model, fit keyword arguments)`` with the chapter's settings.
        problems: the problems it has a configuration for.
        sampler: the method :func:`igmlib.book.evaluation.evaluate` draws the scored samples with:
            ``"sample"``, or ``"sample_mean"`` (the means of ``p(x | z)``, for a likelihood model
            whose noisy draws are not what its chapter shows; ``sample`` if the model has no
            ``sample_mean``).
        likelihood_samples: samples per data point of the model's own ``log p(x)`` estimate
            (``model.log_likelihood(x, k)``; unused for a model without one).
    """

    build: Callable[[str], tuple[nn.Module, dict]]
    problems: tuple[str, ...] = PROBLEMS
    sampler: str = "sample"
    likelihood_samples: int = 200

    def __post_init__(self):
        check_choice(self.sampler, "sampler", SAMPLERS)


#: name -> :class:`Config`, in the book's order. CycleGAN is not here: it translates between two
#: domains and has no unconditional samples to score.
MODELS: dict[str, Config] = {
    # a Monte Carlo estimate over the prior needs many more samples than importance sampling
    "density_network": Config(_density_network, likelihood_samples=4096),
    "moment_matching": Config(_moment_matching),
    "gmmn": Config(_gmmn),
    "gan": Config(_gan()),
    "gan_best": Config(_gan_best, problems=TOYS),
    "fgan_kl": Config(_fgan("kl")),
    "fgan_reverse_kl": Config(_fgan("reverse_kl")),
    "wgan_clip": Config(_wgan("clip")),
    "wgan_gp": Config(_wgan("gp")),
    "gan_dp": Config(_gan("gan_dp")),
    "gan_r1": Config(_gan("r1")),
    "mmd_gan": Config(_mmd_gan, problems=("ring", "grid")),
    "infogan": Config(_infogan, problems=("digits",)),
    "ali": Config(_ali(True)),
    "bigan": Config(_ali(False)),
    # chapter 11 shows the decoder's means, not noisy draws of p(x | z): score those
    "vae": Config(_vae, sampler="sample_mean"),
    "avb": Config(_avb, sampler="sample_mean"),
    # chapter 7: remedies for mode collapse, on the toys
    "pacgan2": Config(_pacgan(2), problems=TOYS),
    "pacgan4": Config(_pacgan(4), problems=TOYS),
    "gan_mbstd": Config(_gan_mbstd, problems=TOYS),
    "unrolled_gan": Config(_unrolled_gan, problems=TOYS),
}


def supports(name: str, problem: str) -> bool:
    """Whether :func:`build` has a configuration of ``name`` for ``problem``.

    Raises:
        ValueError: an unknown model or problem name (the message lists the valid ones).
    """
    check_choice(name, "model name", tuple(MODELS))
    return check_choice(problem, "problem", PROBLEMS) in MODELS[name].problems


def build(name: str, problem: str, *, device: torch.device | str | None = None) -> tuple[nn.Module, dict]:
    """A fresh, untrained model of the book with its chapter's settings for one problem.

    Seed first (:func:`igmlib.seed_everything`) for reproducible initial weights.

    Args:
        name: a key of :data:`MODELS`: ``density_network``, ``moment_matching``, ``gmmn``, ``gan``,
            ``gan_best`` (toys only: chapter 4's GAN with R1, a weight average and learning-rate decay),
            ``fgan_kl``, ``fgan_reverse_kl``, ``wgan_clip``, ``wgan_gp``, ``gan_dp``, ``gan_r1``, ``mmd_gan`` (toys only),
            ``infogan`` (digits only), ``ali``, ``bigan`` (ALI with a deterministic encoder), ``vae``, ``avb``,
            ``pacgan2``, ``pacgan4`` (packed discriminators), ``gan_mbstd`` (minibatch standard deviation),
            ``unrolled_gan`` (5 unrolled steps; these four: toys only, chapter 7).
        problem: ``"ring"``, ``"grid"`` or ``"digits"``.
        device: where to put the model (default: :func:`igmlib.device`).

    Returns:
        ``(model, fit_kwargs)``: the model on ``device`` and the keyword arguments for
        :func:`igmlib.fit` from the chapter: ``batch_size`` and the full-budget ``steps`` (the
        chapter's, else :data:`STEPS`), so ``igm.fit(model, problem_data(problem), seed=s, **fit_kwargs)``
        reproduces a row of the full-budget leaderboard.

    Raises:
        ValueError: an unknown name or problem, or a pair without a configuration (e.g. InfoGAN on a toy).
    """
    if not supports(name, problem):
        raise ValueError(f"model {name!r} has no configuration for problem {problem!r}; it supports: "
                         f"{', '.join(MODELS[name].problems)}")
    from ..runtime import device as default_device

    model, fit_kwargs = MODELS[name].build(problem)
    return model.to(default_device() if device is None else device), {"steps": STEPS[problem], **fit_kwargs}


def problem_data(problem: str, split: str = "train"):
    """The training data of a problem: a toy Distribution, or the digit images ``(N, 1, 8, 8)`` of ``split``.

    Raises:
        ValueError: an unknown problem.
    """
    from .. import data

    check_choice(problem, "problem", PROBLEMS)
    if problem == "ring":
        return data.ring()
    if problem == "grid":
        return data.grid()
    return data.digits(split).x


__all__ = ["MODELS", "PROBLEMS", "SAMPLERS", "STEPS", "TOYS", "Config", "bounded_kl", "build", "problem_data",
           "supports"]
