"""The built book in a real browser: headless Chromium (Debian's, driven by Playwright) over every page.

The quick-budget build (``built_book`` in ``conftest.py``) is served on 127.0.0.1; every request to
another host is blocked, so a page that needs a CDN fails here as it would offline. For each page of
the table of contents the test checks: maths typeset by MathJax with no raw TeX left, every image
loaded, no error output cell, no JavaScript error, no failed (or HTTP >= 400) or external request, embedded widgets
rendered, and every internal link (page and anchor) resolving. It saves a screenshot of each page to
``_build/screenshots/`` (CI keeps them as artifacts).

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the test is skipped, unless
``IGM_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]
PAGES = (lambda toc: [toc["root"]] + [c["file"] for c in toc["chapters"]])(yaml.safe_load((ROOT / "_toc.yml").read_text()))

if CHROMIUM is None and os.environ.get("IGM_REQUIRE_BROWSER") == "1":
    raise RuntimeError("IGM_REQUIRE_BROWSER=1 but no chromium on PATH: apt-get install -y chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run)")

# visible text outside code, with typeset maths removed: TeX left here was not rendered
RAW_TEX_JS = """() => {
  const body = document.querySelector('main') || document.body;
  const copy = body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea').forEach(e => e.remove());
  return copy.textContent;
}"""
RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\\(?:frac|mathbb|mathcal|operatorname|sum|int|begin)\b")


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the [test] extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _visit(browser, url: str, screenshot: Path | None = None) -> dict:
    """Open ``url`` with external hosts blocked; wait for MathJax and widgets; return what was seen."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"errors": [], "failed": [], "external": []}
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("requestfailed", lambda req: seen["failed"].append(f"{req.url} ({req.failure})"))
    page.on("response", lambda res: res.status >= 400 and not res.url.endswith("/favicon.ico")
            and seen["failed"].append(f"{res.url} (HTTP {res.status})"))

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            seen["external"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")
    seen["has_widgets"] = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count() > 0
    if seen["has_widgets"]:  # the widget manager renders them asynchronously
        try:
            page.wait_for_selector(".jupyter-widgets", state="attached", timeout=20_000)
        except Exception:  # playwright's TimeoutError: reported by the widget check below
            pass
    seen["widgets"] = page.locator(".jupyter-widgets").count()
    seen["maths"] = page.locator("mjx-container").count()
    seen["tex_errors"] = page.locator("mjx-merror").count()
    seen["raw_tex"] = RAW_TEX.findall(page.evaluate(RAW_TEX_JS))
    seen["broken_images"] = page.evaluate(
        "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    seen["images"] = page.evaluate("() => document.images.length")
    seen["error_cells"] = page.locator(".output.error, .output.traceback, .output.stderr").count()
    seen["links"] = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    seen["nav"] = page.evaluate(
        "() => Array.from(document.querySelectorAll('.bd-sidebar-primary a.reference.internal')).map(a => a.href)")
    seen["ids"] = set(page.evaluate("() => Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    page.close()
    return seen


@pytest.fixture(scope="module")
def visits(browser, server):
    return {page: _visit(browser, urljoin(server, f"{page}.html"), SCREENSHOTS / f"{Path(page).name}.png")
            for page in PAGES}


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_cleanly(visits, page):
    seen = visits[page]
    assert not seen["errors"], f"JavaScript errors: {seen['errors']}"
    assert not seen["external"], f"requests to other hosts (the book must work offline): {seen['external'][:5]}"
    assert not seen["failed"], f"failed requests: {seen['failed'][:5]}"
    assert seen["tex_errors"] == 0, "MathJax reported a TeX error"
    assert not seen["raw_tex"], f"TeX left untypeset: {seen['raw_tex'][:5]}"
    assert not seen["broken_images"], f"images that did not load: {seen['broken_images']}"
    assert seen["error_cells"] == 0, "an output cell shows an error or stderr"
    if seen["has_widgets"]:
        assert seen["widgets"] > 0, "widget outputs are embedded but were not rendered"
    assert (SCREENSHOTS / f"{Path(page).name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("page", [p for p in PAGES if Path(p).name[:2].isdigit()])
def test_chapters_have_typeset_maths_and_figures(visits, page):
    assert visits[page]["maths"] > 0 and visits[page]["images"] > 0


def test_widgets_render_somewhere(visits):
    """At least one chapter embeds widgets, and they render from the book's own JavaScript."""
    assert any(seen["has_widgets"] and seen["widgets"] > 0 for seen in visits.values())


def test_navigation_reaches_every_page(visits, server):
    reached = {urldefrag(href)[0] for href in visits[PAGES[0]]["nav"]}
    missing = [p for p in PAGES[1:] if urljoin(server, f"{p}.html") not in reached]
    assert not missing, f"the sidebar of the front page does not link to {missing}"


def test_internal_links_resolve(visits, server):
    ids = {urljoin(server, f"{p}.html"): seen["ids"] for p, seen in visits.items()}
    broken = []
    for page, seen in visits.items():
        for href in seen["links"]:
            url, fragment = urldefrag(href)
            if not url.startswith(server):
                continue
            if url not in ids:  # a page outside the toc (genindex, search, module source): fetch it
                try:
                    with urllib.request.urlopen(url) as response:
                        ids[url] = set(re.findall(r'\bid="([^"]+)"', response.read().decode()))
                except urllib.error.URLError:
                    ids[url] = None
            if ids[url] is None or (fragment and fragment not in ids[url]):
                broken.append(f"{page}: {href}")
    assert not broken, f"{len(broken)} broken internal links, e.g. {broken[:10]}"
