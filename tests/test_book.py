"""The book: chapters paired with their notebooks, listed in the table of contents, and building
with ``-W`` (a failing cell fails the build) into pages with typeset maths and figures.

The build runs every chapter on the quick budget (``IGM_BUDGET=quick``, set by ``make test``).
The build is shared with ``test_browser.py`` (the ``built_book`` fixture in ``conftest.py``).
"""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


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


@pytest.mark.parametrize("page", sorted(BOOK.glob("*.md")), ids=lambda p: p.name)
def test_no_page_contains_a_control_character(page):
    # e.g. a TAB that replaced the "\t" of "\to" in a formula renders the maths broken
    for number, line in enumerate(page.read_text().splitlines(), 1):
        bad = [f"U+{ord(c):04X}" for c in line if (ord(c) < 32 and c != "\n") or ord(c) == 127]
        assert not bad, f"{page.name}:{number} contains control characters {bad}: {line!r}"


def test_every_copy_of_the_repository_url_agrees_with_config():
    # _config.yml's repository.url is the one source; tools/set_repository_url.py rewrites the copies
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url, branch = config["url"].rstrip("/"), config.get("branch", "main")
    slug = url.removeprefix("https://github.com/")
    for chapter in CHAPTERS:
        text = chapter.read_text()
        colab = f"https://colab.research.google.com/github/{slug}/blob/{branch}/book/{chapter.stem}.ipynb"
        assert colab in text, f"{chapter.name}: its Colab link is not {colab}"
        assert f'"igmlib @ git+{url}"' in text, f"{chapter.name}: its install cell does not install from {url}"
        others = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text)) - {url}
        assert not others, f"{chapter.name} names other repositories {others}"
    for name in ("README.md", "pyproject.toml", "CITATION.cff"):
        assert url in (ROOT / name).read_text(), f"{name} does not name {url}"


def test_toc_lists_every_page_once():
    files = _toc_files()
    assert len(files) == len(set(files))
    pages = {f"book/{p.stem}" for p in BOOK.glob("*.md")}
    assert set(files) == pages


def test_book_builds_every_page_with_local_mathjax(built_book):
    for page in _toc_files():
        html = (built_book / f"{page}.html").read_text()
        assert "cdn.jsdelivr.net/npm/mathjax" not in html, f"{page}: MathJax must be served locally"
        if 'class="math' in html:  # a page with maths loads the local copy
            assert "_static/mathjax/tex-chtml.js" in html, f"{page}: MathJax must be served locally"
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_pages_have_figures_and_a_colab_launch_button(built_book, chapter):
    html = (built_book / "book" / f"{chapter.stem}.html").read_text()
    figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
    assert figures, f"{chapter.stem} shows no figure"
    for src in re.findall(r'src="([^"]*_images/[^"]+\.png)"', html):
        assert (built_book / "book" / src).resolve().exists(), src
    assert f"blob/main/book/{chapter.stem}.ipynb" in html, "the Colab button must open the committed .ipynb"
    if "igm.book.table(" in chapter.read_text():  # Markdown tables computed in the notebook
        assert "<table" in html and "| ---" not in html and "|---|" not in html, "a result table rendered as raw text"
