"""Networks: an MLP and small convolutional generators / discriminators for square images.

The convolutional nets work for any ``image_size`` divisible by 4 (8x8 digits, 28x28 MNIST,
32x32): two stride-2 (transposed) convolutions between ``image_size / 4`` and ``image_size``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._validation import check_choice, check_image_size, check_positive, check_positive_int

#: The activations of igmlib, by name: every network (:class:`MLP`) and the 1-D push-forward
#: networks (:func:`igmlib.pushforward.one_layer_network`, the book's widgets) take these names.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`); elementwise, no parameters.

    Raises:
        TypeError / ValueError: ``name`` is not one of the names (the message lists them).
    """
    return ACTIVATIONS[check_choice(name, "activation", ACTIVATIONS)]()


def spectral_normalise(module: nn.Module) -> nn.Module:
    """Apply spectral normalisation to every ``Linear`` and ``Conv1d/2d/3d`` layer of ``module``, in
    place, and return ``module``.

    Each weight ``W`` is used as ``W / sigma(W)``, ``sigma`` the largest singular value of ``W``
    reshaped to ``(out_channels, -1)``, estimated by one power iteration per forward pass in train
    mode (``torch.nn.utils.parametrizations.spectral_norm``; the vectors ``u``, ``v`` are buffers, so
    checkpoints resume exactly). Every such layer is then 1-Lipschitz in that matrix norm, which
    bounds the network's Lipschitz constant with 1-Lipschitz activations. The raw weight is
    ``layer.parametrizations.weight.original``.

    Raises:
        TypeError: ``module`` is not an ``nn.Module``.

    References:
        Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018, section 2 (``W / sigma(W)``) and Algorithm 1 (one power iteration
        per update).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.utils.parametrizations.spectral_norm(layer)
    return module


class MLP(nn.Sequential):
    """A fully connected network ``in_features -> hidden... -> out_features``.

    Args:
        in_features: input size ``d_in``.
        out_features: output size ``d_out``.
        hidden: widths of the hidden layers (may be empty: a linear map).
        activation: hidden activation, one of ``relu, leaky_relu, tanh, softplus, elu, sigmoid, identity``.
        out_activation: activation after the last layer (default: none, i.e. logits).
        batch_norm: BatchNorm1d after each hidden linear layer.
        spectral_norm: spectral normalisation of every linear layer (:func:`spectral_normalise`):
            for discriminators and critics, whose Lipschitz constant it bounds (SN-GAN's
            discriminators have no BatchNorm; ``batch_norm=True`` keeps it if asked).
        minibatch_std: the group size of a :class:`MinibatchStdDev` layer inserted before the last
            linear layer (which then takes one more input), for discriminators (ProGAN: 4);
            ``None`` (default): none.

    Shapes:
        ``(N, in_features) -> (N, out_features)``.

    Raises:
        TypeError / ValueError: non-positive sizes or an unknown activation name.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (128, 128),
        *,
        activation: str = "relu",
        out_activation: str | None = None,
        batch_norm: bool = False,
        spectral_norm: bool = False,
        minibatch_std: int | None = None,
    ):
        check_positive_int(in_features, "in_features")
        check_positive_int(out_features, "out_features")
        widths = [in_features, *[check_positive_int(h, "hidden width") for h in hidden]]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(a, b))
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(make_activation(activation))
        if minibatch_std is not None:  # one more feature: the group's mean standard deviation
            layers.append(MinibatchStdDev(minibatch_std))
        layers.append(nn.Linear(widths[-1] + (minibatch_std is not None), out_features))
        if out_activation is not None:
            layers.append(make_activation(out_activation))
        super().__init__(*layers)
        self.in_features, self.out_features = in_features, out_features
        if spectral_norm:
            spectral_normalise(self)


class ConvGenerator(nn.Module):
    """DCGAN-style generator: ``z -> (channels, image_size, image_size)`` with pixels in [-1, 1].

    Linear to ``(2 width, s/4, s/4)``, then two stride-2 transposed convolutions with BatchNorm
    and ReLU, ``tanh`` output.

    Args:
        latent_dim: size of ``z``.
        image_size: side ``s`` in pixels, divisible by 4.
        channels: image channels.
        width: base number of feature maps.

    Shapes:
        ``(N, latent_dim) -> (N, channels, s, s)``.

    References:
        Radford, Metz, Chintala, "DCGAN", ICLR 2016, section 3 (architecture guidelines).
    """

    def __init__(self, latent_dim: int, image_size: int = 8, channels: int = 1, width: int = 64):
        super().__init__()
        check_positive_int(latent_dim, "latent_dim")
        check_positive_int(channels, "channels")
        check_positive_int(width, "width")
        s = check_image_size(image_size) // 4
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * s * s), nn.BatchNorm1d(2 * width * s * s), nn.ReLU(),
            nn.Unflatten(1, (2 * width, s, s)),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z))  # (N, C, s, s)


