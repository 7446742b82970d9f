"""Models: one module per family, each an ``nn.Module`` whose ``players()`` the one training loop
(:func:`igmlib.fit`) runs; generative models also have ``sample(n)``."""
from .ali import ALI, PairDiscriminator
from .avb import AVB, GaussianSampler
from .base import LatentPrior, LatentSampler, LikelihoodModel, adam
from .conditional_gan import ConditionalGAN
from .cyclegan import CycleGAN, ImageHistory, cycle_consistency_loss
from .density_network import DensityNetwork
from .fgan import FGAN
from .gan import GAN
from .infogan import InfoGAN
from .mmd_gan import MMDGAN
from .moment_matching import GMMN, MomentMatching
from .ratio import RatioEstimator
from .unrolled import UnrolledGAN
from .vae import VAE
from .wae import WAE
from .wgan import WGAN

__all__ = [
    "ALI", "AVB", "ConditionalGAN", "FGAN", "GAN", "GMMN", "MMDGAN", "VAE", "WAE", "WGAN", "CycleGAN", "DensityNetwork", "GaussianSampler",
    "ImageHistory", "InfoGAN", "LatentPrior", "LatentSampler", "LikelihoodModel", "MomentMatching", "PairDiscriminator", "RatioEstimator", "UnrolledGAN", "adam",
    "cycle_consistency_loss",
]
