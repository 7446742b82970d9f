"""The built book in a real browser: headless Chromium (Debian's, driven by Playwright) over every page.

The quick-budget build (``built_book`` in ``conftest.py``) is served on 127.0.0.1; every request to
another host is blocked, so a page that needs a CDN fails here as it would offline. For each page of
the table of contents the test checks: maths typeset by MathJax with no raw TeX left, every image
loaded, no error output cell, no JavaScript error, no failed (or HTTP >= 400) or external request, embedded widgets
rendered, and every internal link (page and anchor) resolving. It saves a screenshot of each page to
``_build/screenshots/`` (CI keeps them as artifacts). On the pages with static interactive figures
(``igm.plot.player``) it moves every control, steps and plays, and checks that the frame changes.

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
PAGES = (lambda toc: [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]])(
    yaml.safe_load((ROOT / "_toc.yml").read_text()))

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
def book_html(request):
    """The built book: ``IGM_BOOK_HTML`` (an existing ``_build/html``) if set, else ``built_book``."""
    path = os.environ.get("IGM_BOOK_HTML")
    return Path(path) if path else request.getfixturevalue("built_book")


@pytest.fixture(scope="module")
def server(book_html):
    handler = functools.partial(_QuietHandler, directory=str(book_html))
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


def test_no_dead_widgets(visits):
    """ipywidgets outputs need a kernel: the chapters leave them out of the page (``remove-output``)
    and show static players instead; any that remain must at least render."""
    dead = [page for page, seen in visits.items() if seen["has_widgets"] and seen["widgets"] == 0]
    assert not dead, f"embedded widgets that did not render on {dead}"


# the chapters with static interactive figures (igm.plot.player): every one must respond on the page
PLAYER_PAGES = [p for p in PAGES if Path(p).name[:2] in {"01", "03", "04", "05", "08"}]
SRC_JS = "p => p.querySelector('img').src"
MOVE_JS = """c => { const n = c.tagName === 'SELECT' ? c.options.length : Number(c.max) + 1;
  c.value = String((Number(c.value) + 1) % n);
  c.dispatchEvent(new Event('input', {bubbles: true})); c.dispatchEvent(new Event('change', {bubbles: true})); }"""


@pytest.fixture(scope="module")
def player_page(browser, server):
    pages = []

    def open_page(page):
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        pg.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname in ("127.0.0.1", None)
                 or r.request.url.startswith("data:") else r.abort())
        pg.goto(urljoin(server, f"{page}.html"), wait_until="load")
        pages.append(pg)
        return pg

    yield open_page
    for pg in pages:
        pg.close()


@pytest.mark.parametrize("page", PLAYER_PAGES)
def test_every_control_of_every_static_figure_changes_the_frame(player_page, page):
    pg = player_page(page)
    players = pg.locator(".igm-player")
    assert players.count() > 0, f"{page} shows no static interactive figure"
    for i in range(players.count()):
        player = players.nth(i)
        player.scroll_into_view_if_needed()
        controls = player.locator("[data-igm-param]")
        assert controls.count() > 0
        for k in range(controls.count()):
            control = controls.nth(k)
            if control.evaluate("c => (c.tagName === 'SELECT' ? c.options.length : Number(c.max) + 1)") < 2:
                continue  # a single value (quick budget): nothing to move
            before = player.evaluate(SRC_JS)
            control.evaluate(MOVE_JS)
            assert player.evaluate(SRC_JS) != before, f"{page}, figure {i}: control {k} did not change the frame"
        buttons = player.locator("button")
        for b in range(buttons.count()):  # an icon that renders as an empty box would have no SVG, or a 0 box
            box = buttons.nth(b).locator("svg").bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, f"{page}, figure {i}: button {b} has no visible icon"
        if buttons.count():
            player.locator("[data-igm=first]").click()
            before = player.evaluate(SRC_JS)
            player.locator("[data-igm=forward]").click()
            assert player.evaluate(SRC_JS) != before, f"{page}, figure {i}: the step button did not change the frame"
            player.locator("[data-igm=back]").click()
            assert player.evaluate(SRC_JS) == before


def test_the_training_film_plays(player_page):
    pg = player_page(next(p for p in PAGES if Path(p).name.startswith("04")))
    index = pg.evaluate("() => Array.from(document.querySelectorAll('.igm-player')).findIndex("
                        "p => p.querySelector('label').firstChild.textContent.trim() === 'update')")
    assert index >= 0, "no training film (a player with an 'update' slider) on the GAN chapter"
    film = pg.locator(".igm-player").nth(index)
    film.scroll_into_view_if_needed()
    film.locator("[data-igm=first]").click()
    before = film.evaluate(SRC_JS)
    film.locator("[data-igm=play]").click()
    pg.wait_for_timeout(1500)
    assert film.evaluate(SRC_JS) != before, "pressing play did not advance the film"
    assert film.locator("input[type=range]").evaluate("s => Number(s.value)") > 0


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
