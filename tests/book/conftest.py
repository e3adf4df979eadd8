"""Fixtures of the browser tests of the built book: a loopback HTTP server and Chromium.

Run by `make check-book` (and so by `make test`) with --html-dir pointing at a built book.
The book is served over http://127.0.0.1 rather than opened as file:// pages, as a reader's
browser would get it; Chromium is Debian's, driven by Playwright without downloading a browser.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--html-dir", required=True, type=Path, help="the built HTML book")
    parser.addoption("--screenshot-dir", type=Path, default=Path("build/screenshots"))


@pytest.fixture(scope="session")
def html_dir(request: pytest.FixtureRequest) -> Path:
    root: Path = request.config.getoption("--html-dir")
    if not (root / "book" / "index.html").is_file():
        raise pytest.UsageError(f"no built book under {root} (book/index.html missing)")
    return root.resolve()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def base_url(html_dir: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise pytest.UsageError("no Chromium found: `make browser-deps` installs Debian's chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    path: Path = request.config.getoption("--screenshot-dir")
    path.mkdir(parents=True, exist_ok=True)
    return path
