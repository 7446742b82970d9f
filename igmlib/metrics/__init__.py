"""Metrics for implicit models, one module per kind.

- :mod:`~igmlib.metrics.samples`: sample-based scores on toys with known modes or densities.
- :mod:`~igmlib.metrics.two_sample`: classifier two-sample test, improved precision and recall.
- :mod:`~igmlib.metrics.features`: kernel inception distance (KID), density and coverage.
- :mod:`~igmlib.metrics.likelihood`: held-out log-likelihoods (nats).
- :mod:`~igmlib.metrics.images`: classifier-based image scores (the classifier is an argument:
  :mod:`igmlib.classifiers` trains one) and label-based scores.
- :mod:`~igmlib.metrics.representation`: linear probes of learned features, mode agreement of reconstructions.
"""
from .features import KID, DensityCoverage, density_coverage, kid
from .images import (
    classifier_accuracy, classifier_frechet_distance, cluster_accuracy, frechet_distance, inception_score,
    label_preservation, match_clusters,
)
from .likelihood import BandwidthSelection, gaussian_log_likelihood, parzen_log_likelihood, select_parzen_bandwidth
from .representation import linear_probe, same_mode_rate
from .samples import ModeCoverage, histogram_kl, mixture_modes, mode_coverage
from .samples import mode_kl, toy_log_likelihood, wasserstein_1d
from .two_sample import PrecisionRecall, TwoSampleTest, precision_recall, two_sample_accuracy

__all__ = [
    "BandwidthSelection", "parzen_log_likelihood", "select_parzen_bandwidth",
    "ModeCoverage", "frechet_distance", "gaussian_log_likelihood", "histogram_kl",
    "inception_score", "linear_probe", "mixture_modes", "mode_coverage", "same_mode_rate",
    "classifier_accuracy", "classifier_frechet_distance", "cluster_accuracy", "label_preservation",
    "match_clusters",
    "mode_kl", "toy_log_likelihood", "wasserstein_1d",
    "PrecisionRecall", "TwoSampleTest", "precision_recall", "two_sample_accuracy",
    "KID", "DensityCoverage", "density_coverage", "kid",
]
