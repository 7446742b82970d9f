"""The book: chapters paired with their notebooks, listed in the table of contents, and building
with ``-W`` (a failing cell fails the build) into pages with typeset maths and figures.

The build runs every chapter on the quick budget (``IGM_BUDGET=quick``, set by ``make test``).
The browser check needs Debian's Chromium (``.ci/run`` installs it) and is skipped without it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc["chapters"]]


def test_there_are_chapters():
    assert len(CHAPTERS) >= 4


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_pair_in_sync(chapter):
    """What ``jupytext --sync`` would write equals the committed .ipynb (same cells, same sources)."""
    notebook = chapter.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing: run `make sync` and commit it"
    md, nb = jupytext.read(chapter), jupytext.read(notebook)
    md_cells = [(c.cell_type, c.source) for c in md.cells]
    nb_cells = [(c.cell_type, c.source) for c in nb.cells]
    assert md_cells == nb_cells, f"{chapter.name} and {notebook.name} differ: run `make sync`"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_colab_setup_and_budget(chapter):
    text = chapter.read_text()
    assert f"colab.research.google.com/github/igmlib/igmlib/blob/main/book/{chapter.stem}.ipynb" in text
    first_code = jupytext.read(chapter).cells
    first_code = next(c.source for c in first_code if c.cell_type == "code")
    assert "google.colab" in first_code and "pip install" in first_code
    assert "igm.budget(" in text, "every chapter sizes its experiments with igm.budget(full=..., quick=...)"


def test_toc_lists_every_page_once():
    files = _toc_files()
    assert len(files) == len(set(files))
    pages = {f"book/{p.stem}" for p in BOOK.glob("*.md")}
    assert set(files) == pages


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, IGM_BUDGET=os.environ.get("IGM_BUDGET", "quick"), IGM_PROGRESS="0")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "--builder", "html", "-W", "--keep-going"],
        capture_output=True, text=True, env=env, timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    return out / "_build" / "html"


def test_book_builds_every_page_with_local_mathjax(built_book):
    for page in _toc_files():
        html = (built_book / f"{page}.html").read_text()
        assert "_static/mathjax/tex-chtml.js" in html, f"{page}: MathJax must be served locally"
        assert "cdn.jsdelivr.net/npm/mathjax" not in html
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_pages_have_figures_and_a_colab_launch_button(built_book, chapter):
    html = (built_book / "book" / f"{chapter.stem}.html").read_text()
    figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
    assert figures, f"{chapter.stem} shows no figure"
    for src in re.findall(r'src="([^"]*_images/[^"]+\.png)"', html):
        assert (built_book / "book" / src).resolve().exists(), src
    assert f"blob/main/book/{chapter.stem}.ipynb" in html, "the Colab button must open the committed .ipynb"
    if "igm.plot.table(" in chapter.read_text():  # Markdown tables computed in the notebook
        assert "<table" in html and "| ---" not in html and "|---|" not in html, "a result table rendered as raw text"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (installed by .ci/run)")
@pytest.mark.parametrize("page", ["book/01_implicit_models", "book/04_gan"])
def test_pages_typeset_maths_in_a_browser(built_book, page, tmp_path):
    """Headless Chromium runs the page's JavaScript: MathJax must have produced typeset maths."""
    proc = subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
         "--dump-dom", (built_book / f"{page}.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = proc.stdout
    assert "<mjx-container" in dom, f"no typeset maths in {page} (stderr: {proc.stderr[-2000:]})"
    assert "<mjx-merror" not in dom, f"MathJax reported a TeX error in {page}"
