"""Numbers in the chapters' prose are computed: a measured result is glued or built by the notebook.

A chapter's text must change when its runs change. So a number that a run measured (an accuracy, a
loss, a count of modes found, a score) may reach the prose only through MyST-NB ``glue`` (the
``{glue:text}`` / ``{glue}`` roles) or a ``Markdown`` output built from the values in a code cell.
This test reads each committed chapter (``book/NN_*.md``) and flags *result numbers typed in prose*.

How it decides (a heuristic, kept simple and strict enough to fail):

1. **Prose only.** It takes the Markdown cells, and drops from them: code blocks and
   ``{code-cell}``s, display maths (``$$ ... $$``, ``{math}`` blocks), inline maths ``$...$``,
   inline code, directive option lines (``:label: ...``, ``:width: 80%``), MyST targets
   (``(label)=``), link and image targets, HTML comments, and every role with its target
   (``{cite}`...```, ``{ref}``, ``{eq}``, ``{numref}``, ``{glue:text}`key```): a glued value is
   not a typed one. The ``## Exercises`` sections are read too (their text is prose).
2. **Candidate numbers.** In what is left, a *result-like* number is one of: a number with a
   decimal point (``0.93``, ``1.4``), a percentage (``93%``, ``93 %``, ``93 per cent``), or a count
   out of a total (``7/8 modes``, ``7 of 8 modes``, ``7 out of 8 seeds``). Plain integers are not
   candidates: they are overwhelmingly settings, counts of things we chose, years or references.
3. **Exempt contexts**, decided per sentence or per number:

   - the sentence cites a paper (it had a ``{cite}`` role) or attributes the value to "the
     paper" / "the authors" (whose citation is in the chapter's references): a reported value;
   - the number is a setting: it follows ``=`` or a setting word within a few words (learning
     rate, ``lr``, ``beta``, momentum, weight, penalty, ``lambda``, clip, temperature, dropout,
     bandwidth, standard deviation, ``std``, sigma, scale, radius, probability, threshold, decay,
     fraction, ratio, smoothing, noise, variance, mean ...);
   - the number names a part of a text or software: section, chapter, equation, figure, table,
     algorithm, appendix, version, Python, PyTorch, Jupyter Book ...
4. **Allowlist.** What is left and still legitimate (a mathematical constant such as
   ``log 2 = 0.69`` written in words) is listed in ``ALLOWED`` with its reason: the chapter, an
   exact snippet of the sentence, and why. An entry that no longer matches anything fails too, so
   the list does not rot.

Run-dependent *comparisons* ("the GAN found more modes than ALI") carry no number and cannot be
found by a pattern; they were reviewed by hand and are written by code (the comparison word is
chosen from the numbers). Every ``{glue}`` key used in a chapter must also be glued by one of its
code cells, else the build fails on an undefined key.
"""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))

# (chapter stem, exact snippet of the flagged sentence) -> why this typed number is fine.
ALLOWED: dict[tuple[str, str], str] = {
    ("01_implicit_models", "so its range starts at 0.02"):
        "a plotting setting (the start of the plotted range), not a measurement",
    ("03_moment_matching", "from 2.5 times the modes' std to half the radius"):
        "a setting: the bandwidths chosen for the sum of kernels",
    ("06_wgan", "between the target's 0.1% and 99.9% quantiles"):
        "a setting of the histogram KL metric (its range), not a measurement",
    ("07_mode_collapse", "puts 90% of its samples on three of the"):
        "the definition of a hand-made generator (the code's 0.9), not a measurement",
    ("07_mode_collapse", "over the last 70% of the run"):
        "a training setting (decay_start=0.3)",
    ("08_infogan", "Train with 0.2 and 5."):
        "an exercise's settings (the values of lambda to try)",
    ("12_evaluation", "its accuracy drops towards 0.5"):
        "the chance level of a two-sample classifier, a property of the test (an exercise's answer)",
    ("12_evaluation", "scores about 0.5 for the memoriser"):
        "the chance level of a two-sample classifier, a property of the test (an exercise's answer)",
    ("12_evaluation", "(50% is perfect)"):
        "the ideal value of the 1-NN two-sample accuracy, a property of the metric",
}

