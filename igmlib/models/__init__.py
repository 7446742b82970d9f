"""Models: one module per family, each an ``nn.Module`` with ``players()`` and ``sample(n)``."""
from .base import LatentSampler, adam
from .gan import GAN

__all__ = ["GAN", "LatentSampler", "adam"]
