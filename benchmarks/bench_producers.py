"""Reading order of real producers' PDFs: briefqa against plain-text baselines.

Every PDF in ``benchmarks/producers/pdfs/`` (made by pdfLaTeX, LibreOffice, Chromium,
WeasyPrint and fpdf2, each with a truth file, see ``producers/truth.py``) is read by

* ``briefqa``: ``load_brief(path)``, its text as it is, and its title, number, date and
  authors; parse time per page, the median of ``--rounds`` after one warm-up;
* ``pdfminer``: pdfminer.six's own layout analysis, ``extract_text(path,
  laparams=LAParams(boxes_flow=0.5))``;
* ``pypdfium2``: each page's ``get_textpage().get_text_range()``;
* ``pdftotext``: Poppler's ``pdftotext -enc UTF-8 FILE -`` in reading order (not
  ``-layout``), a reference; skipped with a note when the binary is missing.

The baselines' plain text gets one clean-up before scoring, what a naive user would do
(:func:`join_lines`): lines joined with a space, and a line ending in "-", U+2010 or a soft
hyphen (or PDFium's U+FFFE in a hyphen's place) before one starting in lower case joined
without the hyphen, which also breaks
real compounds ("nuclear-\\npowered" becomes "nuclearpowered"). briefqa's text is scored
as it is. Scores are ``producers/scoring.py``'s: sentences intact, order kept, spliced
sentences, broken words (and, for briefqa, sentences torn by a block break).

Writes ``benchmarks/results/producers.md`` and ``.json`` and prints the markdown.
Usage: ``python benchmarks/bench_producers.py [--rounds 3] [--only SUBSTRING]
[--readers briefqa,pdfminer,pypdfium2,pdftotext] [--verbose]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.producers, however this script is started

from benchmarks.producers.scoring import meta_score, score  # noqa: E402
from benchmarks.producers.truth import PRODUCERS, Truth, load_all  # noqa: E402

PDFS = ROOT / "benchmarks" / "producers" / "pdfs"
RESULTS = ROOT / "benchmarks" / "results"
META = ("title", "number", "date", "authors")
# Line-end characters the naive clean-up treats as a hyphenation: hyphen-minus, U+2010
# HYPHEN, soft hyphen.
_HYPHENS = ("-", "\u2010", "\u00ad")
# PDFium's own mark for a hyphen at a line end: it writes U+FFFE in the hyphen's place and
# drops the line break ("low\ufffecarbon"). The same naive rule applies to it.
_PDFIUM_HYPHEN = re.compile("\ufffe(?=[a-z])")


@dataclass
class Extract:
    """What one reader got out of one PDF: its text, and metadata where it reads any."""

    text: str
    meta: dict[str, Any] | None = None


def read_briefqa(path: Path) -> Extract:
    from briefqa import load_brief

    brief = load_brief(path)
    meta = {
        "title": brief.title,
        "number": brief.number,
        "date": brief.date,
        "authors": list(brief.authors),
    }
    return Extract(brief.text, meta)


def read_pdfminer(path: Path) -> Extract:
    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams

    return Extract(join_lines(extract_text(path, laparams=LAParams(boxes_flow=0.5))))


def read_pypdfium2(path: Path) -> Extract:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    pdf = pdfium.PdfDocument(path)
    try:
        pages = [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()
    return Extract(join_lines("\n".join(pages)))


def read_pdftotext(path: Path) -> Extract:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return Extract(join_lines(done.stdout.decode("utf-8")))


READERS: dict[str, Callable[[Path], Extract]] = {
    "briefqa": read_briefqa,
    "pdfminer": read_pdfminer,
    "pypdfium2": read_pypdfium2,
    "pdftotext": read_pdftotext,
}


def join_lines(text: str) -> str:
    """A baseline's text as one line: lines joined with a space, except that a line ending
    in a hyphen (see ``_HYPHENS``) before one starting in lower case is joined without it.
    PDFium's U+FFFE, its mark for a hyphen at a line end, is treated the same way. The
    naive fix for hyphenation, so it also glues real compounds broken at their hyphen."""
    out = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if out.endswith(_HYPHENS) and line[0].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return _PDFIUM_HYPHEN.sub("", out).replace("\ufffe", "-")


def pages_of(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        return len(pdf)
    finally:
        pdf.close()


def read_timed(read: Callable[[Path], Extract], path: Path, rounds: int) -> tuple[Extract, float]:
    """The reader's extract and its median time in ms over ``rounds`` after a warm-up."""
    extract = read(path)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        read(path)
        times.append((time.perf_counter() - started) * 1000)
    return extract, statistics.median(times) if times else float("nan")