_SETTING_WORDS = (
    r"learning[ -]rates?|lr|beta\d?|β\d?|momentum|weights?|penalty|penalties|lambda|λ|coefficients?|"
    r"clip(?:ping)?|clamp|temperature|dropout|bandwidths?|standard deviations?|std|sigma|σ|scales?|"
    r"radius|radii|probabilit(?:y|ies)|threshold|decay|smoothing|noise|variances?|"
    r"slope|leak|leaky|epsilon|ε|step sizes?|size|gamma|γ|alpha|α|width|spread|"
    r"margin|tolerance|set to|initiali[sz]ed"
)
_SETTING_BEFORE = re.compile(rf"(?:=|≈\s*|\b(?:{_SETTING_WORDS})\b)\W*(?:\w+\W+){{0,2}}$", re.I)
_REFERENCE_BEFORE = re.compile(
    r"\b(?:sections?|§|chapters?|eqs?\.?|equations?|figs?\.?|figures?|tables?|algorithms?|appendix|"
    r"versions?|v|python|pytorch|torch|jupyter book|myst|step)\s*$", re.I)
_NUMBER = re.compile(
    r"(?P<count>\b\d+\s*(?:/|of|out of)\s*(?:the\s+|all\s+)?\d+\b(?=\s+(?:[\w-]+\s+){0,2}?"
    r"(?:modes?|seeds?|runs?|classes|digits?|clusters?|components?|points?|samples?|cases?|trials?|"
    r"comparisons?|models?)\b))"
    r"|(?P<percent>\b\d+(?:\.\d+)?\s*(?:%|per ?cent\b))"
    r"|(?P<decimal>(?<![\w.])\d*\.\d+(?![\w.]))")
_PAPER = re.compile(r"\b(?:the paper(?:'s)?|the authors'?|paper's figure)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[*_])|\n\s*\n")


def _strip_markup(text: str) -> tuple[str, set[int]]:
    """The prose of a Markdown cell with maths, code, roles and targets removed, and the character
    offsets where a ``{cite}`` role stood (so that its sentence counts as a paper's value)."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    # fenced blocks: code and maths go; a directive keeps its body (an admonition is prose) but
    # loses its option lines and, for {math}/{code}/{code-cell}, its body
    out, fence, keep = [], None, True
    for line in text.split("\n"):
        m = re.match(r"^\s*(`{3,}|:{3,})\s*(\{[\w:-]+\})?(.*)$", line)
        if fence is None and m:
            fence, directive = m.group(1), (m.group(2) or "")
            keep = bool(directive) and not re.match(r"\{(math|code|code-cell|code-block|literalinclude)\}",
                                                    directive)
            out.append(m.group(3) if keep and directive not in ("{figure}", "{image}") else "")
            continue
        if fence is not None and line.strip().startswith(fence[0] * len(fence)) and \
                line.strip().strip(fence[0]) == "":
            fence = None
            out.append("")
            continue
        if fence is not None and (not keep or re.match(r"^\s*:[\w-]+:", line)):
            out.append("")
            continue
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"(?<![\\$])\$(?!\$)(?:\\.|[^$\\])+?\$", " ", text)
    text = re.sub(r"^\s*\([\w:.-]+\)=\s*$", " ", text, flags=re.M)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    cites = set()

    def role(match):
        if match.group(1).startswith("cite"):
            cites.add(match.start())
            return " \x00CITE\x00 "
        return " "
    text = re.sub(r"\{([\w:-]+)\}`[^`]*`", role, text)
    text = re.sub(r"`+[^`]*`+", " ", text)
    return text, cites


def prose_sentences(markdown: str) -> list[str]:
    """The sentences of a chapter's Markdown prose (see the module docstring for what is removed);
    a sentence that cited a paper contains the marker ``\\x00CITE\\x00``."""
    notebook = jupytext.reads(markdown, fmt="md:myst")
    sentences = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        prose, _ = _strip_markup(cell.source)
        sentences += [" ".join(s.split()) for s in _SENTENCE_END.split(prose) if s.strip()]
    return sentences


def typed_numbers(sentence: str) -> list[str]:
    """The result-like numbers typed in one prose sentence that no exemption covers."""
    if "\x00CITE\x00" in sentence or _PAPER.search(sentence):
        return []
    found = []
    for m in _NUMBER.finditer(sentence):
        before = sentence[max(0, m.start() - 60):m.start()]
        if _REFERENCE_BEFORE.search(before):
            continue
        if m.lastgroup == "decimal" and _SETTING_BEFORE.search(before):
            continue
        found.append(m.group(0))
    return found


def flagged(markdown: str, stem: str = "") -> list[tuple[str, list[str]]]:
    """(sentence, numbers) for every prose sentence of ``markdown`` with typed result numbers and
    no entry in ``ALLOWED``."""
    out = []
    for sentence in prose_sentences(markdown):
        numbers = typed_numbers(sentence)
        if numbers and not any(s == stem and snippet in sentence for s, snippet in ALLOWED):
            out.append((sentence.replace("\x00CITE\x00", "{cite}"), numbers))
    return out


def _glue_keys_used(markdown: str) -> set[str]:
    keys = set()
    for role, target in re.findall(r"\{(glue(?::\w+)?)\}`([^`]+)`", markdown):
        key = target.split("::")[-1]
        keys.add(key.rsplit(":", 1)[0] if role == "glue:text" and ":" in key else key)
    for key in re.findall(r"^[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", markdown, flags=re.M):
        keys.add(key)
    return keys


def _glue_keys_defined(markdown: str) -> set[str]:
    code = "\n".join(c.source for c in jupytext.reads(markdown, fmt="md:myst").cells if c.cell_type == "code")
    return set(re.findall(r"\bglue\(\s*[rf]?[\"']([^\"'{}]+)[\"']", code))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_result_number_is_typed_in_prose(chapter):
    bad = flagged(chapter.read_text(), chapter.stem)
    assert not bad, (f"{chapter.name}: measured numbers typed in prose; glue them "
                     "(`glue(key, value, display=False)` and {glue:text}`key`) or build the sentence "
                     "with Markdown in a code cell, or add a reviewed ALLOWED entry with its reason:\n"
                     + "\n".join(f"  {numbers}: {sentence}" for sentence, numbers in bad))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_glue_key_is_defined(chapter):
    text = chapter.read_text()
    missing = _glue_keys_used(text) - _glue_keys_defined(text)
    assert not missing, f"{chapter.name} uses glue keys no code cell glues: {sorted(missing)}"


def test_every_allowlist_entry_still_matches():
    texts = {p.stem: prose_sentences(p.read_text()) for p in CHAPTERS}
    stale = [key for key in ALLOWED if not any(key[1] in s for s in texts.get(key[0], []))]
    assert not stale, f"ALLOWED entries that match no sentence any more (remove them): {stale}"


_SNIPPET = """# A chapter

