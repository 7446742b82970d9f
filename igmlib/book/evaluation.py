"""The book's evaluation harness: score a sampler on a problem, train and score many, summarise.

- :func:`evaluate`: the metrics that fit a problem, on held-out data, for anything with a
  ``sample(n)`` method.
- :func:`leaderboard`: train (:func:`igmlib.fit`) and evaluate several models of
  :mod:`igmlib.book.zoo`, problems and seeds, each for its own full-budget steps or for a step
  count given to all, timing each run; each model
  is scored as its :class:`~igmlib.book.zoo.Config` says. :func:`summarize` turns the rows into mean
  and spread per model and problem.

Example::

    rows = igm.book.leaderboard(["gan", "wgan_gp"], ["ring"], seeds=[0, 1], steps=500)  # steps=None: the zoo's
    igm.book.table(*igm.book.summarize(rows, ["modes", "high_quality"]))
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .._validation import check_choice, check_positive_int
from ..runtime import fork_rng
from .zoo import MODELS, PROBLEMS, SAMPLERS, build, problem_data, supports

#: Metric keys :func:`evaluate` returns on a toy (``"ring"``, ``"grid"``) ...
TOY_METRICS = ("modes", "total_modes", "high_quality", "mode_kl", "mmd2", "mmd_bandwidth", "toy_log_likelihood",
               "two_sample", "precision", "recall", "density", "coverage", "log_likelihood")
#: ... and on the ``"digits"``.
DIGIT_METRICS = ("frechet", "kid", "inception_score", "precision", "recall", "density", "coverage", "two_sample",
                 "parzen", "parzen_bandwidth", "log_likelihood", "code_accuracy")


def _model_log_likelihood(model, x: torch.Tensor, samples: int) -> float:
    """Mean held-out ``log p(x)`` (nats) from the model's own estimator with ``samples`` samples per
    point, or nan if it has none."""
    if not callable(getattr(model, "log_likelihood", None)):
        return math.nan
    try:
        p = next(model.parameters())
    except (AttributeError, StopIteration):
        return math.nan
    values = torch.cat([model.log_likelihood(chunk.to(p.device, p.dtype), samples).detach().cpu()
                        for chunk in x.split(100)])
    return float(values.double().mean())


def _toy_metrics(model, problem: str, samples: torch.Tensor, n: int, likelihood_samples: int) -> dict[str, float]:
    from .. import divergences, metrics

    data = problem_data(problem)
    real = data.sample((n,)).float()  # fresh draws: held-out data the model never saw
    coverage = metrics.mode_coverage(samples, data)
    bandwidth = divergences.median_bandwidth(real[:1000])
    pr = metrics.precision_recall(real, samples)
    dc = metrics.density_coverage(real, samples, k=5)
    return {
        "modes": float(coverage.modes), "total_modes": float(coverage.total), "high_quality": coverage.high_quality,
        "mode_kl": metrics.mode_kl(samples, data),
        "mmd2": float(divergences.mmd2(samples[:1000].double(), real[:1000].double(), bandwidth=bandwidth)),
        "mmd_bandwidth": bandwidth,
        "toy_log_likelihood": metrics.toy_log_likelihood(samples, data),
        "two_sample": metrics.two_sample_accuracy(real, samples, classifier="knn").accuracy,
        "precision": pr.precision, "recall": pr.recall, "density": dc.density, "coverage": dc.coverage,
        "log_likelihood": _model_log_likelihood(model, real[:500], likelihood_samples),
    }


def _code_accuracy(model, digits) -> float:
    """Matched accuracy of the model's unsupervised classifier ``model.predict_code(images)`` (InfoGAN's
    categorical code) on the labelled ``digits``, or nan if it has none."""
    from .. import metrics

    if not callable(getattr(model, "predict_code", None)):
        return math.nan
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    return metrics.cluster_accuracy(digits.y, model.predict_code(digits.x.to(device)).cpu())


def _digit_metrics(model, samples: torch.Tensor, classifier, likelihood_samples: int) -> dict[str, float]:
    from .. import data, metrics
    from ..classifiers import reference_classifier

    labelled = data.digits("test")
    test = labelled.x  # (360, 1, 8, 8), never trained on
    validation, held = test[:180], test[180:]
    samples = samples.reshape(len(samples), *test.shape[1:])
    clf = reference_classifier() if classifier is None else classifier
    with torch.no_grad():
        real_f, fake_f = clf.features(test), clf.features(samples)
        logits = clf(samples)
    pr = metrics.precision_recall(real_f, fake_f)
    dc = metrics.density_coverage(real_f, fake_f, k=5)
    bandwidth = metrics.select_parzen_bandwidth(samples, validation).bandwidth
    return {
        "frechet": metrics.frechet_distance(real_f, fake_f),
        "kid": metrics.kid(real_f, fake_f, seed=0).mean,  # subsets of min(1000, 360, n) points
        "inception_score": metrics.inception_score(logits),
        "precision": pr.precision, "recall": pr.recall, "density": dc.density, "coverage": dc.coverage,
        "two_sample": metrics.two_sample_accuracy(real_f, fake_f, classifier="knn").accuracy,
        "parzen": float(metrics.parzen_log_likelihood(samples, held, bandwidth)),
        "parzen_bandwidth": bandwidth,
        "log_likelihood": _model_log_likelihood(model, held, likelihood_samples),
        "code_accuracy": _code_accuracy(model, labelled),
    }


def evaluate(model, problem: str, *, n: int = 2500, seed: int = 0, classifier=None, sampler: str = "sample",
             likelihood_samples: int = 200) -> dict[str, float]:
    """Score a sampler on a problem of :mod:`igmlib.book.zoo` against held-out data.

    Draws ``n`` samples with ``model.sample(n)`` (or ``model.sample_mean(n)``, see ``sampler``) and
    compares them with data the model was not trained on: fresh draws from the toy distribution, or
    the 360 test digits. Toys (``"ring"``, ``"grid"``; keys :data:`TOY_METRICS`):

    - ``modes`` (of ``total_modes``), ``high_quality`` (a fraction) and ``mode_kl`` (nats):
      :func:`igmlib.metrics.mode_coverage`, :func:`igmlib.metrics.mode_kl` (VEEGAN, PacGAN);
    - ``mmd2``: unbiased :func:`igmlib.divergences.mmd2` on 1,000 samples and 1,000 data points with
      a Gaussian kernel of bandwidth ``mmd_bandwidth`` (the median distance between the data points);
    - ``toy_log_likelihood``: mean exact ``log p_data`` of the samples (nats,
      :func:`igmlib.metrics.toy_log_likelihood`);
    - ``two_sample``: held-out accuracy of a 1-nearest-neighbour classifier telling data from
      samples (:func:`igmlib.metrics.two_sample_accuracy`; 0.5 is perfect);
    - ``precision``, ``recall``: :func:`igmlib.metrics.precision_recall` in the plane (k = 3);
    - ``density``, ``coverage``: :func:`igmlib.metrics.density_coverage` in the plane (k = 5; density
      about 1 and coverage near 1 for data; Naeem et al.);
    - ``log_likelihood``: the model's own estimate of the mean ``log p(x)`` on 500 data points
      (nats; ``model.log_likelihood(x, likelihood_samples)``: Monte Carlo for a density network,
      importance-sampled for a VAE or AVB), nan for models without one.

    Digits (keys :data:`DIGIT_METRICS`), in the feature space of
    :func:`igmlib.classifiers.reference_classifier` (pass ``classifier`` to use another):
    ``frechet`` (:func:`igmlib.metrics.frechet_distance` against the 360 test digits; biased: it
    shrinks as ``n`` grows), ``kid`` (the mean of :func:`igmlib.metrics.kid` over 100 subsets of
    ``min(360, n)`` points, seed 0: unbiased, about 0 for data, in squared feature units),
    ``inception_score``, ``precision``/``recall`` (k = 3), ``density``/``coverage`` (k = 5),
    ``two_sample`` (1-NN on features);
    ``parzen``: :func:`igmlib.metrics.parzen_log_likelihood` of test digits 180-359 (nats) with the
    bandwidth ``parzen_bandwidth`` chosen on test digits 0-179 (:func:`igmlib.metrics.select_parzen_bandwidth`);
    ``log_likelihood`` as above on test digits 180-359, in the model's own likelihood convention
    (a VAE's Bernoulli on grey levels is not a density on pixel space: compare it only with models
    of the same convention, never with ``parzen``);
    ``code_accuracy``: for a model with an unsupervised classifier ``predict_code(images) -> (N,)``
    (InfoGAN's categorical code), its accuracy on the 360 labelled test digits after the best
    one-to-one matching of codes to digits (:func:`igmlib.metrics.cluster_accuracy`; Chen et al. 2016,
    section 7 report 5% error on MNIST), nan for other models.

    Random draws use ``seed`` inside a forked random state (torch's and NumPy's global ones,
    :func:`igmlib.runtime.fork_rng`), so the caller's state is untouched. If the samples are not
    finite, every metric is nan.

    Args:
        model: anything with ``sample(n) -> (n, ...)``, e.g. a model of :func:`igmlib.book.zoo.build`.
        problem: ``"ring"``, ``"grid"`` or ``"digits"``.
        n: number of model samples (VEEGAN uses 2,500), at least 10.
        seed: seed of the samples and the data draws.
        classifier: for digits, a module with ``features(x)`` and logits ``classifier(x)``. ``None``
            calls :func:`igmlib.classifiers.reference_classifier`, which **trains** a small classifier
            on the first call (a few seconds on a CPU, one line on stderr) and caches its weights in
            :func:`igmlib.runtime.cache_dir`; later calls load them.
        sampler: ``"sample"`` (default) or ``"sample_mean"``: score ``model.sample_mean(n)`` (the
            means of ``p(x | z)`` of a likelihood model), or ``model.sample(n)`` if it has none.
            :func:`leaderboard` passes each model's :attr:`igmlib.book.zoo.Config.sampler`.
        likelihood_samples: samples per data point of the model's ``log p(x)`` estimate.

    Returns:
        ``{metric name: float}``.

    Raises:
        ValueError: an unknown problem or sampler, ``n`` < 10, samples of the wrong shape.
        TypeError: ``model`` has no ``sample`` method.

    References:
        Srivastava et al., "VEEGAN", NeurIPS 2017; Lin et al., "PacGAN", NeurIPS 2018; Gretton et al.,
        "A Kernel Two-Sample Test", JMLR 2012; Lopez-Paz and Oquab, "Revisiting Classifier Two-Sample
        Tests", ICLR 2017; Kynkaanniemi et al., "Improved Precision and Recall Metric ...", NeurIPS 2019;
        Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020;
        Bińkowski et al., "Demystifying MMD GANs", ICLR 2018 (the KID);
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017; Salimans et al.,
        "Improved Techniques for Training GANs", NeurIPS 2016; Theis, van den Oord, Bethge, "A note on
        the evaluation of generative models", ICLR 2016 (the Parzen estimate's caveats).
    """
    check_choice(problem, "problem", PROBLEMS)
    check_choice(sampler, "sampler", SAMPLERS)
    likelihood_samples = check_positive_int(likelihood_samples, "likelihood_samples")
    n = check_positive_int(n, "n")
    if n < 10:
        raise ValueError(f"n must be at least 10 (the metrics need a few samples), got {n}")
    if not callable(getattr(model, "sample", None)):
        raise TypeError(f"model must have a sample(n) method, got {type(model).__name__}")
    keys = DIGIT_METRICS if problem == "digits" else TOY_METRICS
    method = sampler if callable(getattr(model, sampler, None)) else "sample"  # sample_mean, if the model has it
    with fork_rng(seed, numpy=True), torch.no_grad():
        samples = getattr(model, method)(n).detach().cpu().float()
        if samples.shape[0] != n:
            raise ValueError(f"model.{method}({n}) returned {samples.shape[0]} samples, expected {n}")
        if not bool(torch.isfinite(samples).all()):
            return {key: math.nan for key in keys}
        if problem == "digits":
            return _digit_metrics(model, samples, classifier, likelihood_samples)
        if samples.dim() != 2 or samples.shape[1] != 2:
            raise ValueError(f"samples for {problem!r} must have shape (N, 2), got {tuple(samples.shape)}")
        return _toy_metrics(model, problem, samples, n, likelihood_samples)


def leaderboard(names: Sequence[str], problems: Sequence[str], seeds: Sequence[int],
                steps: int | Mapping[str, int] | None = None, *, n: int = 2500, device=None, progress: bool | None = None, callback=None) -> list[dict]:
    """Train every (model, problem, seed) with :func:`igmlib.fit` and score it with :func:`evaluate`.

    Pairs without a configuration (e.g. InfoGAN on a toy) are skipped. By default each model trains
    for the full-budget ``steps`` of its :func:`~igmlib.book.zoo.build` fit arguments, so a row is
    ``igm.fit(model, data, seed=seed, **fit_kwargs)``; ``steps`` overrides them with the same number
    for every model on a problem (a step updates each player once, or ``n_critic`` times for WGAN's
    critic, so the costs differ: ``train_seconds`` records them). A run whose losses
    become non-finite (:class:`igmlib.TrainingDiverged`) is kept with ``status = "diverged"``
    and nan metrics. Each model is scored as its :class:`~igmlib.book.zoo.Config` says (its
    ``sampler`` and ``likelihood_samples``); digits are scored with
    :func:`igmlib.classifiers.reference_classifier` (trained and cached on first use).

    Args:
        names: model names of :data:`igmlib.book.zoo.MODELS`.
        problems: problem names of :data:`igmlib.book.zoo.PROBLEMS`.
        seeds: seeds of the initialisation, the minibatches and the evaluation draws.
        steps: ``None`` (default): each model's own full-budget steps (:func:`igmlib.book.zoo.build`);
            else training steps per run for every model, or ``{problem: steps}``.
        n: model samples per evaluation.
        device: where to train (default :func:`igmlib.device`).
        progress: show a progress bar over the runs (default: ``$IGM_PROGRESS``, else tqdm decides).
        callback: optional ``callback(row, model)`` called after each run (e.g. to keep samples for
            a figure); the model is dropped afterwards unless the callback keeps it.

    Returns:
        One dict per run: ``model``, ``problem``, ``seed``, ``steps``, ``status``, ``train_seconds``
        (wall-clock seconds of :func:`igmlib.fit`), ``eval_seconds``, then :func:`evaluate`'s metrics.
        Ready for ``csv.DictWriter`` or :func:`summarize`.

    Raises:
        ValueError: unknown names or problems, no seeds, a non-positive step count.
    """
    from tqdm.auto import tqdm

    from ..runtime import progress_enabled, seed_everything
    from ..train import TrainingDiverged, fit

    names, problems, seeds = list(names), list(problems), list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed, e.g. [0, 1, 2]")
    steps_of = {p: None if steps is None else check_positive_int(steps[p] if isinstance(steps, Mapping) else steps,
                                                                 f"steps for {p!r}") for p in problems}
    runs = [(p, m, s) for p in problems for m in names if supports(m, p) for s in seeds]
    show = progress_enabled() if progress is None else progress
    rows = []
    bar = tqdm(runs, desc="leaderboard", disable=None if show is None else not show)
    for problem, name, seed in bar:
        bar.set_postfix_str(f"{name} on {problem}, seed {seed}")
        seed_everything(seed)
        model, fit_kwargs = build(name, problem, device=device)
        own_steps = fit_kwargs.pop("steps")
        run_steps = own_steps if steps_of[problem] is None else steps_of[problem]
        status, start = "ok", time.perf_counter()
        try:
            fit(model, problem_data(problem), steps=run_steps, seed=seed, progress=False, **fit_kwargs)
        except TrainingDiverged:
            status = "diverged"
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        train_seconds, start = time.perf_counter() - start, time.perf_counter()
        config = MODELS[name]
        scores = evaluate(model, problem, seed=10_000 + seed, n=n, sampler=config.sampler,
                          likelihood_samples=config.likelihood_samples) if status == "ok" else {}
        rows.append({"model": name, "problem": problem, "seed": seed, "steps": run_steps, "status": status,
                     "train_seconds": train_seconds, "eval_seconds": time.perf_counter() - start, **scores})
        if callback is not None:
            callback(rows[-1], model)
    return rows


#: How :func:`summarize` prints each metric: (column title, scale, decimals).
FORMATS = {
    "modes": ("modes", 1, 1), "high_quality": ("high quality %", 100, 1), "mode_kl": ("mode KL", 1, 3),
    "mmd2": ("MMD² ×1000", 1000, 2), "toy_log_likelihood": ("log p_data(samples)", 1, 2),
    "two_sample": ("two-sample acc. %", 100, 1), "precision": ("precision %", 100, 1), "recall": ("recall %", 100, 1),
    "density": ("density", 1, 2), "coverage": ("coverage %", 100, 1), "kid": ("KID", 1, 1),
    "log_likelihood": ("model log p(test)", 1, 2), "frechet": ("Fréchet", 1, 2), "inception_score": ("IS", 1, 2),
    "parzen": ("Parzen log p(test)", 1, 1), "train_seconds": ("train s", 1, 1), "steps": ("steps", 1, 0),
    "code_accuracy": ("code accuracy %", 100, 1),
}


def summarize(rows: Sequence[Mapping], metrics: Sequence[str], *, problem: str | None = None):
    """Mean ± standard deviation over seeds of each metric, per (problem, model), in first-seen order.

    Diverged runs and nan values are left out of the mean; the ``runs`` column says how many runs
    of how many gave numbers. Standard deviations are the population ones (a single run shows ``± 0``).

    Args:
        rows: rows of :func:`leaderboard`.
        metrics: keys to show (known keys are scaled and titled as in :data:`FORMATS`).
        problem: keep only this problem's rows.

    Returns:
        ``(table_rows, header)`` for :func:`igmlib.book.table`.

    Raises:
        ValueError: no rows left, or a metric key missing from every row.
    """
    rows = [r for r in rows if problem is None or r["problem"] == problem]
    if not rows:
        raise ValueError(f"no rows to summarise{'' if problem is None else f' for problem {problem!r}'}")
    for key in metrics:
        if not any(key in r for r in rows):
            raise ValueError(f"metric {key!r} is in no row; the rows have: {', '.join(sorted(set().union(*rows)))}")
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["problem"], r["model"]), []).append(r)
    header = ["problem", "model", "runs"] + [FORMATS.get(k, (k, 1, 3))[0] for k in metrics]
    out = []
    for (prob, model), group in groups.items():
        cells = [prob, model, f"{sum(r['status'] == 'ok' for r in group)}/{len(group)}"]
        for key in metrics:
            _, scale, digits = FORMATS.get(key, (key, 1, 3))
            values = np.array([r.get(key, math.nan) for r in group], dtype=float) * scale
            values = values[np.isfinite(values)]
            cells.append("–" if values.size == 0 else f"{values.mean():.{digits}f} ± {values.std():.{digits}f}")
        out.append(cells)
    return out, header


__all__ = ["DIGIT_METRICS", "FORMATS", "TOY_METRICS", "evaluate", "leaderboard", "summarize"]
