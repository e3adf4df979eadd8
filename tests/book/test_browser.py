"""The built book as a reader's browser shows it: every page, in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("ml", "dl", "nlp", "training", "gpu")


def _chapters() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*/[0-9][0-9]_*.py"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page_path" in metafunc.fixturenames:
        html: Path = metafunc.config.getoption("--html-dir")
        pages = sorted(
            str(p.relative_to(html))
            for p in html.rglob("*.html")
            # the root index.html only redirects; test_top_level_index_redirects covers it
            if not p.relative_to(html).parts[0].startswith("_") and p != html / "index.html"
        )
        if not pages:
            raise pytest.UsageError(f"no pages under {html}")
        metafunc.parametrize("page_path", pages)


def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """Open url in a fresh context; return the page and the problems seen while loading."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.goto(url, wait_until="load")
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax?.startup?.promise !== undefined")
        page.evaluate("() => MathJax.startup.promise")
    return page, problems


def test_page(browser: Browser, base_url: str, page_path: str) -> None:
    page, problems = _open(browser, f"{base_url}/{page_path}")
    try:
        assert not problems, problems
        broken = page.evaluate(
            "() => Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert not broken, f"images that did not load: {broken}"
        n_math = page.locator(".math").count()
        n_typeset = page.locator(".math mjx-container").count()
        assert n_typeset == n_math, f"{n_math - n_typeset} of {n_math} formulas not typeset"
        prose = page.evaluate(
            "() => { const m = document.querySelector('main').cloneNode(true);"
            " m.querySelectorAll('pre, code, .highlight, mjx-container')"
            ".forEach(e => e.remove()); return m.innerText; }"
        )
        raw = [s for s in ("$$", "\\(", "\\[", "{eq}`", "{cite}`") if s in prose]
        assert not raw, f"untypeset markup left in the text: {raw}"
        if page_path.startswith("notebooks/"):
            assert page.locator(".cell_input").count() >= 1, "no code cells shown"
            assert page.locator(".cell_output").count() >= 1, "no outputs shown"
            assert page.locator(".cell_output img").count() >= 1, "no figure shown"
    finally:
        page.context.close()


def test_top_level_index_redirects_to_the_book(browser: Browser, base_url: str) -> None:
    # The redirect aborts requests of the page it leaves (its favicon): only the arrival
    # counts here; the landing page itself is checked by test_page.
    page, _ = _open(browser, f"{base_url}/index.html")
    try:
        page.wait_for_url("**/book/index.html")
    finally:
        page.context.close()


def test_sidebar_lists_every_chapter(browser: Browser, base_url: str) -> None:
    page, _ = _open(browser, f"{base_url}/book/index.html")
    try:
        hrefs = page.evaluate(
            "() => Array.from(document.querySelectorAll('.bd-sidebar-primary a')).map(a => a.href)"
        )
        for py in _chapters():
            target = f"/notebooks/{py.parent.name}/{py.stem}.html"
            assert any(h.endswith(target) for h in hrefs), f"sidebar lacks {target}"
    finally:
        page.context.close()


def _title_word(py: Path) -> str:
    title = py.read_text(encoding="utf-8").split("# # ", 1)[1].splitlines()[0]
    words = re.findall(r"[A-Za-z][A-Za-z-]{2,}", title.split(". ", 1)[1])
    return max(words, key=len)


@pytest.mark.parametrize("py", _chapters(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_search_finds_chapter(browser: Browser, base_url: str, py: Path) -> None:
    word = _title_word(py)
    page, _ = _open(browser, f"{base_url}/search.html?q={word}")
    try:
        # Results are appended one by one; read them once Sphinx says the search finished.
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s !== null && s.innerText.trim().length > 0; }",
            timeout=30_000,
        )
        links = page.evaluate(
            "() => Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)"
        )
        target = f"/notebooks/{py.parent.name}/{py.stem}.html"
        assert any(target in h for h in links), f"searching {word!r} does not find {target}"
    finally:
        page.context.close()


@pytest.mark.parametrize("part", PARTS)
def test_screenshot_one_page_per_part(
    browser: Browser, base_url: str, screenshot_dir: Path, part: str
) -> None:
    chapters = sorted((ROOT / "notebooks" / part).glob("[0-9][0-9]_*.py"))
    index = {"ml": 1, "dl": 2, "nlp": 3, "training": 4, "gpu": 5}[part]
    path = (
        f"notebooks/{part}/{chapters[0].stem}.html" if chapters else f"book/part{index}_{part}.html"
    )
    page, _ = _open(browser, f"{base_url}/{path}")
    try:
        out = screenshot_dir / f"{part}.png"
        page.screenshot(path=str(out))
        assert out.stat().st_size > 10_000
    finally:
        page.context.close()
