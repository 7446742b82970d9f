"""Divergences between distributions.

- :mod:`~igmlib.divergences.kernels`: Gaussian kernels, the median heuristic and the MMD, for
  distributions known only through samples. Kernel convention (used everywhere in igmlib):
  ``k_h(x, y) = exp(-||x - y||^2 / (2 h^2))`` with the bandwidth ``h`` a length in the units of
  ``x``; a sequence of bandwidths means the sum of the kernels (GMMN's multi-scale loss); samples
  ``(N, ...)`` are flattened to ``(N, features)``.
- :mod:`~igmlib.divergences.kernel_mmd`: the unbiased MMD from any kernel's matrices, and the
  heavy-tailed rational-quadratic (MMD GAN) and inverse-multiquadratics (WAE) kernels.
- :mod:`~igmlib.divergences.f`: the f-divergence table of f-GAN (``f``, ``f*``, ``g_f``, ``f'(1)``)
  and its variational lower bound; the alpha-divergences (:func:`~igmlib.divergences.alpha_divergence`).
- :mod:`~igmlib.divergences.gaussian`: the closed-form KL of a diagonal Gaussian from ``N(0, I)``.
- :mod:`~igmlib.divergences.information`: variational lower bounds on the mutual information of a
  code and a sample (InfoGAN's).
"""
from .f import (
    F_DIVERGENCES,
    FDivergence,
    alpha_divergence,
    f_divergence,
    f_divergence_bound,
    log1mexp,
    log_wright_omega,
)
from .gaussian import gaussian_kl
from .information import gaussian_information_bound, mutual_information_bound
from .kernel_mmd import inverse_multiquadratic_kernel, rational_quadratic_kernel, unbiased_mmd2
from .kernels import (
    Bandwidth,
    gaussian_kernel,
    median_bandwidth,
    mmd2,
    squared_distances,
)

__all__ = [
    "F_DIVERGENCES",
    "Bandwidth",
    "FDivergence",
    "alpha_divergence",
    "f_divergence",
    "f_divergence_bound",
    "gaussian_information_bound",
    "gaussian_kernel",
    "gaussian_kl",
    "inverse_multiquadratic_kernel",
    "log1mexp",
    "log_wright_omega",
    "median_bandwidth",
    "mmd2",
    "mutual_information_bound",
    "rational_quadratic_kernel",
    "squared_distances",
    "unbiased_mmd2",
]
