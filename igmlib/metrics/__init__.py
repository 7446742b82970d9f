"""Metrics for implicit models, one module per kind.

- :mod:`~igmlib.metrics.samples`: sample-based scores on toys with known modes or densities.
- :mod:`~igmlib.metrics.likelihood`: held-out log-likelihoods (nats).
- :mod:`~igmlib.metrics.images`: classifier-based image scores and the reference classifier.
"""
from .images import ImageClassifier, frechet_distance, inception_score, train_classifier
from .likelihood import gaussian_log_likelihood
from .samples import ModeCoverage, histogram_kl, mixture_modes, mode_coverage

__all__ = [
    "ImageClassifier", "ModeCoverage", "frechet_distance", "gaussian_log_likelihood", "histogram_kl",
    "inception_score", "mixture_modes", "mode_coverage", "train_classifier",
]
