"""Models: one module per family, each an ``nn.Module`` with ``players()`` and ``sample(n)``."""
from .base import LatentSampler, adam
from .density_network import DensityNetwork
from .gan import GAN
from .moment_matching import GMMN, MomentMatching
from .ratio import RatioEstimator

__all__ = ["DensityNetwork", "GAN", "GMMN", "LatentSampler", "MomentMatching", "RatioEstimator", "adam"]
