"""Crash safety: `briefqa ingest` killed with SIGKILL at 24 points spread over its run.

After each kill, `briefqa check` says what the kill left, `briefqa ingest` runs again
and `briefqa check` must find the index consistent and holding exactly the briefs and
chunks of an uninterrupted run: nothing lost, duplicated or orphaned, and nothing the
killed run left behind (its lock, its pending ids) in the way.

Two kinds of run are killed: a first ingest into an empty data dir, and an update
(changed, deleted and new briefs, with ``--prune``) of a complete index. The model runs
with batches of one text, so a run commits many small groups and the kills land before,
between and inside store writes, not only in the model's forward passes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import ROOT, SEED

POINTS_PER_KIND = 12
DOCS = 40


def _write_corpus(folder: Path, version: str) -> None:
    """Version "a": the seed and 40 ClapNQ passages as Markdown briefs. Version "b":
    12 of them changed, 4 deleted and 4 new ones."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(SEED, folder / SEED.name)
    with open(ROOT / "evals" / "clapnq_dev" / "docs.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(DOCS + 4), handle, strict=False)]
    chosen = list(enumerate(rows[:DOCS]))
    if version == "b":
        chosen = chosen[4:] + list(enumerate(rows[DOCS:], start=DOCS))
    for n, row in chosen:
        text = row["text"]
        if version == "b" and n % 3 == 0:
            text += " This passage was revised after review."
        body = f"# {row['title']}\n\n## Passage {n}\n\n{text}\n"
        (folder / f"brief-{n:03d}.md").write_text(body, encoding="utf-8")


def _env() -> dict[str, str]:
    env = os.environ.copy()
    # One text per forward pass: groups of 8 chunks, so one run makes many writes.
    env["BRIEFQA_EMBEDDING_BATCH_SIZE"] = "1"
    return env


def _briefqa(data: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "briefqa.cli", "--data-dir", str(data), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )


def _ingest(data: Path, corpus: Path, kill_after: float | None = None) -> tuple[int, float]:
    """Run the ingest (killed after ``kill_after`` s); returns exit code and seconds."""
    started = time.monotonic()
    proc = _briefqa(data, "ingest", str(corpus), "--prune", "--json")
    try:
        out, err = proc.communicate(timeout=kill_after if kill_after is not None else 600)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
    seconds = time.monotonic() - started
    if kill_after is None:
        assert proc.returncode == 0, err.decode()
        assert json.loads(out)["failed"] == 0
    return proc.returncode, seconds


def _check(data: Path) -> tuple[int, dict[str, object]]:
    proc = _briefqa(data, "check", "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), err.decode()
    return proc.returncode, json.loads(out)


def _contents(data: Path) -> dict[str, list[str]]:
    """doc id → chunk ids, read from the manifest (read-only)."""
    with sqlite3.connect(f"file:{data / 'manifest.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT doc_id, chunk_ids FROM briefs").fetchall()
    return {doc_id: json.loads(ids) for doc_id, ids in rows}


def _sentence_rows(data: Path) -> set[str]:
    with sqlite3.connect(f"file:{data / 'sentences.sqlite3'}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT chunk_id FROM vectors")}


def _left_by_kill(data: Path) -> str:
    """What the killed run left: a coarse phase, for the spread of kill points."""
    if not (data / "manifest.sqlite3").exists():
        return "before the index was opened"
    with sqlite3.connect(f"file:{data / 'manifest.sqlite3'}?mode=ro", uri=True) as db:
        pending = db.execute("SELECT count(*) FROM pending").fetchone()[0]
    return "mid-write (pending ids)" if pending else "between writes"


@pytest.mark.slow
def test_ingest_survives_sigkill_at_24_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    # Uninterrupted runs: what every interrupted one must end up with, and how long
    # each kind of run takes (the kill points are spread over that time).
    _write_corpus(corpus, "a")
    complete_a = tmp_path / "complete-a"
    _, fresh_seconds = _ingest(complete_a, corpus)
    expected_a = _contents(complete_a)
    assert len(expected_a) == DOCS + 1
    _write_corpus(corpus, "b")
    complete_b = tmp_path / "complete-b"
    shutil.copytree(complete_a, complete_b)
    _, update_seconds = _ingest(complete_b, corpus)
    expected_b = _contents(complete_b)
    assert expected_b != expected_a and len(expected_b) == DOCS + 1

    kills = 0
    phases: Counter[str] = Counter()
    found_after_kill: Counter[str] = Counter()
    for kind, seconds, version, expected in (
        ("fresh", fresh_seconds, "a", expected_a),
        ("update", update_seconds, "b", expected_b),
    ):
        _write_corpus(corpus, version)
        for point in range(POINTS_PER_KIND):
            data = tmp_path / f"{kind}-{point}"
            if kind == "update":
                shutil.copytree(complete_a, data)
            kill_after = seconds * (point + 1) / (POINTS_PER_KIND + 1)
            code, _ = _ingest(data, corpus, kill_after=kill_after)
            if code == -signal.SIGKILL:
                kills += 1
                phases[_left_by_kill(data)] += 1
                if (data / "manifest.sqlite3").exists():
                    status, report = _check(data)
                    problems = report["problems"]
                    assert isinstance(problems, dict)
                    found_after_kill.update(problems.keys() if status else ["consistent"])

            _ingest(data, corpus)  # the next run is not blocked and finishes the work
            status, report = _check(data)
            assert status == 0 and report["consistent"], (kind, point, report)
            contents = _contents(data)
            assert contents == expected, f"{kind} run killed after {kill_after:.1f} s"
            listed = {cid for ids in contents.values() for cid in ids}
            assert report["stored"] == report["chunks"] == len(listed)
            assert _sentence_rows(data) == listed
            shutil.rmtree(data)

    with capsys.disabled():  # the figures belong in every test log, not only on failure
        print(
            f"\n{kills} SIGKILLs survived (fresh run {fresh_seconds:.1f} s, update"
            f" {update_seconds:.1f} s); left: {dict(phases)}; check after the kill:"
            f" {dict(found_after_kill)}"
        )
    assert kills >= 20
    assert phases["mid-write (pending ids)"] >= 2, "kills should land inside writes too"
