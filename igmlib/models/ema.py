"""Generator averaging: an exponential moving average (EMA) of a generator's weights, to sample from.

The average of the generator's recent weights is a better sampler than the last iterate: the GAN
game makes the iterates cycle around an equilibrium and the average sits nearer its centre
(Yazıcı et al. 2019). :class:`igmlib.models.LatentSampler` builds one with ``ema=decay`` and updates
it after each generator update; ``sample(n)`` then draws from it.

References:
    Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability,
    and Variation", ICLR 2018, appendix A.1 (an exponential running average of the generator's
    weights, decay 0.999, for every result).
    Yazıcı, Foo, Winkler, Yap, Piliouras, Chandrasekhar, "The Unusual Effectiveness of Averaging
    in GAN Training", ICLR 2019 (the exponential and the uniform moving average of the generator's
    parameters, kept outside the training loop).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def check_decay(decay) -> float:
    """Check an EMA decay: a real number in ``(0, 1)``.

    Raises:
        TypeError: not a real number.
        ValueError: outside ``(0, 1)``.
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float)):
        raise TypeError(f"ema must be a decay in (0, 1) such as 0.999, or None, got {type(decay).__name__} ({decay!r})")
    if not 0 < decay < 1:
        raise ValueError(f"ema must be a decay in (0, 1) such as 0.999 (None switches it off), got {decay!r}")
    return float(decay)


class GeneratorEMA(AveragedModel):
    """The exponential moving average of a generator: ``torch.optim.swa_utils.AveragedModel`` with
    ``get_ema_multi_avg_fn(decay)`` and ``use_buffers=True``.

    :meth:`update_parameters` ``(generator)`` after each generator update: the first call copies the
    generator's weights (AveragedModel's rule), each later one sets
    ``W_ema <- decay * W_ema + (1 - decay) * W`` for every floating-point parameter and buffer
    (BatchNorm's running statistics too). The averaged generator is ``self.module``;
    ``self(z) = self.module(z)``. Its parameters do not require gradients.

    Two differences from ``AveragedModel.update_parameters``: no host synchronisation per update
    (it reads the ``n_averaged`` count from the device once, after construction or
    ``load_state_dict``, and keeps a host copy), and integer buffers (BatchNorm's
    ``num_batches_tracked``) are copied, not averaged.

    The state dict holds ``module.*`` (the averaged weights) and ``n_averaged`` (updates so far), so
    a checkpoint restores the average exactly.

    Args:
        generator: the network to average (copied with ``copy.deepcopy``).
        decay: the weight of the old average per update, in ``(0, 1)`` (Karras et al.: 0.999);
            the average spans about ``1 / (1 - decay)`` updates.

    Raises:
        TypeError / ValueError: ``decay`` not a number in ``(0, 1)``.
    """

    def __init__(self, generator: nn.Module, decay: float):
        decay = check_decay(decay)
        super().__init__(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.decay = decay
        self.module.requires_grad_(False)
        self._count: int | None = 0  # host copy of n_averaged; None: read it at the next update
        self.register_load_state_dict_post_hook(_forget_count)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model``'s current parameters and buffers into this one (see the class docstring).

        Raises:
            ValueError: ``model`` has another number of parameters and buffers than the average.
        """
        if self._count is None:
            self._count = int(self.n_averaged)  # one host sync after a load
        own = [*self.module.parameters(), *self.module.buffers()]
        new = [t.detach() for t in (*model.parameters(), *model.buffers())]
        if len(own) != len(new):
            raise ValueError(f"cannot average a network with {len(new)} parameters and buffers into an average of "
                             f"{len(own)}: pass the generator this average was built from")
        floats = [(a, b) for a, b in zip(own, new) if a.is_floating_point()]
        for a, b in zip(own, new):
            if not a.is_floating_point():
                a.copy_(b)
        if self._count == 0:
            for a, b in floats:
                a.copy_(b)
        elif floats:
            self.multi_avg_fn([a for a, _ in floats], [b for _, b in floats], self.n_averaged)
        self.n_averaged += 1
        self._count += 1


def _forget_count(module: GeneratorEMA, incompatible_keys) -> None:
    module._count = None
