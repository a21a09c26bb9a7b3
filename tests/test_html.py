"""The built book in a real browser (headless Chromium), with the network cut off.

Runs after tests/test_book.py has built _build/html. For every chapter page it checks
that MathJax typeset the math (no raw $$ or \\( left in the text), that every image
loaded, that exercise solutions stay hidden until clicked, that ipywidgets progress
bars render from the embedded state, and that the console shows no errors. A
screenshot of each page is kept in _build/screenshots/ for people to look at.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make install installs it)"),
]


def _pages() -> list[Path]:
    """The page of every chapter source (collected before the book is built)."""
    sources = [p for p in (ROOT / "chapters").glob("*") if p.suffix in (".ipynb", ".md")]
    return sorted(HTML / "chapters" / (p.stem + ".html") for p in sources)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built; tests/test_book.py builds it first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=FLAGS, viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def _open(browser, url):
    """Open url with every request outside 127.0.0.1 refused; return (page, errors, blocked)."""
    page = browser.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_function("!window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax && window.MathJax.startup.promise")
    page.wait_for_timeout(300)
    return page, errors, blocked


RAW_MATH_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, .cell_input, .highlight, script, style, mjx-container, .toggle-hidden')
       .forEach(e => e.remove());
  const text = clone.innerText;
  return ['$$', '\\\\(', '\\\\[', '\\\\begin{'].filter(t => text.includes(t));
}"""


@pytest.mark.parametrize("page_path", _pages(), ids=lambda p: p.stem)
def test_chapter_page_renders_offline(page_path, server, browser):
    url = f"{server}/chapters/{page_path.name}"
    page, errors, blocked = _open(browser, url)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{page_path.stem}.png"), full_page=False)
        # math: typeset, nothing raw left
        assert page.evaluate(RAW_MATH_JS) == [], "raw TeX left untypeset"
        html = page_path.read_text()
        if "math notranslate" in html:
            assert page.locator("mjx-container").count() > 0, "MathJax produced no output"
        # figures: every image loaded
        broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                               ".map(i => i.src)")
        assert broken == [], f"images that did not load: {broken}"
        # exercises: solutions hidden until their toggle is clicked
        solutions = page.locator("div.solution")
        for i in range(solutions.count()):
            sol = solutions.nth(i)
            body = sol.locator(".solution-content, section").first
            assert not body.is_visible(), "a solution is visible before it was clicked"
            sol.locator("button.toggle-button, .toggle-button").first.click()
            body.wait_for(state="visible", timeout=3000)
        # widgets: progress bars render from the embedded widget state
        if "application/vnd.jupyter.widget-view+json" in html:
            page.wait_for_selector(".widget-progress, .jupyter-widgets .progress", timeout=10000)
            page.locator(".widget-progress, .jupyter-widgets .progress").first.scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / f"{page_path.stem}-widget.png"))
        assert errors == [], f"console errors: {errors}"
        assert [u for u in blocked if "/_static/" in u or u.endswith((".js", ".css"))] == [], \
            f"assets fetched from the network: {blocked}"
    finally:
        page.close()


def test_search_works_offline(server, browser):
    page, errors, _ = _open(browser, f"{server}/search.html?q=likelihood")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=20000)
        assert page.locator("#search-results ul.search li").count() >= 1
        assert errors == [], f"console errors: {errors}"
    finally:
        page.close()


def test_navigation_and_branding(server, browser):
    page, errors, _ = _open(browser, f"{server}/chapters/intro.html")
    try:
        assert page.locator("link[rel='icon']").count() >= 1, "no favicon"
        assert page.locator("img.logo__image").count() >= 1, "no logo"
        assert page.locator(".prev-next-area a").count() >= 1, "no next/previous navigation"
    finally:
        page.close()