def score_file(truth: Truth, path: Path, reader: str, rounds: int) -> dict[str, Any]:
    pages = pages_of(path)
    try:
        extract, ms = read_timed(READERS[reader], path, rounds)
    except Exception as exc:  # a reader failing on a file is a finding, not a crash
        failed = asdict(score(truth, ""))
        return failed | {"error": f"{type(exc).__name__}: {exc}"[:200]}
    entry = asdict(score(truth, extract.text))
    entry["ms_per_page"] = round(ms / pages, 1)
    if extract.meta is not None:
        meta = extract.meta
        entry["meta"] = meta_score(
            truth, meta["title"], meta["number"], meta["date"], meta["authors"]
        )
        entry["got"] = meta
    return entry


def available(readers: list[str]) -> tuple[list[str], list[str]]:
    """The readers that can run here, and a note for each that cannot."""
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        raise SystemExit(f"unknown readers {unknown}; choose from {', '.join(READERS)}")
    notes = []
    if "pdftotext" in readers and shutil.which("pdftotext") is None:
        notes.append("pdftotext skipped: the binary is not installed (apt install poppler-utils)")
        readers = [r for r in readers if r != "pdftotext"]
    return readers, notes


def run(
    folder: Path = PDFS,
    readers: list[str] | None = None,
    rounds: int = 3,
    only: str | None = None,
) -> dict[str, Any]:
    """Score every truth in ``folder`` (its name containing ``only``) with each reader."""
    readers, notes = available(list(readers or READERS))
    truths = [t for t in load_all(folder) if only is None or only in t.file]
    files = []
    for truth in truths:
        path = folder / truth.file
        files.append(
            {
                "file": truth.file,
                "producer": truth.producer,
                "features": truth.features,
                "pages": pages_of(path),
                "readers": {r: score_file(truth, path, r, rounds) for r in readers},
            }
        )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": versions(readers),
        "rounds": rounds,
        "only": only,
        "readers": readers,
        "notes": notes,
        "files": files,
        "summary": summary(files, readers),
    }


def summary(files: list[dict[str, Any]], readers: list[str]) -> dict[str, dict[str, Any]]:
    """Per producer (and ``all``) and reader: sentences intact and order kept over all the
    files' sentences and pairs, files with a spliced sentence, broken words in all, the
    share of files with each metadata field right, the median ms per page."""
    groups = [p for p in PRODUCERS if any(f["producer"] == p for f in files)]
    out: dict[str, dict[str, Any]] = {}
    for group in [*groups, "all"]:
        chosen = [f for f in files if group in ("all", f["producer"])]
        out[group] = {}
        for reader in readers:
            scores = [f["readers"][reader] for f in chosen]
            count = sum(s["sentences"] for s in scores)
            pairs = sum(max(s["sentences"] - 1, 0) for s in scores)
            row: dict[str, Any] = {
                "files": len(scores),
                "sentences": count,
                "intact": sum(s["intact"] * s["sentences"] for s in scores) / count if count else 0,
                "order": sum(s["order"] * max(s["sentences"] - 1, 0) for s in scores) / pairs
                if pairs
                else 0,
                "files_spliced": sum(s["spliced"] > 0 for s in scores),
                "spliced": sum(s["spliced"] for s in scores),
                "broken_words": sum(s["broken_words"] for s in scores),
                "torn": sum(s["torn"] for s in scores),
                "errors": sum("error" in s for s in scores),
            }
            timed = [s["ms_per_page"] for s in scores if "ms_per_page" in s]
            row["ms_per_page"] = round(statistics.median(timed), 1) if timed else None
            metas = [s["meta"] for s in scores if "meta" in s]
            if metas:
                row["meta"] = {k: sum(m[k] for m in metas) / len(scores) for k in META}
            out[group][reader] = row
    return out


