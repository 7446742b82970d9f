"""Data: toy distributions (``torch.distributions``) and image sets as tensors in [-1, 1]."""
from .domains import (
    STYLES, UnpairedDomains, apply_style, invert, mirror, rotate, thicken, undo_style, unpaired_digits,
    unpaired_domains, unpaired_sampler,
)
from .images import Images, data_dir, digits, fashion_mnist, load_idx_pair, mnist, read_idx
from .toy import ParallelLine, beta, gaussian_mixture, grid, lognormal, parallel_line, ring

__all__ = [
    "Images", "ParallelLine", "beta", "data_dir", "digits", "fashion_mnist", "gaussian_mixture", "grid", "load_idx_pair",
    "lognormal", "mnist", "parallel_line", "read_idx", "ring",
    "STYLES", "UnpairedDomains", "apply_style", "invert", "mirror", "rotate", "thicken", "undo_style",
    "unpaired_digits", "unpaired_domains", "unpaired_sampler",
]
