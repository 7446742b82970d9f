"""What serves the book rather than the library: ``igm.book`` (imported on first use).

- :mod:`~igmlib.book.zoo`: every model of the book with its chapter's settings, for the ring, the
  grid and the digits, and how the harness scores it.
- :mod:`~igmlib.book.evaluation`: the evaluation harness (:func:`evaluate`, :func:`leaderboard`,
  :func:`summarize`) of the evaluation chapter and ``benchmarks/quality.py``.
- :mod:`~igmlib.book.tables`: Markdown result tables (:func:`table`, :func:`mean_std`).
- :mod:`~igmlib.book.widgets`: interactive figures (sliders need ``ipywidgets``, the ``[book]`` extra).
- :mod:`~igmlib.book.static`: the same figures as static players (:func:`igmlib.plot.player`), which
  respond on the static web page.
- :mod:`~igmlib.book.film`: a training film of a GAN (:func:`record_film`, :func:`film`).

The library (every other module of :mod:`igmlib`) never imports this package.
"""
from . import evaluation, film, static, tables, widgets, zoo
from .evaluation import evaluate, leaderboard, summarize
from .tables import mean_std, table

__all__ = ["evaluate", "evaluation", "film", "leaderboard", "mean_std", "static", "summarize", "table", "tables", "widgets", "zoo"]