def versions(readers: list[str]) -> dict[str, str]:
    from importlib.metadata import version

    found = {
        "briefqa": version("briefqa"),
        "pdfminer.six": version("pdfminer.six"),
        "pypdfium2": version("pypdfium2"),
    }
    if "pdftotext" in readers:
        done = subprocess.run(["pdftotext", "-v"], capture_output=True, text=True)
        first = (done.stderr or done.stdout).splitlines()[0]
        found["pdftotext"] = first.removeprefix("pdftotext version ")
    return found


def _pct(value: float) -> str:
    return f"{value:.1%}"


def markdown(results: dict[str, Any]) -> str:
    """The summary table, briefqa's table per file, and briefqa's failures."""
    filtered = f", files matching {results['only']!r}" if results["only"] else ""
    lines = [
        f"# Reading order by producer ({results['date']}, {results['machine']}{filtered})",
        "",
        ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        + f"; parse time the median of {results['rounds']} rounds.",
        *(f"\n{note}" for note in results["notes"]),
        "",
        "| producer | reader | files | sentences intact | order kept | files spliced "
        "| broken words | title | number | date | authors | ms/page |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group, rows in results["summary"].items():
        for reader, r in rows.items():
            meta = r.get("meta")
            cells = [_pct(meta[k]) for k in META] if meta else ["–"] * 4
            errors = f" ({r['errors']} failed)" if r["errors"] else ""
            lines.append(
                f"| {group} | {reader} | {r['files']}{errors} | {_pct(r['intact'])} "
                f"| {_pct(r['order'])} | {r['files_spliced']} | {r['broken_words']} "
                f"| {' | '.join(cells)} | {r['ms_per_page']} |"
            )
    if "briefqa" in results["readers"]:
        lines += ["", *briefqa_table(results["files"])]
    return "\n".join(lines)


def briefqa_table(files: list[dict[str, Any]]) -> list[str]:
    lines = [
        "briefqa per file (torn: intact sentences cut by a block break):",
        "",
        "| file | producer | pages | intact | order | spliced | torn | broken words "
        "| metadata wrong | ms/page |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    failures = []
    for f in files:
        s = f["readers"]["briefqa"]
        if "error" in s:
            lines.append(
                f"| {f['file']} | {f['producer']} | {f['pages']} | {s['error']} |" + " |" * 6
            )
            continue
        wrong = [f"{k} ({s['got'][k]!r})" for k in META if not s["meta"][k]]
        lines.append(
            f"| {f['file']} | {f['producer']} | {f['pages']} | {_pct(s['intact'])} "
            f"| {_pct(s['order'])} | {s['spliced']} | {s['torn']} | {s['broken_words']} "
            f"| {'; '.join(wrong) or 'none'} | {s['ms_per_page']} |"
        )
        shown = s["examples"] + [f"broken: {b}" for b in s["broken_examples"][:2]]
        failures += [f"- {f['file']}: {example}" for example in shown]
    if failures:
        lines += ["", "briefqa's failures (up to three sentences and two broken words a file):", ""]
        lines += failures
    return lines


def examples(results: dict[str, Any]) -> str:
    """Every reader's example failures, file by file (``--verbose``)."""
    lines = []
    for f in results["files"]:
        for reader, s in f["readers"].items():
            shown = s["examples"] + [f"broken: {b}" for b in s["broken_examples"]]
            if "error" in s:
                shown.insert(0, s["error"])
            lines += [f"{f['file']} [{reader}] {example}" for example in shown]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed parses per file and reader")
    parser.add_argument("--only", help="only the files whose name contains this")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated readers")
    parser.add_argument("--folder", type=Path, default=PDFS, help="PDFs and their truth files")
    parser.add_argument("--out", type=Path, default=RESULTS / "producers", help="(.md, .json)")
    parser.add_argument("--verbose", action="store_true", help="print every example failure")
    args = parser.parse_args()
    results = run(args.folder, args.readers.split(","), args.rounds, args.only)
    if not results["files"]:
        raise SystemExit(f"no PDF with a truth file in {args.folder}")
    table = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n"
    )
    args.out.with_suffix(".md").write_text(table + "\n")
    if args.verbose:
        print(examples(results), end="\n\n")
    print(table)


if __name__ == "__main__":
    main()
