"""Every chapter ends with exercises, each with a folded solution, written for sphinx-exercise.

The directives are MyST colon fences: ``:::{exercise}`` with a ``:label:``, then ``:::{solution} label``
(or the gated ``:::{solution-start} label`` ... ``:::{solution-end}`` when the solution holds code
cells) with ``:class: dropdown``. A chapter's ``check_exercise_*`` functions (numeric answers the
reader can check) are each called in the chapter with the solution's value, so executing the
chapter proves that the check and the solution agree.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))
DIRECTIVE = re.compile(r"^:::\{(exercise|solution|solution-start|solution-end)\}[ \t]*(.*)$", re.M)


def _directives(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """(name, argument, options) of every sphinx-exercise directive, in order of appearance."""
    found = []
    for match in DIRECTIVE.finditer(text):
        options = {}
        for line in text[match.end():].lstrip("\n").splitlines():
            option = re.match(r"^:([\w-]+):[ \t]*(.*)$", line)
            if not option:
                break
            options[option.group(1)] = option.group(2).strip()
        found.append((match.group(1), match.group(2).strip(), options))
    return found


def _exercises_section(chapter: Path) -> str:
    text = chapter.read_text()
    assert "\n## Exercises\n" in text, f"{chapter.name} has no '## Exercises' section"
    return text.split("\n## Exercises\n", 1)[1].split("\n## ", 1)[0]


def _code_cells(chapter: Path) -> list[str]:
    return [cell.source for cell in jupytext.read(chapter).cells if cell.cell_type == "code"]


def test_the_book_loads_sphinx_exercise():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx_exercise" in config["sphinx"]["extra_extensions"]
    assert "colon_fence" in config["parse"]["myst_enable_extensions"]  # the ::: syntax of the directives
    assert re.search(r"^sphinx-exercise==", (ROOT / "constraints.txt").read_text(), re.M)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_folded_solution(chapter):
    directives = _directives(chapter.read_text())
    labels = [options.get("label") for name, _, options in directives if name == "exercise"]
    assert labels, f"{chapter.name} has no {{exercise}} directive"
    assert all(labels), f"{chapter.name}: every exercise needs a :label: (its solution refers to it)"
    assert len(set(labels)) == len(labels), f"{chapter.name}: duplicate exercise labels {labels}"
    solutions = [(argument, options) for name, argument, options in directives
                 if name in ("solution", "solution-start")]
    solved = [argument for argument, _ in solutions]
    assert sorted(solved) == sorted(labels), (
        f"{chapter.name}: exercises {sorted(set(labels) - set(solved))} have no solution, "
        f"solutions {sorted(set(solved) - set(labels))} match no exercise")
    for argument, options in solutions:
        assert "dropdown" in options.get("class", "").split(), (
            f"{chapter.name}: the solution to {argument} is not folded: add ':class: dropdown'")
    starts = sum(name == "solution-start" for name, _, _ in directives)
    ends = sum(name == "solution-end" for name, _, _ in directives)
    assert starts == ends, f"{chapter.name}: {starts} solution-start but {ends} solution-end directives"


def test_exercise_labels_are_unique_across_the_book():
    labels = [options["label"] for chapter in CHAPTERS for name, _, options in _directives(chapter.read_text())
              if name == "exercise" and "label" in options]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    assert not duplicates, f"exercise labels used twice: {duplicates}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_sits_in_the_exercises_section(chapter):
    section = _exercises_section(chapter)
    total = sum(name == "exercise" for name, _, _ in _directives(chapter.read_text()))
    assert sum(name == "exercise" for name, _, _ in _directives(section)) == total


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_check_function_is_called_in_its_chapter(chapter):
    defined, called = set(), set()
    for source in _code_cells(chapter):
        tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M))  # IPython magics -> pass
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check_exercise_"):
                defined.add(node.name)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id.startswith("check_exercise_")):
                called.add(node.func.id)
    assert defined <= called, f"{chapter.name}: {sorted(defined - called)} defined but never called in the chapter"
    assert called <= defined, f"{chapter.name}: {sorted(called - defined)} called but not defined in the chapter"
    text = chapter.read_text()
    for name in defined:  # the exercise tells the reader which function checks it
        assert re.search(rf"`{name}\(", text), f"{chapter.name}: no exercise names `{name}(...)`"
