"""igmlib: implicit generative models in PyTorch, the library behind the book.

Quick tour::

    import igmlib as igm
    data = igm.data.ring()                                    # a torch Distribution
    model = igm.models.GAN(igm.nets.MLP(2, 2), igm.nets.MLP(2, 1), latent_dim=2)
    history = igm.fit(model, data, steps=igm.budget(full=5000, quick=50), seed=0)
    igm.metrics.mode_coverage(model.sample(2500), data)
"""
from . import data, losses, metrics, models, nets, plot
from .runtime import budget, device, is_quick, seed_everything
from .train import Player, Snapshots, TrainingDiverged, TrainState, fit, load_checkpoint

__version__ = "0.1.0"

__all__ = [
    "Player", "Snapshots", "TrainState", "TrainingDiverged", "budget", "data", "device", "fit",
    "is_quick", "load_checkpoint", "losses", "metrics", "models", "nets", "plot", "seed_everything",
]
