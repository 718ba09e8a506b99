"""Parsing cost of real-looking briefs: the seed bulletin as a magazine-layout PDF (two
columns, running header, footnote, table), a one-column PDF, DOCX, a web page and
Markdown, built by the test fixtures, each read with ``load_brief`` several times.

PDF is reported per page (pdfminer's character layout dominates); the other formats per
file. Also measured: how alike the five copies are (their fingerprints' estimated
Jaccard similarity against the magazine PDF), the margin the copy detector works with.

Each file is also checked as the tests check it (:func:`checks`): metadata exactly right,
the share of the source's sentences intact in some chunk, no running header, page footer,
photo credit, note marker or markup in any chunk, every table cell and the footnote kept.
``--checks-only DIR`` writes the fixtures to DIR and prints only the checks (run it with
an older briefqa on ``PYTHONPATH`` to see what it made of the same files).

Usage: ``python benchmarks/bench_parse.py [--rounds 5] [--checks-only DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fixtures' builders live in tests/

from tests.realistic_docs import brief_docx, brief_html, brief_markdown  # noqa: E402
from tests.realistic_pdf import magazine_pdf, simple_pdf  # noqa: E402
from tests.seed_layout import Layout, seed_layout  # noqa: E402

from briefqa import load_brief  # noqa: E402
from briefqa.index.copies import brief_fingerprint, similarity  # noqa: E402

BUILDERS: dict[str, tuple[str, Callable[..., Path]]] = {
    "pdf (magazine, 2 columns)": ("magazine.pdf", magazine_pdf),
    "pdf (one column)": ("simple.pdf", simple_pdf),
    "docx": ("brief.docx", brief_docx),
    "html": ("brief.html", brief_html),
    "markdown": ("brief.md", brief_markdown),
}


def run_parse_benchmark(rounds: int = 5) -> dict[str, Any]:
    import pdfplumber

    layout = seed_layout()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="briefqa-parse-") as tmp:
        folder = Path(tmp)
        signatures = {}
        for name, (filename, build) in BUILDERS.items():
            path = build(layout, folder / filename)
            load_brief(path)  # imports and caches out of the timing
            started = time.perf_counter()
            for _ in range(rounds):
                brief = load_brief(path)
            ms = (time.perf_counter() - started) * 1000 / rounds
            entry: dict[str, Any] = {"ms_per_file": round(ms, 1)}
            if path.suffix == ".pdf":
                with pdfplumber.open(path) as pdf:
                    pages = len(pdf.pages)
                entry |= {"pages": pages, "ms_per_page": round(ms / pages, 1)}
            results[name] = entry
            signatures[name] = brief_fingerprint(brief)
        reference = signatures["pdf (magazine, 2 columns)"]
        for name, signature in signatures.items():
            results[name]["alike_magazine_pdf"] = round(similarity(reference, signature), 3)
    return results


_LEAKS = ("PISM BULLETIN", "Page 1 of", "Page 2 of", "PEMPEL", "[^", "|---", "<sup", "↩")


def checks(path: Path, layout: Layout) -> dict[str, Any]:
    """What a reader recovered of the brief ``path`` holds (see the module's doc)."""
    from briefqa.index.chunking import chunk_brief

    brief = load_brief(path)
    chunks = [
        " ".join(c.text.split())
        for c in chunk_brief(brief, lambda ts: [len(t.split()) * 2 for t in ts], max_tokens=256)
    ]
    sentences = layout.sentences()
    intact = sum(any(" ".join(s.split()) in c for c in chunks) for s in sentences)
    cells = [cell for row in layout.table.rows for cell in row]
    leaks = sorted({leak for leak in _LEAKS for c in chunks if leak in c})
    marker = re.compile(r"[a-z][.,;]\d\b|\b\d [A-Z][a-z]+ ITPPs replace")
    return {
        "title": brief.title == layout.title,
        "number": brief.number == layout.number,
        "date": brief.date == layout.date.isoformat(),
        "authors": tuple(getattr(brief, "authors", ())) == layout.authors,
        "sections": tuple(brief.sections) == layout.section_names,
        "sentences_intact": round(intact / len(sentences), 3),
        "leaks": leaks + (["note marker"] if any(marker.search(c) for c in chunks) else []),
        "table_cells": round(sum(any(cell in c for c in chunks) for cell in cells) / len(cells), 3),
        "footnote": any(" ".join(layout.footnote.text.split()) in c for c in chunks),
    }


def checks_table(found: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| file | title | number | date | authors | sections | sentences intact "
        "| leaks | table cells | footnote |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in found.items():
        if "error" in c:
            lines.append(f"| {name} | {c['error']} |" + " |" * 9)
            continue
        mark = {True: "✓", False: "✗"}
        lines.append(
            f"| {name} | {mark[c['title']]} | {mark[c['number']]} | {mark[c['date']]} "
            f"| {mark[c['authors']]} | {mark[c['sections']]} | {c['sentences_intact']:.0%} "
            f"| {', '.join(c['leaks']) or 'none'} | {c['table_cells']:.0%} "
            f"| {mark[c['footnote']]} |"
        )
    return "\n".join(lines)


def run_checks(folder: Path) -> dict[str, dict[str, Any]]:
    layout = seed_layout()
    found: dict[str, dict[str, Any]] = {}
    for name, (filename, build) in BUILDERS.items():
        if build is simple_pdf:  # it has no author line, table or footnote to check
            continue
        path = build(layout, folder / filename)
        try:
            found[name] = checks(path, layout)
        except Exception as exc:  # an older reader may fail outright: that is a finding
            found[name] = {"error": f"{type(exc).__name__}: {exc}"[:80]}
    return found


def markdown(results: dict[str, Any]) -> str:
    lines = ["| file | parse | per page | alike the magazine PDF |", "|---|---|---|---|"]
    for name, r in results.items():
        page = f"{r['ms_per_page']} ms ({r['pages']} pages)" if "ms_per_page" in r else "–"
        lines.append(f"| {name} | {r['ms_per_file']} ms | {page} | {r['alike_magazine_pdf']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checks-only", type=Path, help="write the fixtures here, check them")
    args = parser.parse_args()
    if args.checks_only:
        args.checks_only.mkdir(parents=True, exist_ok=True)
        print(checks_table(run_checks(args.checks_only)))
        return
    results = run_parse_benchmark(args.rounds)
    print(json.dumps(results, indent=2))
    print(markdown(results))
    with tempfile.TemporaryDirectory(prefix="briefqa-checks-") as tmp:
        print(checks_table(run_checks(Path(tmp))))


if __name__ == "__main__":
    main()
