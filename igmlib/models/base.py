"""What every latent-variable sampler shares: a prior ``z ~ N(0, I)``, ``forward(z)`` and ``sample(n)``."""
from __future__ import annotations

import torch
from torch import nn

from .._validation import check_module, check_positive_int, check_tensor


def adam(lr: float, betas: tuple[float, float] = (0.5, 0.999)):
    """An optimizer factory ``parameters -> torch.optim.Adam(parameters, lr, betas)``.

    Uses the fused implementation (one kernel for all parameters; on CPU since torch 2.4) where
    torch supports it for the parameters, else the ``foreach`` one: same algorithm, deterministic,
    results equal to the default for-loop Adam up to float rounding (measured on CPU: a 2-128-128
    MLP pair's update takes 86 us fused, 246 us foreach, 319 us for-loop).
    """

    def factory(params) -> torch.optim.Optimizer:
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):  # a device/dtype without a fused kernel, or old torch
            return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)

    return factory


class LatentSampler(nn.Module):
    """Base class: a generator ``x = G(z)`` with a standard normal prior on ``z`` (``latent_dim``).

    Subclasses call ``super().__init__(generator, latent_dim)`` and define ``players()``.
    ``forward(z)`` is differentiable; ``sample(n)`` draws ``z`` and returns samples without gradients
    (as ``torch.distributions``' ``sample`` vs ``rsample``).
    """

    def __init__(self, generator: nn.Module, latent_dim: int, *, name: str = "generator"):
        """Raises ``TypeError`` if ``generator`` is not a module, ``ValueError`` if ``latent_dim`` <= 0."""
        super().__init__()
        check_module(generator, name)
        self.generator = generator
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")

    def _device_dtype(self):
        p = next(self.parameters())
        return p.device, p.dtype

    def prior(self, n: int) -> torch.Tensor:
        """Draw ``z ~ N(0, I)``, shape ``(n, latent_dim)``, on the model's device and dtype."""
        check_positive_int(n, "n")
        device, dtype = self._device_dtype()
        return torch.randn(n, self.latent_dim, device=device, dtype=dtype)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map latents ``(N, latent_dim)`` to samples ``(N, ...)``, differentiably."""
        check_tensor(z, "z", ndim=2, last_dim=self.latent_dim)
        return self.generator(z)

    def rsample(self, n: int) -> torch.Tensor:
        """``n`` samples with gradients flowing to the generator."""
        return self.generator(self.prior(n))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` samples ``(n, ...)`` without gradients, on the model's device."""
        return self.rsample(n)
