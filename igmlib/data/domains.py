"""Unpaired image domains for image-to-image translation (CycleGAN), built from labelled images.

A *style* is a pure, documented transform of images ``(N, C, H, W)`` in [-1, 1] (ink is +1, the
background -1). :func:`unpaired_domains` splits one image set into two halves with no image in
common, keeps the first half as domain X and applies the style to the second half, domain Y. No
image of X has its translation in Y, so there are no pairs to learn from: only the two
distributions. The labels are kept, for evaluation only (a translation should keep the digit).

Example::

    domains = igm.data.unpaired_digits("rotated")          # X: upright digits, Y: rotated ones
    history = igm.fit(model, domains.sampler(), steps=1000)  # minibatches (x, y), drawn independently
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .._validation import check_choice, check_pixel_range, check_positive_int, check_tensor
from .images import SPLITS, Images, digits

Sampler = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


def _check_images(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Images ``(N, C, H, W)`` with pixels in [-1, 1] (TypeError / ValueError otherwise)."""
    check_tensor(x, name, ndim=4)
    check_pixel_range(x, name)
    return x


def thicken(x: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Thicken the strokes horizontally, like a bold font: a grey-scale dilation with a ``1 x width``
    kernel (max-pooling, stride 1), so each pixel becomes the maximum of itself and the
    ``width - 1`` pixels to its left.

    On 8x8 digits one extra pixel (``width=2``) is already a strong change; a 3x3 dilation turns most
    digits into blobs. Not invertible (thin gaps close). Shapes: ``(N, C, H, W) -> (N, C, H, W)``;
    values stay in the input's range.

    Raises:
        TypeError / ValueError: ``x`` not 4-D float images with pixels in [-1, 1], ``width`` not an int > 0.
    """
    _check_images(x)
    check_positive_int(width, "width")
    padded = F.pad(x, (width - 1, 0, 0, 0), value=float("-inf"))  # pad on the left only
    return F.max_pool2d(padded, kernel_size=(1, width), stride=1)


def invert(x: torch.Tensor) -> torch.Tensor:
    """Swap ink and background: ``-x`` (pixels in [-1, 1]). Its own inverse."""
    return -_check_images(x)


def rotate(x: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Rotate square images by ``k`` quarter turns counter-clockwise (``torch.rot90`` on the last two
    dimensions); ``rotate(x, -k)`` undoes it.

    Raises:
        TypeError / ValueError: ``x`` not 4-D images in [-1, 1], not square, or ``k`` not an int.
    """
    _check_images(x)
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int (quarter turns, negative for clockwise), got {type(k).__name__} ({k!r})")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotate needs square images, got {x.shape[-2]}x{x.shape[-1]}")
    return torch.rot90(x, k, dims=(-2, -1))


def mirror(x: torch.Tensor) -> torch.Tensor:
    """Mirror left-right (``torch.flip`` on the last dimension). Its own inverse."""
    return torch.flip(_check_images(x), dims=(-1,))


# style -> (transform X -> Y, its inverse Y -> X or None)
STYLES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor] | None]] = {
    "thick": (thicken, None),
    "inverted": (invert, invert),
    "rotated": (rotate, lambda y: rotate(y, -1)),
    "mirrored": (mirror, mirror),
}


def apply_style(x: torch.Tensor, style: str) -> torch.Tensor:
    """Map images of domain X to domain Y with the named style (see :data:`STYLES`).

    Raises:
        ValueError: unknown ``style`` (the message lists the valid ones) or ``x`` not 4-D.
    """
    return STYLES[check_choice(style, "style", STYLES)][0](x)


def undo_style(y: torch.Tensor, style: str) -> torch.Tensor:
    """The exact inverse of :func:`apply_style`: map images of domain Y back to X.

    Used to evaluate a learned translation ``G: X -> Y`` with a classifier trained on X:
    ``classifier(undo_style(G(x)))`` should still name the digit of ``x``.

    Raises:
        ValueError: unknown ``style``, or a style with no inverse (``"thick"``).
    """
    inverse = STYLES[check_choice(style, "style", STYLES)][1]
    if inverse is None:
        invertible = ", ".join(sorted(s for s, (_, inv) in STYLES.items() if inv is not None))
        raise ValueError(f"style {style!r} has no inverse (it loses information); invertible styles: {invertible}")
    return inverse(y)


