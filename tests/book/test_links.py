"""Every internal link of the built book resolves: the file exists and so does the anchor."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("name"):
            self.ids.add(str(values["name"]))
        for key in ("href", "src"):
            if (tag == "a" and key == "href") or (tag in ("img", "script") and key == "src"):
                if values.get(key):
                    self.links.append(str(values[key]))


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def test_internal_links_resolve(html_dir: Path) -> None:
    pages = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    parsed = {p: _parse(p) for p in pages}
    broken = []
    n_links = 0
    for page, collector in parsed.items():
        for link in collector.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            n_links += 1
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html_dir)}: {link} (no file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(html_dir)}: {link} (no anchor)")
    assert n_links > 50, f"only {n_links} internal links found: is the book built?"
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("source", ["README.md", "CONTRIBUTING.md"])
def test_repository_markdown_links_resolve(source: str) -> None:
    root = Path(__file__).resolve().parents[2]

    text = (root / source).read_text(encoding="utf-8")
    missing = [
        target
        for target in re.findall(r"\]\(([^)\s]+)\)", text)
        if not urlsplit(target).scheme
        and not target.startswith("#")
        and not (root / urlsplit(target).path).exists()
    ]
    assert not missing, f"{source} links to missing files: {missing}"
