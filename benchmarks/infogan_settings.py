"""InfoGAN on the digits: how the training settings move the categorical code's accuracy.

Each row trains :class:`igmlib.models.InfoGAN` with the architecture of
``igmlib.book.zoo.build("infogan", "digits")`` (conv generator and body of width 32, a 10-way
categorical code, EMA 0.999) with the settings of one row (:data:`ROWS`), for several seeds; the
zoo's row is ``zoo.build("infogan", "digits")`` trained with ``igm.fit(model, data, seed=s, **kwargs)``.
It reports per seed and as a median:

- ``code accuracy``: Q's categorical code on the 360 test digits, matched to the labels
  (:func:`igmlib.metrics.cluster_accuracy`; the ``code_accuracy`` of :func:`igmlib.book.evaluate`);
- ``purity``: the same matching between the code that generated 360 samples and the digit that
  :func:`igmlib.classifiers.reference_classifier` sees in them (does each code make one digit?);
- ``FD`` and ``recall`` of :func:`igmlib.book.evaluate` (2,500 samples, seed 10,000 + seed), as in
  ``benchmarks/quality.py``.

Usage (one thread per process; about 35 s per 4,000 steps on one CPU core):

    OMP_NUM_THREADS=1 python benchmarks/infogan_settings.py --seeds 0,1,2,3,4,5
    OMP_NUM_THREADS=1 python benchmarks/infogan_settings.py --rows zoo --seeds 0
    OMP_NUM_THREADS=1 python benchmarks/infogan_settings.py --rows 0,4 --seeds 0,1,2
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import igmlib as igm
from igmlib.models import InfoGAN
from igmlib.nets import ConvDiscriminator, ConvGenerator

# name -> (noise variables, continuous codes, continuous_weight, lr of both players, steps, decay_start,
#          info_weight, batch size); the zoo's row is igmlib.book.zoo.build("infogan", "digits")
ROWS = {
    "before: 4 noise, lr 2e-4, 4000 steps": (4, 2, 1.0, 2e-4, 4000, 0.5, 1.0, 64),
    "lr 2e-4, 8000 steps": (4, 2, 1.0, 2e-4, 8000, 0.5, 1.0, 64),
    "lr 2e-4, 8000 steps, no decay": (4, 2, 1.0, 2e-4, 8000, None, 1.0, 64),
    "lr 2e-4, batch 128": (4, 2, 1.0, 2e-4, 4000, 0.5, 1.0, 128),
    "lr 4e-4, 8000 steps": (4, 2, 1.0, 4e-4, 8000, 0.5, 1.0, 64),
    "lr 6e-4, 8000 steps": (4, 2, 1.0, 6e-4, 8000, 0.5, 1.0, 64),
    "lr 6e-4, 8000 steps, 6 noise": (6, 2, 1.0, 6e-4, 8000, 0.5, 1.0, 64),
    "lr 8e-4, 8000 steps, 6 noise": (6, 2, 1.0, 8e-4, 8000, 0.5, 1.0, 64),
    "lr 6e-4, 8000 steps, 6 noise, lambda 2": (6, 2, 1.0, 6e-4, 8000, 0.5, 2.0, 64),
    "lr 6e-4, 8000 steps, 6 noise, no continuous codes": (6, 0, 1.0, 6e-4, 8000, 0.5, 1.0, 64),
    "zoo: lr 6e-4, 8000 steps, 6 noise, continuous weight 0.1": (6, 2, 0.1, 6e-4, 8000, 0.5, 1.0, 64),  # checked
    "plain GAN (lambda 0), the zoo's settings": (6, 2, 0.1, 6e-4, 8000, 0.5, 0.0, 64),
    "plain GAN (lambda 0), lr 2e-4 (chapter 8's baseline)": (6, 2, 0.1, 2e-4, 8000, 0.5, 0.0, 64),
}


ZOO_ROW = "zoo: lr 6e-4, 8000 steps, 6 noise, continuous weight 0.1"


def check_zoo_row() -> None:
    """Fail if the zoo's row no longer holds the settings of ``zoo.build("infogan", "digits")``."""
    model, kwargs = igm.book.zoo.build("infogan", "digits", device="cpu")
    zoo = (model.latent_dim, model.continuous, model.continuous_weight, model.lr, kwargs["steps"],
           model.decay_start, model.info_weight, kwargs["batch_size"])
    if zoo != ROWS[ZOO_ROW]:
        raise SystemExit(f"ROWS[{ZOO_ROW!r}] = {ROWS[ZOO_ROW]} but the zoo builds {zoo}: update the row")


def run(seed: int, noise: int, continuous: int, continuous_weight: float, lr: float, steps: int, decay_start,
        info_weight: float, batch_size: int) -> dict:
    igm.seed_everything(seed)
    model = InfoGAN(ConvGenerator(noise + 10 + continuous, 8, width=32), ConvDiscriminator(8, width=32, out_features=128),
                    noise, continuous=continuous, info_weight=info_weight, continuous_weight=continuous_weight,
                    lr=lr, ema=0.999, decay_start=decay_start)
    train = igm.data.digits("train")
    start = time.perf_counter()
    igm.fit(model, train.x, steps=steps, batch_size=batch_size, seed=seed, progress=False)
    seconds = time.perf_counter() - start  # scored in train mode, as benchmarks/quality.py does
    classifier = igm.classifiers.reference_classifier(8)
    with torch.no_grad(), igm.runtime.fork_rng(seed):
        codes = model.sample_codes(360)
        images = model.generate(model.prior(360), codes.one_hot, codes.continuous, ema=None)
        purity = igm.metrics.cluster_accuracy(classifier(images).argmax(1), codes.index)
    scores = igm.book.evaluate(model, "digits", seed=10_000 + seed, n=2500)
    return {"code_accuracy": scores["code_accuracy"], "purity": purity, "frechet": scores["frechet"],
            "recall": scores["recall"], "seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--rows", default="all", help="'all', 'zoo', or comma-separated row numbers (0-based)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = list(ROWS)
    if args.rows == "zoo":
        names = [ZOO_ROW]
    elif args.rows != "all":
        names = [names[int(i)] for i in args.rows.split(",")]
    torch.set_num_threads(1)
    check_zoo_row()
    print(f"seeds {seeds}; {igm.__version__}, torch {torch.__version__}")
    print("| settings | code accuracy % (per seed) | median | purity % (median) | FD (median) | recall % (median) | s per run |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        results = [run(s, *ROWS[name]) for s in seeds]
        med = lambda key, scale=1.0: statistics.median(scale * r[key] for r in results)
        per_seed = " / ".join(f"{100 * r['code_accuracy']:.1f}" for r in results)
        print(f"| {name} | {per_seed} | {med('code_accuracy', 100):.1f} | {med('purity', 100):.1f} | "
              f"{med('frechet'):.2f} | {med('recall', 100):.1f} | {med('seconds'):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
