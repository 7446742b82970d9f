"""The named units of :func:`igmlib.fit`'s loop, each one concern: drawing minibatches, gating
gradients to the player being updated, one optimizer update, precision (autocast, compile), and
the log buffer that checks for divergence."""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import distributions as D
from torch import nn

from . import _distributed
from ._validation import check_pixel_range, shape_str
from .player import Batch, Player


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter, or ``None``."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def checked_first_batch(draw: Callable[[], Batch], dtype: torch.dtype | None) -> Callable[[], Batch]:
    """``draw`` whose first minibatch is checked (once, one host sync): floating point, of the model's
    dtype, and finite. Later minibatches are not checked (no host sync in the loop).

    Raises:
        TypeError: integer, boolean or complex data, or float data of another precision than the model.
        ValueError: NaN or infinite values in the first minibatch (in any of its floating-point
            tensors), or images (4-D tensors) with pixels outside [-1, 1].
    """
    checked = False

    def first():
        nonlocal checked
        batch = draw()
        if not checked:
            checked = True
            _check_batch(batch, dtype)
        return batch

    return first


def batch_data_tensor(batch: Batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _check_batch(batch: Batch, dtype: torch.dtype | None, where: str = "found in the first minibatch") -> None:
    """The data tensor (first of a tuple) is checked whole; the other floating-point tensors of a tuple
    (e.g. CycleGAN's second domain) for their values only (labels and other integer tensors pass)."""
    tensors = list(batch) if isinstance(batch, (tuple, list)) else [batch]
    _check_data_tensor(tensors[0], dtype, where)
    for t in tensors[1:]:
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            _check_values(t, where)


def _check_data_tensor(x, dtype: torch.dtype | None, where: str = "found in the first minibatch") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"a data minibatch must be a tensor or a tuple of tensors, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"data must be floating point, got {x.dtype}: convert them first, e.g. data.float() "
                        "(images as pixels in [-1, 1])")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"data are {x.dtype} but the model's parameters are {dtype}: convert one of them, "
                        f"e.g. data.to({dtype}) or model.to({x.dtype})")
    _check_values(x, where)


def _check_values(x: torch.Tensor, where: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"the data contain NaN or infinite values ({where}): "
                         "clean them, e.g. data[torch.isfinite(data).flatten(1).all(1)]")
    if x.dim() == 4:  # images (N, C, H, W): every igmlib image model and net works in [-1, 1]
        check_pixel_range(x, "images")


# ------------------------------------------------------------------------------------ minibatches
def batch_sampler(data, batch_size: int, device: torch.device) -> Callable[[], Batch]:
    """Return a function drawing one minibatch of ``data`` on ``device`` from torch's global RNG.

    Raises:
        TypeError: ``data`` is none of the kinds :func:`igmlib.fit` accepts.
        ValueError: a distribution without ``event_shape (d,)``, tensors of different lengths, a
            batch larger than the data.
    """
    if isinstance(data, D.Distribution):
        if len(data.event_shape) != 1:
            raise ValueError(
                f"a data distribution must have event_shape (d,), got {tuple(data.event_shape)}: "
                "wrap it in torch.distributions.Independent(..., 1)"
            )
        return lambda: data.sample((batch_size,)).to(device)
    if isinstance(data, torch.Tensor):
        data = (data,)
    if isinstance(data, tuple) and data and all(isinstance(t, torch.Tensor) for t in data):
        if data[0].dim() < 2:
            raise ValueError(f"data must have a batch dimension (N, ...), got shape {shape_str(data[0].shape)}: "
                             "use data.reshape(-1, 1) for N one-dimensional points")
        _check_batch(data, None, "found in the data tensor")  # all of it, once
        return _tensor_sampler(data, batch_size, device)
    if callable(data):
        def draw():
            out = data(batch_size)
            if isinstance(out, torch.Tensor):
                return out.to(device)
            if not (isinstance(out, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in out)):
                raise TypeError(f"data(batch_size) must return a tensor or a tuple of tensors, got {type(out).__name__}")
            return tuple(t.to(device) for t in out)

        return draw
    raise TypeError(
        "data must be a torch Distribution, a tensor (N, ...), a tuple of tensors sharing N "
        f"(e.g. igmlib.data.digits()), or a callable batch_size -> batch; got {type(data).__name__}"
    )


