"""Sphinx extension with three fixes for the rendered book.

1. Serve the ipywidgets embedding JavaScript from the book itself.

myst-nb embeds each executed notebook's widget state in the page and, by default, loads
``require.js`` and ``@jupyter-widgets/html-manager`` from public CDNs, so widgets stay blank
offline. This extension fetches the two npm packages once from the npm registry (pooch, SHA-256
checked, cached), copies their browser files into ``_static/widgets/`` and points myst-nb's
``nb_ipywidgets_js`` there (see ``_config.yml``).

   The bundle's ``data-jupyter-widgets-cdn`` attribute and require.js's ``baseUrl`` are set per
   page to ``_static/widgets/`` (relative to each page), where the bundle then finds its fonts.

2. Let widgets typeset maths with MathJax 3. The html-manager calls the MathJax 2 API
(``MathJax.Hub.Queue``), which MathJax 3 lacks: every widget label raised a TypeError. A small
shim maps it onto ``MathJax.typesetPromise``.

3. Drop duplicated inline scripts. Jupyter Book 1 registers sphinx-thebe's configuration script
twice, so every page declared ``const THEBE_JS_URL`` twice and the browser reported a
SyntaxError on every page (found by ``tests/test_browser.py``).
"""
from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pooch

PACKAGES = {
    # npm tarball URL -> (sha256, files to copy out of the tarball's "package/" folder)
    "https://registry.npmjs.org/requirejs/-/requirejs-2.3.8.tgz": (
        "777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec", "", ["require.js"]),
    # under the path the bundle expects below its "CDN" (it loads its fonts from there)
    "https://registry.npmjs.org/@jupyter-widgets/html-manager/-/html-manager-1.0.15.tgz": (
        "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638", "@jupyter-widgets/html-manager/dist",
        ["dist/"]),
}


def fetch_widget_js(target: Path) -> Path:
    """Write ``target/widgets/require.js`` and ``target/widgets/@jupyter-widgets/html-manager/dist/``
    (``embed-amd.js`` and its fonts); return ``target``."""
    cache = Path(os.environ.get("IGM_CACHE", pooch.os_cache("igmlib"))) / "npm"
    for url, (sha256, folder, wanted) in PACKAGES.items():
        out = target / "widgets" / folder
        out.mkdir(parents=True, exist_ok=True)
        try:
            archive = pooch.retrieve(url, known_hash=f"sha256:{sha256}", path=cache, progressbar=False)
        except Exception as exc:  # offline or registry down: say what is missing and how to fix it
            raise RuntimeError(
                f"could not download {url} ({exc}); the book serves the ipywidgets JavaScript itself and needs it "
                f"once: connect to the npm registry or place the file in {cache}"
            ) from exc
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("package/")
                if member.isfile() and not name.endswith(".map") and any(
                    name == w or (w.endswith("/") and name.startswith(w)) for w in wanted
                ):
                    dest = out / Path(name).name
                    with tar.extractfile(member) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
    return target


def _add_static(app, config):
    static = Path(app.outdir).parent / "widgets_static"
    config.html_static_path.append(str(fetch_widget_js(static)))


def _fix_scripts(app, pagename, templatename, context, doctree):
    from sphinx.builders.html._assets import _JavaScript

    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        if "data-jupyter-widgets-cdn" in attributes:  # relative to this page: the bundle's fonts load from it
            base = context["pathto"]("_static/widgets/", 1)
            attributes = {**attributes, "data-jupyter-widgets-cdn": base}
            script = _JavaScript(script.filename, priority=script.priority, **attributes)
            # the bundle finds its fonts relative to its AMD module URI, i.e. require's baseUrl
            unique.append(_JavaScript(None, priority=script.priority, body=f'require.config({{baseUrl: "{base}"}});'))
        # the two copies differ only in filename None vs "": compare what reaches the page
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  if (window.MathJax && window.MathJax.typesetPromise && !window.MathJax.Hub) {
    window.MathJax.Hub = {Queue: function (job) {
      var el = Array.isArray(job) ? job[2] : undefined;
      window.MathJax.startup.promise.then(function () { return window.MathJax.typesetPromise(el ? [el] : undefined); });
    }};
  }
});"""


def setup(app):
    app.connect("config-inited", _add_static)
    app.add_js_file(None, body=MATHJAX2_SHIM)
    app.connect("html-page-context", _fix_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
