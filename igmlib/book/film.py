"""A training film of a GAN on 2-D data: what each update of each player does.

:func:`record_film` trains a model with :func:`igmlib.fit` (the one training loop) and, through the
``after_update`` hook of its players, records a frame after the discriminator's update and another
after the generator's: the discriminator's output ``D(x)`` on a grid, a fixed set of generated
samples, and the direction in which the generator's loss pushes each of them. :func:`film` draws
one or several recorded runs side by side in :func:`igmlib.plot.player` (a slider with play
controls that works on the static page).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch
from torch import nn

from .. import losses
from .._validation import check_positive_int
from ..runtime import fork_rng


class _Filmed(nn.Module):
    """``model`` with ``hook(player_name)`` run after each update of each player (after its own hooks)."""

    def __init__(self, model: nn.Module, hook):
        super().__init__()
        self.model, self.hook = model, hook

    def players(self):
        return [dataclasses.replace(p, after_update=functools.partial(_after, p.after_update, self.hook, p.name))
                for p in self.model.players()]


def _after(first, hook, name: str) -> None:
    if first is not None:
        first()
    hook(name)


class _Recorder:
    def __init__(self, model, every: int, n: int, lim: float, grid: int, seed: int):
        self.model, self.every, self.step, self.frames = model, every, 0, []
        device = next(model.parameters()).device
        with fork_rng(seed):  # the same latent draws in every frame; training's stream untouched
            self.z = model.prior(n).to(device)
        axis = torch.linspace(-lim, lim, grid, device=device)
        self.grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)  # (grid^2, 2)
        self.shape = (grid, grid)

    def __call__(self, name: str) -> None:
        if name == "generator":
            self.step += 1  # completed steps
        step = self.step + (name == "discriminator")  # the step this update belongs to (1-based)
        if step % self.every and step != 1:
            return
        model = self.model
        with torch.no_grad():
            heat = torch.sigmoid(model.discriminator(self.grid)).reshape(self.shape)  # D(x) in (0, 1)
            fake = model.generator(self.z)
        fake = fake.detach().requires_grad_(True)
        with torch.enable_grad():  # -dL_G/dx for each fake x: where the generator's loss moves it
            loss = losses.generator_loss(model.discriminator(fake), model.loss) * len(fake)  # sum over samples
            (grad,) = torch.autograd.grad(loss, fake)
        self.frames.append({"step": step, "update": name, "heat": heat.cpu().numpy(),
                            "fake": fake.detach().cpu().numpy(), "push": -grad.cpu().numpy()})


def record_film(model, data, *, steps: int, every: int, batch_size: int = 256, seed: int = 0, n: int = 128,
                lim: float = 2.8, grid: int = 40) -> list[dict]:
    """Train a GAN with :func:`igmlib.fit` and record a frame after each player's update, every ``every`` steps.

    The model must have ``generator``, ``discriminator`` (one logit per point), ``prior(n)`` and a
    ``loss`` name for :func:`igmlib.losses.generator_loss`, as :class:`igmlib.models.GAN` does.
    Frames are recorded at step 1 and every ``every`` steps: one after the discriminator's update,
    one after the generator's.

    Args:
        model: a :class:`igmlib.models.GAN` on 2-D data.
        data: what :func:`igmlib.fit` takes (e.g. ``igm.data.ring()``).
        steps, batch_size, seed: passed to :func:`igmlib.fit`.
        every: record every ``every`` steps.
        n: number of generated samples shown (fixed latent draws, seeded; the run's stream is untouched).
        lim: the plane shown is ``[-lim, lim]^2``.
        grid: the heat map of ``D`` has ``grid x grid`` points.

    Returns:
        A list of frames, each a dict: ``step`` (int), ``update`` (``"discriminator"`` or
        ``"generator"``), ``heat`` ``(grid, grid)`` values of ``D(x)`` in (0, 1), ``fake`` ``(n, 2)``
        and ``push`` ``(n, 2)`` (``-dL_G/dx`` at each fake, per sample).

    Raises:
        ValueError: bad ``steps``, ``every``, ``n`` or ``grid`` (and what :func:`igmlib.fit` raises).
    """
    from ..train import fit

    for value, name in ((steps, "steps"), (every, "every"), (n, "n"), (grid, "grid")):
        check_positive_int(value, name)
    recorder = _Recorder(model, every, n, lim, grid, seed)
    fit(_Filmed(model, recorder), data, steps=steps, batch_size=batch_size, seed=seed, progress=False)
    return recorder.frames


def film(runs: dict[str, list[dict]], real, *, lim: float = 2.8, interval: int = 250, dpi: int = 60,
         arrow: float = 0.5):
    """Recorded runs side by side, one frame per update, in :func:`igmlib.plot.player`.

    Each panel shows ``D(x)`` as a heat map (red: the discriminator calls it real), the real
    samples (black), the generated samples (orange) and an arrow on each generated sample along
    ``-dL_G/dx``; arrows are scaled per run so that the 95th percentile of their lengths over the
    run is ``arrow``.

    Args:
        runs: ``{title: frames}`` from :func:`record_film`, all with the same number of frames.
        real: real samples ``(N, 2)`` drawn in every panel.
        lim: the plane shown is ``[-lim, lim]^2`` (as recorded).
        interval: milliseconds per frame when playing.
        dpi: resolution of the frames.
        arrow: displayed length of the 95th-percentile push.

    Returns:
        ``IPython.display.HTML`` with an ``update`` slider (labels such as ``"25 D"``, ``"25 G"``)
        and play controls.

    Raises:
        ValueError: no runs, or runs with different numbers of frames.
    """
    import matplotlib.pyplot as plt

    from ..plot import player

    lengths = {len(frames) for frames in runs.values()}
    if not runs or len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"runs must be a non-empty dict of equally long, non-empty frame lists, got lengths {lengths}")
    real = real.detach().cpu().numpy() if isinstance(real, torch.Tensor) else np.asarray(real)
    scale = {title: arrow / max(float(np.percentile(np.concatenate(
        [np.linalg.norm(f["push"], axis=1) for f in frames]), 95)), 1e-12) for title, frames in runs.items()}
    labels = [f"{f['step']} {'D' if f['update'] == 'discriminator' else 'G'}" for f in next(iter(runs.values()))]
    index = {label: i for i, label in enumerate(labels)}

    def draw(update):
        i = index[update]
        fig, axes = plt.subplots(1, len(runs), figsize=(3.4 * len(runs), 3.6), squeeze=False,
                                 layout="constrained")
        for ax, (title, frames) in zip(axes[0], runs.items()):
            f = frames[i]
            ax.imshow(f["heat"], origin="lower", extent=(-lim, lim, -lim, lim), cmap="RdBu_r", vmin=0, vmax=1,
                      alpha=0.6)
            ax.scatter(real[:, 0], real[:, 1], s=2, c="k")
            ax.scatter(f["fake"][:, 0], f["fake"][:, 1], s=6, c="tab:orange", edgecolors="0.2", linewidths=0.3)
            push = f["push"] * scale[title]
            ax.quiver(f["fake"][:, 0], f["fake"][:, 1], push[:, 0], push[:, 1], angles="xy", scale_units="xy",
                      scale=1, width=0.006, color="tab:green")
            after = "after D's update" if f["update"] == "discriminator" else "after G's update"
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[])
            ax.set_title(f"{title}\nstep {f['step']}, {after}", fontsize="small")
        return fig

    return player(draw, {"update": labels}, control="slider", interval=interval, dpi=dpi, max_frames=len(labels))