def unpaired_sampler(x: torch.Tensor, y: torch.Tensor) -> Sampler:
    """A data source for :func:`igmlib.fit`: ``n -> (x_batch, y_batch)``, ``n`` images of each domain
    drawn independently (without replacement within a batch) from torch's global RNG.

    ``fit`` draws minibatches of a tuple of tensors with one shared index, which would pair the
    domains; this sampler draws one index per domain instead.

    Raises:
        TypeError / ValueError: ``x`` or ``y`` not 4-D float images with pixels in [-1, 1], or images
            of different shapes ``(C, H, W)`` in the two domains; a batch larger than either domain
            (raised when drawing).
    """
    _check_images(x, "x")
    _check_images(y, "y")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y must hold images of the same shape (C, H, W), got {tuple(x.shape[1:])} and "
                         f"{tuple(y.shape[1:])}: resize one domain (e.g. torch.nn.functional.interpolate)")

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        check_positive_int(n, "n")
        if n > min(len(x), len(y)):
            raise ValueError(f"batch of {n} exceeds a domain ({len(x)} and {len(y)} images): lower batch_size")
        return x[torch.randperm(len(x))[:n]], y[torch.randperm(len(y))[:n]]

    return draw


class UnpairedDomains(NamedTuple):
    """Two unpaired image domains.

    Attributes:
        x: :class:`Images` of domain X (untransformed), labels for evaluation only.
        y: :class:`Images` of domain Y (``apply_style`` of *other* images).
        x_index, y_index: positions of the images in the source set; disjoint.
        style: the style name.
    """

    x: Images
    y: Images
    x_index: torch.Tensor
    y_index: torch.Tensor
    style: str

    def sampler(self) -> Sampler:
        """``n -> (x_batch, y_batch)`` for :func:`igmlib.fit` (see :func:`unpaired_sampler`)."""
        return unpaired_sampler(self.x.x, self.y.x)


def unpaired_domains(images: Images, style: str = "rotated", *, seed: int = 0) -> UnpairedDomains:
    """Split labelled images into two disjoint halves: X as they are, Y with ``style`` applied.

    Args:
        images: :class:`Images` ``(N, C, H, W)`` in [-1, 1], e.g. :func:`igmlib.data.mnist`.
        style: ``"thick"`` (strokes one pixel wider), ``"inverted"`` (``-x``), ``"rotated"`` (a quarter turn)
            or ``"mirrored"`` (left-right).
        seed: seed of the random split (a local generator: the global RNG is untouched).

    Returns:
        :class:`UnpairedDomains` with ``N // 2`` images in X and the rest in Y.

    Raises:
        ValueError: unknown ``style``, fewer than 2 images, or images that are not 4-D.
    """
    check_choice(style, "style", STYLES)
    x, labels = images
    _check_images(x)
    if len(x) < 2:
        raise ValueError(f"need at least 2 images to split into two domains, got {len(x)}")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(x.device)
    half = len(x) // 2
    ix, iy = perm[:half].sort().values, perm[half:].sort().values
    return UnpairedDomains(
        Images(x[ix].contiguous(), labels[ix].contiguous()),
        Images(apply_style(x[iy], style).contiguous(), labels[iy].contiguous()),
        ix, iy, style,
    )


def unpaired_digits(style: str = "rotated", *, split: str = "train", seed: int = 0) -> UnpairedDomains:
    """Unpaired domains from the bundled 8x8 digits: :func:`unpaired_domains` of
    :func:`igmlib.data.digits` ``(split)`` (1,437 train images: 718 in X, 719 in Y).

    Raises:
        ValueError: unknown ``style`` or ``split``.
    """
    check_choice(style, "style", STYLES)
    check_choice(split, "split", SPLITS)
    return unpaired_domains(digits(split), style, seed=seed)