```{code-cell} ipython3
glue("acc", 0.935, display=False)
```

The GAN reaches {acc} accuracy on held-out digits and finds 7/8 modes.

We train with a learning rate of 0.0002 and $\\beta_1 = 0.5$ (section 3.2).

The paper reports 0.91 {cite}`goodfellow2014`.
"""


def test_detector_flags_a_typed_result_and_accepts_a_glued_one():
    typed = flagged(_SNIPPET.replace("{acc}", "93.5%"))
    assert [numbers for _, numbers in typed] == [["93.5%", "7/8"]]
    glued = _SNIPPET.replace("{acc}", "{glue:text}`acc:.1%`").replace("7/8 modes", "{glue:text}`modes` modes")
    assert flagged(glued) == []
    assert _glue_keys_used(glued) - _glue_keys_defined(glued) == {"modes"}


@pytest.mark.parametrize("sentence", [
    "Both runs end at a loss of 0.69 nats.", "It scores 12.5 on the test set.", "ALI finds 5 of 8 modes.",
    "The probe is right 88 per cent of the time."])
def test_detector_flags(sentence):
    assert typed_numbers(prose_sentences(sentence)[0])


@pytest.mark.parametrize("sentence", [
    "We use a learning rate of 0.0002.", "Adam with beta1 = 0.5 is the default.", "See section 2.3.",
    "Table 1.2 lists them.", "Written in Python 3.11.", "We train for 2000 steps in 2014.",
    "The paper reports 0.91 {cite}`x`.", "The paper's 5% error.", "The score is {glue:text}`acc:.2f`.", "Inline $p = 0.5$ maths."])
def test_detector_accepts(sentence):
    assert not typed_numbers(prose_sentences(sentence)[0] if prose_sentences(sentence) else "")
