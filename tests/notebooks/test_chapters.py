"""Static checks of every chapter: naming, pairing, section order, figures, verification,
seeding, no network, and presence in the book's table of contents and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chapters import (
    CHAPTER_IDS,
    CHAPTERS,
    NAME_RE,
    PARTS,
    ROOT,
    SECTIONS,
    code_of,
    expected_ipynb,
    markdown_of,
    read,
)

chapters = pytest.mark.parametrize("py", CHAPTERS, ids=CHAPTER_IDS)


def test_there_are_chapters() -> None:
    assert CHAPTERS, "no notebooks/<part>/<NN>_<slug>.py found"


def test_every_file_under_notebooks_is_named_by_the_convention() -> None:
    bad = []
    for path in sorted((ROOT / "notebooks").rglob("*")):
        rel = path.relative_to(ROOT / "notebooks")
        if path.is_dir() or any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        if len(rel.parts) >= 2 and rel.parts[1] == "results":
            continue  # measured results a chapter plots (notebooks/<part>/results/)
        ok = (
            len(rel.parts) == 2
            and rel.parts[0] in PARTS
            and path.suffix in {".py", ".ipynb"}
            and NAME_RE.match(path.stem) is not None
        )
        if not ok:
            bad.append(str(rel))
    assert not bad, f"not notebooks/<part>/<NN>_<slug>.(py|ipynb) with part in {list(PARTS)}: {bad}"


@chapters
def test_pair_is_in_sync(py: Path) -> None:
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing; fix: make sync"
    assert ipynb.read_text(encoding="utf-8") == expected_ipynb(py), (
        f"{ipynb.relative_to(ROOT)} differs from what its .py gives (cells, outputs or "
        "metadata); if the .py is right: make sync. If you edited the .ipynb, first copy the "
        "edit into the .py (jupytext --to py:percent), then make sync."
    )


def test_no_ipynb_without_py() -> None:
    orphans = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "notebooks").glob("*/*.ipynb")
        if not p.with_suffix(".py").exists()
    ]
    assert not orphans, f"notebooks without a .py twin: {orphans}"


@chapters
def test_title_and_question(py: Path) -> None:
    nb = read(py)
    first = nb.cells[0]
    nn = py.stem[:2]
    assert first.cell_type == "markdown", "the first cell is the title and the question"
    assert re.match(rf"# {nn}\. \S", first.source), f"first line must be '# {nn}. <title>'"
    assert "**The question.**" in first.source
    assert "**What you will be able to answer.**" in first.source


@chapters
def test_sections_in_order(py: Path) -> None:
    headings = re.findall(r"^## (.+?)\s*$", markdown_of(read(py)), flags=re.M)
    assert tuple(headings) == SECTIONS, (
        f"the H2 sections must be exactly {list(SECTIONS)} in this order; found {headings}"
    )


@chapters
def test_has_figure_verification_and_seed(py: Path) -> None:
    code = code_of(read(py))
    assert re.search(r"\bplt\.(subplots|figure|subplot_mosaic)\(", code), "no figure is made"
    assert re.search(r"^from notebook_utils\.checks import .*\bcheck_", code, re.M)
    assert re.search(r"\bcheck_(close|equal|true)\(", code), "no verification call"
    assert re.search(r"\bseed_everything\(", code), "randomness is not seeded"
    assert "import *" not in code, "import names explicitly"


NETWORK = re.compile(
    r"https?://|\burllib\b|\brequests\b|\bhttpx\b|\burlopen\b|\bwget\b|\bcurl\b|"
    r"\bfetch_\w+\(|\bdownload|from_pretrained|load_dataset\(|hf_hub|socket\."
)


@chapters
def test_no_network_in_code(py: Path) -> None:
    hits = sorted(set(NETWORK.findall(code_of(read(py)))))
    assert not hits, f"code cells must not reach the network: {hits}"


@chapters
def test_references_section_and_citations(py: Path) -> None:
    md = markdown_of(read(py))
    references = md.split("\n## References", 1)[-1]
    assert re.search(r"\{cite(:t|:p)?\}`", references), "the References section cites nothing"
    assert "{bibliography}" not in md, "the one bibliography is book/bibliography.md"
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.M))
    cited = {
        k.strip()
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md)
        for k in group.split(",")
    }
    assert cited, "cite at least one reference with {cite}`key`"
    assert cited <= keys, f"cited keys missing from book/references.bib: {sorted(cited - keys)}"


def _equation_labels(py: Path) -> list[str]:
    return re.findall(r"^\$\$\s*\((\S+?)\)\s*$", markdown_of(read(py)), re.M)


def test_equation_labels_are_unique_across_the_book() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for py, cid in zip(CHAPTERS, CHAPTER_IDS, strict=True):
        for label in _equation_labels(py):
            if label in seen:
                clashes.append(f"{label} in {seen[label]} and {cid}")
            seen[label] = cid
    assert not clashes, clashes


@chapters
def test_in_table_of_contents(py: Path) -> None:
    part = py.parent.name
    page = (ROOT / "book" / f"{PARTS[part]}.md").read_text(encoding="utf-8")
    entry = f"/notebooks/{part}/{py.stem}"
    assert re.search(rf"^{re.escape(entry)}\s*$", page, re.M), f"{entry} not in {PARTS[part]}.md"


def test_toc_entries_exist() -> None:
    for page in PARTS.values():
        text = (ROOT / "book" / f"{page}.md").read_text(encoding="utf-8")
        for entry in re.findall(r"^/(notebooks/\S+)\s*$", text, re.M):
            assert (ROOT / f"{entry}.ipynb").exists(), f"{page}.md lists {entry}"


README_ROW = re.compile(
    r"^\| (I|II|III|IV|V) \| (\d\d) \| \[[^\]]+\]\((notebooks/\S+?)\.ipynb\) \|", re.M
)


@chapters
def test_in_readme_chapter_table(py: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {path: nn for _, nn, path in README_ROW.findall(readme)}
    entry = f"notebooks/{py.parent.name}/{py.stem}"
    assert entry in rows, f"README's chapter table has no link to {entry}.ipynb"
    assert rows[entry] == py.stem[:2]


def test_readme_links_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for _, _, path in README_ROW.findall(readme):
        assert (ROOT / f"{path}.ipynb").exists(), f"README links to missing {path}.ipynb"
