"""Data: toy distributions (``torch.distributions``) and image sets as tensors in [-1, 1]."""
from .images import Images, digits, load_idx_pair, mnist, read_idx
from .toy import ParallelLine, beta, gaussian_mixture, grid, lognormal, parallel_line, ring

__all__ = [
    "Images", "ParallelLine", "beta", "digits", "gaussian_mixture", "grid", "load_idx_pair",
    "lognormal", "mnist", "parallel_line", "read_idx", "ring",
]
