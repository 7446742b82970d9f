"""Publish the book under another repository URL in one step.

The repository URL lives in one place, ``_config.yml``'s ``repository.url`` (and ``branch``). The
chapters' "Open in Colab" links and install cells, the README, ``pyproject.toml`` and
``CITATION.cff`` repeat it because Colab and pip read those files as they are; this script rewrites
every copy from the old URL to the new one, and ``tests/test_book.py`` fails if any copy disagrees.

Usage (from the repository root)::

    python tools/set_repository_url.py https://github.com/you/igmlib [--branch main]

then commit the changed files (the paired ``.ipynb`` are rewritten with their ``.md``).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")


def current() -> tuple[str, str]:
    """``(url, branch)`` from ``_config.yml``'s ``repository`` block."""
    import yaml

    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def files() -> list[Path]:
    book = ROOT / "book"
    return [ROOT / "_config.yml", ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "CITATION.cff",
            *sorted(book.glob("[0-9][0-9]*_*.md")), *sorted(book.glob("[0-9][0-9]*_*.ipynb"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="e.g. https://github.com/you/igmlib")
    parser.add_argument("--branch", default=None, help="the branch Colab opens (default: keep the current one)")
    args = parser.parse_args()
    new_url = args.url.rstrip("/")
    if not URL.match(new_url):
        raise SystemExit(f"expected a GitHub repository URL like https://github.com/you/igmlib, got {args.url!r}")
    old_url, old_branch = current()
    new_branch = args.branch or old_branch
    old_colab = f"colab.research.google.com/github/{old_url.removeprefix('https://github.com/')}/blob/{old_branch}/"
    new_colab = f"colab.research.google.com/github/{new_url.removeprefix('https://github.com/')}/blob/{new_branch}/"
    changed = []
    for path in files():
        text = path.read_text()
        new = text.replace(old_colab, new_colab).replace(old_url, new_url)
        if path.name == "_config.yml":
            new = re.sub(r"(\n  branch: )\S+", rf"\g<1>{new_branch}", new, count=1)
        if new != text:
            path.write_text(new)
            changed.append(path.relative_to(ROOT))
    print(f"{old_url} ({old_branch}) -> {new_url} ({new_branch}): {len(changed)} files changed")
    for path in changed:
        print(f"  {path}")


if __name__ == "__main__":
    main()
