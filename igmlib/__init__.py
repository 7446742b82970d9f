"""igmlib: implicit generative models in PyTorch, the library behind the book.

Quick tour::

    import igmlib as igm
    data = igm.data.ring()                                    # a torch Distribution
    model = igm.models.GAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2)
    history = igm.fit(model, data, steps=igm.budget(full=5000, quick=50), seed=0)
    igm.metrics.mode_coverage(model.sample(2500), data)
"""
from . import classifiers, data, divergences, dynamics, losses, metrics, models, nets, penalties, plot, pushforward
from .callbacks import Snapshots, TrainState
from .checkpoint import CheckpointError, load_checkpoint
from .player import Player, Trainable, batch_data, linear_decay
from .runtime import budget, device, is_quick, seed_everything
from .train import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "Player", "Snapshots", "TrainState", "Trainable", "TrainingDiverged", "batch_data", "budget", "classifiers", "data", "device", "divergences", "dynamics", "fit",
    "is_quick", "linear_decay", "load_checkpoint", "losses", "metrics", "models", "nets", "penalties", "plot", "pushforward", "seed_everything",
]


def __getattr__(name):
    # igm.book (the book's zoo, evaluation harness, tables and widgets) is not part of the library:
    # imported only when first used, and no other module of igmlib imports it
    if name == "book":
        import importlib

        return importlib.import_module(".book", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
