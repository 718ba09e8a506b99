"""Evaluation runs over time: one JSON line a run in ``evals/runs.jsonl``.

Each line holds the date, the commit the code was at (when it runs in a git checkout),
the question set, every configuration's settings overrides and its headline metrics.
The report draws the trend of those metrics over the runs of the same set, so "did last
week's change break anything?" has an answer over more than two runs.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from .evaluation import EvalReport, set_name
from .jsonlines import append_record, read_records

#: The metrics a run's line keeps and the trend draws (those the set has).
HEADLINE = (
    "hit@1",
    "hit@3",
    "first_sentence_gold",
    "citation_precision",
    "citation_recall",
    "refused_unanswerable",
    "false_refusal",
    "right_source",
    "latency_p50_ms",
)


def current_commit(folder: str | Path = ".") -> str | None:
    """The short commit hash of the git checkout at ``folder``, with ``+`` when it has
    uncommitted changes; None outside a checkout or without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=folder, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+" if dirty else "") if head else None


def run_line(report: EvalReport, commit: str | None) -> dict[str, Any]:
    """What the log keeps of one run."""
    overrides = {c["name"]: c["overrides"] for c in report.configurations}
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "dataset": set_name(report.dataset),
        "questions": report.questions,
        "systems": {
            name: {
                "overrides": overrides.get(name, {}),
                **{k: metrics[k] for k in HEADLINE if k in metrics},
            }
            for name, metrics in report.systems.items()
        },
    }


def append_run(report: EvalReport, path: str | Path, commit: str | None = "auto") -> dict[str, Any]:
    """Append ``report``'s line to the log at ``path`` (created if missing); returns it.
    ``commit`` "auto" is that of the git checkout the process runs in.

    Raises:
        DiskFull: the disk is full; the log is as it was.
        StoreError: the log cannot be written.
    """
    path = Path(path)
    line = run_line(report, current_commit() if commit == "auto" else commit)
    append_record(path, line, "the runs log")
    return line


def read_runs(path: str | Path, dataset: str | Path) -> list[dict[str, Any]]:
    """The logged runs of the question set at ``dataset`` (see :func:`set_name`), oldest
    first; lines that are not runs (a hand edit, a torn write) are skipped."""
    wanted = set_name(dataset)
    return [
        run
        for run in read_records(Path(path))
        if run.get("dataset") == wanted and isinstance(run.get("systems"), dict)
    ]


__all__ = ["HEADLINE", "append_run", "current_commit", "read_runs", "run_line", "set_name"]