class ConvDiscriminator(nn.Module):
    """DCGAN-style discriminator / critic / encoder body: an image to ``out_features`` numbers.

    Two stride-2 convolutions with LeakyReLU(0.2), then a linear layer. It has no normalisation
    layers (so it is safe with gradient penalties), with or without ``spectral_norm``: SN-GAN's
    discriminators have none either, spectral normalisation replaces them.

    Args:
        image_size: side ``s`` in pixels, divisible by 4.
        channels: image channels.
        width: base number of feature maps.
        out_features: outputs (1 logit for a discriminator; more for an encoder or a Q head).
        spectral_norm: spectral normalisation of both convolutions and the linear layer
            (:func:`spectral_normalise`; Miyato et al. 2018).

    Shapes:
        ``(N, channels, s, s) -> (N, out_features)``.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, width: int = 64, out_features: int = 1, *,
                 spectral_norm: bool = False):
        super().__init__()
        check_positive_int(channels, "channels")
        check_positive_int(width, "width")
        check_positive_int(out_features, "out_features")
        s = check_image_size(image_size) // 4
        self.image_size, self.channels = image_size, channels
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(),  # (N, 2 width s s)
        )
        self.head = nn.Linear(2 * width * s * s, out_features)
        if spectral_norm:
            spectral_normalise(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape (N, {expected[0]}, {expected[1]}, {expected[2]}), got {tuple(x.shape)}"
            )
        return self.head(self.features(x))



NORMS = {"none": lambda c: nn.Identity(), "instance": lambda c: nn.InstanceNorm2d(c, affine=True)}


class ResidualBlock(nn.Module):
    """``x + body(x)`` with ``body`` = conv3x3, norm, ReLU, conv3x3, norm (``norm``: ``"none"`` or
    ``"instance"``).

    Shapes:
        ``(N, channels, H, W) -> (N, channels, H, W)``.

    References:
        He et al., "Deep Residual Learning", CVPR 2016; the block of Johnson et al. 2016 that
        CycleGAN's generator uses (Zhu et al. 2017, appendix 7.2).
    """

    def __init__(self, channels: int, norm: str = "none"):
        super().__init__()
        check_positive_int(channels, "channels")
        make = NORMS[check_choice(norm, "norm", NORMS)]
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), make(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), make(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvTranslator(nn.Module):
    """A small image-to-image generator (CycleGAN's, scaled down): image -> image of the same size.

    conv3x3 (``channels -> width``), ReLU, ``blocks`` :class:`ResidualBlock`, ReLU, conv3x3
    (``width -> channels``), ``tanh``. All convolutions keep the resolution, so each output pixel
    sees a ``(4 blocks + 5)``-pixel square around it (13 px with 2 blocks): enough for local
    restyling (stroke width, contrast) of 8x8 or 28x28 digits, not for moving content across the
    image (a rotation). Zhu et al.'s generator also downsamples twice and uses instance
    normalisation (``norm="instance"``); on 8x8 images neither is needed, and without them the net is
    several times faster on a CPU.

    Args:
        channels: image channels (in and out).
        width: feature maps.
        blocks: residual blocks.
        norm: ``"none"`` (default) or ``"instance"`` inside the residual blocks and after the first
            convolution. No BatchNorm: a batch's composition never changes an image's translation.

    Shapes:
        ``(N, channels, H, W) -> (N, channels, H, W)``, pixels in (-1, 1); any ``H, W``.

    References:
        Zhu et al. 2017, appendix 7.2 (generator); Johnson, Alahi, Fei-Fei, ECCV 2016.
    """

    def __init__(self, channels: int = 1, width: int = 16, blocks: int = 1, norm: str = "none"):
        super().__init__()
        check_positive_int(channels, "channels")
        check_positive_int(width, "width")
        check_positive_int(blocks, "blocks", allow_zero=True)
        make = NORMS[check_choice(norm, "norm", NORMS)]
        self.channels = channels
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), make(width), nn.ReLU(),
            *[ResidualBlock(width, norm) for _ in range(blocks)], nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1), nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (N, {self.channels}, H, W), got {tuple(x.shape)}")
        return self.net(x)  # (N, C, H, W)


# ------------------------------------------------------------- discriminators that see the batch
class MinibatchStdDev(nn.Module):
    """Append one feature to each sample: the mean over features of the per-feature standard
    deviation across its group of the minibatch (ProGAN's minibatch standard deviation layer).

    The ``N`` samples are split into ``M = N / G`` groups of ``G = min(group_size, N)``; as in the
    authors' code, sample ``i`` belongs to group ``i mod M``. In each group, for every feature (and
    pixel) the standard deviation over the group's ``G`` samples is ``sqrt(var + eps)`` with the
    population variance; its mean over all features (and pixels) is one number per group, appended
    to each sample of the group as a new feature (for images: a new constant channel). A
    discriminator that sees it can tell a batch of near-identical samples (a collapsed generator)
    from a varied one, which a discriminator that judges samples one by one cannot.

    Args:
        group_size: ``G`` (ProGAN: 4); the whole minibatch when it has fewer samples.
        eps: added to the variance before the square root (ProGAN: 1e-8), so that the gradient
            stays finite for identical samples, whose statistic is ``sqrt(eps)``.

    Shapes:
        ``(N, F) -> (N, F + 1)``; ``(N, C, H, W) -> (N, C + 1, H, W)``; in general
        ``(N, C, ...) -> (N, C + 1, ...)``.

    Raises:
        ValueError: ``N`` larger than ``group_size`` and not divisible by it, or an input with
            fewer than 2 dimensions; ``TypeError`` / ``ValueError`` for a bad ``group_size`` or an ``eps``
            that is not a number >= 0.

    References:
        Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018, section 3; their code, ``networks.py``,
        ``minibatch_stddev_layer`` (``group_size=4``, placed before the discriminator's last block).
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size = check_positive_int(group_size, "group_size")
        self.eps = check_positive(eps, "eps", allow_zero=True)

    def statistic(self, x: torch.Tensor) -> torch.Tensor:
        """The appended value of each sample, shape ``(N,)``."""
        if x.dim() < 2:
            raise ValueError(f"x must have shape (N, features...), got {tuple(x.shape)}")
        n = x.shape[0]
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"the minibatch ({n} samples) must be divisible by group_size={g}, or smaller: "
                             f"use a batch size that is a multiple of {g}")
        y = x.reshape(g, n // g, *x.shape[1:])                                # (G, M, C, ...)
        std = ((y - y.mean(dim=0, keepdim=True)).square().mean(dim=0) + self.eps).sqrt()  # (M, C, ...)
        return std.reshape(n // g, -1).mean(dim=1).repeat(g)                 # (N,): sample i -> group i mod M

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stat = self.statistic(x).reshape(-1, 1, *([1] * (x.dim() - 2)))      # (N, 1, 1, ...)
        return torch.cat([x, stat.expand(-1, 1, *x.shape[2:]).to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class Packed(nn.Module):
    """PacGAN's packed discriminator: ``body`` judges ``packing`` samples at once.

    Consecutive samples ``x[j m], ..., x[j m + m - 1]`` (``m = packing``) are concatenated along the
    first feature dimension and ``body`` gives one output per pack: vectors ``(N, d)`` become
    ``(N / m, m d)``, images ``(N, C, H, W)`` become ``(N / m, m C, H, W)`` (channels, as in
    PacGAN's image experiments). In a GAN the packs are all real or all generated (the two
    batches are judged separately), so the losses need no change: they average over ``N / m``
    packs. ``body`` must take ``m`` times the features of one sample (e.g. ``MLP(m * d, 1)``).

    Args:
        body: the network on packs.
        packing: the degree of packing ``m`` (PacGAN2: 2); ``m = 1`` is the unpacked ``body``.

    Shapes:
        ``(N, C, ...) -> body((N / m, m C, ...))``, e.g. ``(N, d) -> (N / m, 1)``.

    Raises:
        TypeError / ValueError: a non-module ``body``, a non-positive ``packing``; in ``forward``,
            ``N`` not divisible by ``packing`` (use a batch size that is a multiple of it).

    References:
        Lin, Khetan, Fanti, Oh, "PacGAN: The power of two samples in generative adversarial
        networks", NeurIPS 2018, section 2; their code (github.com/fjxmlzn/PacGAN,
        ``synthetic_data_experiments``: the discriminator's input is ``num_packing`` samples
        concatenated, ``num_xdim * num_packing`` numbers).
    """

    def __init__(self, body: nn.Module, packing: int):
        super().__init__()
        if not isinstance(body, nn.Module):
            raise TypeError(f"body must be a torch.nn.Module, got {type(body).__name__}")
        self.body = body
        self.packing = check_positive_int(packing, "packing")

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """The packs ``(N / m, m C, ...)`` of a batch ``(N, C, ...)``."""
        if x.dim() < 2:
            raise ValueError(f"x must have shape (N, features...), got {tuple(x.shape)}")
        n, m = x.shape[0], self.packing
        if n % m:
            raise ValueError(f"a packed discriminator (packing={m}) needs a batch divisible by {m}, got {n} "
                             f"samples: use a batch size that is a multiple of {m}")
        return x.reshape(n // m, m * x.shape[1], *x.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.pack(x))

    def extra_repr(self) -> str:
        return f"packing={self.packing}"