def _tensor_sampler(data: tuple[torch.Tensor, ...], batch_size: int, device: torch.device) -> Callable[[], Batch]:
    n = data[0].shape[0]
    if any(t.shape[0] != n for t in data):
        raise ValueError(f"data tensors must have the same first dimension, got {[t.shape[0] for t in data]}")
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) exceeds the {n} samples in data: lower batch_size")
    tensors = tuple(t.to(device) for t in data)
    single = len(tensors) == 1

    def draw():
        idx = torch.randperm(n)[:batch_size].to(device)
        out = tuple(t[idx] for t in tensors)
        return out[0] if single else out

    return draw


# ------------------------------------------------------------------------------- gradient gating
class GradientGate:
    """Lets only the player being updated collect gradients: before its update every other
    parameter of the model gets ``requires_grad=False`` (no wasted weight gradients for the other
    player, e.g. the discriminator's during the generator update). Parameters the user froze stay
    frozen, and :meth:`restore` puts every flag back as it was."""

    def __init__(self, model: nn.Module, players: Sequence[Player]):
        params = [*model.parameters(), *(q for pl in players for q in pl.parameters())]
        self.params = list({id(p): p for p in params}.values())
        self.flags = [p.requires_grad for p in self.params]
        self.ids = {pl.name: {id(p) for p in pl.parameters()} for pl in players}
        self.active: str | None = None

    def open(self, name: str) -> None:
        """Gradients flow to player ``name``'s parameters only (a no-op if it is already open)."""
        if self.active == name:
            return
        ids, self.active = self.ids[name], name
        for p, flag in zip(self.params, self.flags):
            p.requires_grad_(flag and id(p) in ids)

    def invalidate(self) -> None:
        """Forget the open player (user code such as a callback may have changed the flags)."""
        self.active = None

    def restore(self) -> None:
        for p, flag in zip(self.params, self.flags):
            p.requires_grad_(flag)


# ----------------------------------------------------------------------------- one update
def make_update(player: Player, optimizer: torch.optim.Optimizer, world_size: int | None) -> Callable[[torch.Tensor], None]:
    """``update(loss)``: clear the player's gradients, backpropagate ``loss``, average the gradients
    over the ranks (data-parallel runs), take the optimizer step, then run ``after_update``."""
    params = player.parameters()
    # A standard optimizer's zero_grad(set_to_none=True) only sets p.grad = None; doing that directly
    # skips its profiler-record overhead (~8 us per update). Optimizers that override it keep theirs.
    fast = [p for group in optimizer.param_groups for p in group["params"]] \
        if type(optimizer).zero_grad is torch.optim.Optimizer.zero_grad else None

    def update(loss: torch.Tensor) -> None:
        if fast is None:
            optimizer.zero_grad(set_to_none=True)
        else:
            for p in fast:
                p.grad = None
        loss.backward()
        if world_size is not None:
            _distributed.average_gradients(params, world_size)
        optimizer.step()
        if player.after_update is not None:
            player.after_update()

    return update


# -------------------------------------------------------------------------- precision and speed
AMP_MODES = (False, None, "bf16")


def loss_functions(model: nn.Module, players: Sequence[Player], device: torch.device, amp, compile) -> dict[str, Callable]:
    """Each player's loss as ``fn(batch) -> {"loss": scalar, ...}``, compiled with ``torch.compile``
    if asked and run under bfloat16 autocast for ``amp="bf16"``. The dict's entries replace
    themselves after their first call, which turns a shape error into a message naming the
    player, the minibatch's shape and the model's networks (:func:`_explain`)."""
    def wrap(player: Player) -> Callable:
        loss = player.loss
        if compile:
            loss = torch.compile(loss, **(compile if isinstance(compile, dict) else {}))

        def run(batch):
            with (torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()):
                return _as_loss_dict(loss(batch), player)

        def first(batch):  # the first call explains a shape error; later calls run bare
            entered = []  # the model's networks in the order the loss calls them
            hooks = [] if compile else [m.register_forward_pre_hook(lambda *_, name=name: entered.append(name))
                                        for name, m in model.named_children()]
            try:
                out = run(batch)
            except RuntimeError as err:
                explained = _explain(err, player, batch, model, entered[-1] if entered else None)
                if explained is None:
                    raise
                raise explained from err
            finally:
                for hook in hooks:
                    hook.remove()
            calls[player.name] = run
            return out

        return first

    calls = {}
    calls.update({p.name: wrap(p) for p in players})
    return calls


