"""The project's own files describe one environment (pyproject.toml, environment.yml, constraints.txt),
and igmlib installs from its wheel into a fresh venv without the book's extras."""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("book", "test"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_name(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted


def test_igmlib_keeps_an_open_torch_range_and_constraints_pin_it():
    deps = {_name(r): r for r in _pyproject()["project"]["dependencies"]}
    assert "==" not in deps["torch"], "igmlib must not pin torch: it would replace a user's (e.g. Colab's) torch"
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if re.match(r"torch\s*==", line)]
    assert pins == ["torch==2.13.0"]


def test_constraints_pin_every_declared_package_exactly():
    project = _pyproject()["project"]
    declared = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {_name(r) for r in extra}
    pinned = {
        _name(line): line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    missing = sorted(declared - set(pinned))
    assert not missing, f"constraints.txt lacks pins for {missing}"
    assert all("==" in pinned[name] for name in declared)


def test_no_torchvision_dependency():
    text = (ROOT / "pyproject.toml").read_text() + (ROOT / "constraints.txt").read_text()
    assert "torchvision" not in text


def _readme_example() -> str:
    """The README's "use igmlib in your own code" example (the first ```python block)."""
    return re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)


def test_readme_example_is_five_lines_of_code():
    code = [line for line in _readme_example().splitlines() if line.strip()]
    assert len(code) <= 6, code  # the import plus five statements


@pytest.mark.skipif(os.environ.get("IGM_SKIP_FRESH_VENV") == "1", reason="IGM_SKIP_FRESH_VENV=1")
def test_wheel_installs_in_a_fresh_venv_and_runs_the_readme_example(tmp_path):
    """``pip install`` of the built wheel into an empty venv (the pinned torch, no book or test
    extras): ``import igmlib`` works and the README example runs there. Takes about a minute (it
    installs torch); ``IGM_SKIP_FRESH_VENV=1`` skips it locally."""
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    pip_env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    run = functools.partial(subprocess.run, capture_output=True, text=True, env=pip_env, timeout=1200)
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)])
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(wheels.glob("igmlib-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        assert not any(n.startswith(("tests/", "book/")) for n in zf.namelist())
    requires = re.findall(r"^Requires-Dist: (.*)$", metadata, re.M)
    assert any(r.startswith("torch>=") for r in requires)
    assert all("extra ==" in r for r in requires if _name(r) in {"jupyter-book", "ipywidgets", "pytest"})

    venv_created = run([sys.executable, "-m", "venv", str(venv)])
    assert venv_created.returncode == 0, venv_created.stderr
    python = venv / "bin" / "python"
    installed = run([str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt"), str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    script = (
        "import importlib.util, os\n"
        "for extra in ('jupyter_book', 'ipywidgets', 'pytest'):\n"
        "    assert importlib.util.find_spec(extra) is None, extra + ' leaked into the base install'\n"
        "os.environ['IGM_PROGRESS'] = '0'\n" + _readme_example()
    )
    ran = run([str(python), "-c", script], cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "ModeCoverage(" in ran.stdout
