"""Parsing cost of real-looking briefs: the seed bulletin as a magazine-layout PDF (two
columns, running header, footnote, table), a one-column PDF, DOCX, a web page and
Markdown, built by the test fixtures, each read with ``load_brief`` several times.

PDF is reported per page (pdfminer's character layout dominates); the other formats per
file. Also measured: how alike the five copies are (their fingerprints' estimated
Jaccard similarity against the magazine PDF), the margin the copy detector works with.

Usage: ``python benchmarks/bench_parse.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
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
from tests.seed_layout import seed_layout  # noqa: E402

from briefqa import load_brief  # noqa: E402
from briefqa.copies import brief_fingerprint, similarity  # noqa: E402

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


def markdown(results: dict[str, Any]) -> str:
    lines = ["| file | parse | per page | alike the magazine PDF |", "|---|---|---|---|"]
    for name, r in results.items():
        page = f"{r['ms_per_page']} ms ({r['pages']} pages)" if "ms_per_page" in r else "–"
        lines.append(f"| {name} | {r['ms_per_file']} ms | {page} | {r['alike_magazine_pdf']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = run_parse_benchmark(args.rounds)
    print(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