_SHAPE_ERRORS = ("shapes cannot be multiplied", "size mismatch", "must match the size", "expected input",
                 "Expected", "channels", "shape", "dimension")


def _explain(err: RuntimeError, player: Player, batch, model: nn.Module, network: str | None) -> ValueError | None:
    """A shape error of the first update, with what met: the player, the minibatch and the networks
    (``None`` for other errors)."""
    if not any(s in str(err) for s in _SHAPE_ERRORS):
        return None
    what = f"a minibatch of shape {tuple(batch_data_tensor(batch).shape)}" if isinstance(batch_data_tensor(batch), torch.Tensor) \
        else f"the batch size {batch}"
    latent = getattr(model, "latent_dim", None)
    nets = ", ".join(f"{name} ({type(m).__name__})" for name, m in model.named_children())
    return ValueError(
        f"player {player.name!r} could not compute its loss on {what}"
        + (f" with latent_dim = {latent}" if latent is not None else "")
        + (f"; the error came from the {network}" if network else "")
        + f": {err}. Check that the networks fit together: {nets}. The generator (or decoder) must take "
        "latent_dim inputs and output samples shaped like the data; the discriminator, critic or encoder must "
        "take data-shaped inputs."
    )


def _as_loss_dict(out, player: Player) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        out = {"loss": out}
    if not isinstance(out, dict) or "loss" not in out or out["loss"].dim() != 0:
        raise TypeError(
            f"player {player.name!r}: loss must return a scalar tensor or a dict with a scalar 'loss'"
        )
    return out


# ------------------------------------------------------------------------------ the log buffer
class LogBuffer:
    """The per-step logged scalars, kept on the device and copied to the host in chunks.

    ``float(loss)`` every step would wait for the device each step (a GPU then idles between
    steps); instead each step's values are stacked into one small device tensor (a copy, so values
    that alias parameters keep the value of their step) and :meth:`flush` moves all pending steps to
    the host at once, appends them to the history and reports the first step with a NaN/Inf.
    """

    def __init__(self, history: dict[str, list[float]], reduce=None):
        self.history, self.reduce = history, reduce
        self.pending: list[tuple[int, tuple[str, ...], torch.Tensor]] = []

    def add(self, step: int, logs: dict[str, Any]) -> None:
        values = [v.detach().reshape(()) if isinstance(v, torch.Tensor) else torch.tensor(float(v)) for v in logs.values()]
        dtypes = {v.dtype for v in values}
        if len(dtypes) > 1 or any(v.device != values[0].device for v in values):
            wide = torch.float32 if values[0].device.type == "mps" else torch.float64
            values = [v.to(values[0].device, wide) for v in values]
        self.pending.append((step, tuple(logs), torch.stack(values)))

    def flush(self) -> tuple[int, dict[str, float]] | None:
        """Append the pending steps to the history; return ``(step, non-finite values)`` of the first
        bad step (the history then ends at the step before it), or ``None``."""
        if not self.pending:
            return None
        chunks = [t for _, _, t in self.pending]
        if len({t.dtype for t in chunks}) > 1:
            chunks = [t.to(torch.float64 if t.device.type != "mps" else torch.float32) for t in chunks]
        flat = torch.cat(chunks)
        if self.reduce is not None:
            flat = self.reduce(flat)
        values = flat.tolist()  # the one host sync of this chunk
        pending, self.pending, offset = self.pending, [], 0
        for step, keys, t in pending:
            logs = dict(zip(keys, (float(v) for v in values[offset: offset + len(keys)])))
            offset += len(keys)
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            if bad:
                return step, bad
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
        return None
