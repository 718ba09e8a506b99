"""Crash safety: `briefqa ingest` killed with SIGKILL at 24 points spread over its run.

After each kill, `briefqa check` says what the kill left, `briefqa ingest` runs again
and `briefqa check` must find the index consistent and holding exactly the briefs and
chunks of an uninterrupted run: nothing lost, duplicated or orphaned, and nothing the
killed run left behind (its lock, its pending ids) in the way.

Two kinds of run are killed: a first ingest into an empty data dir, and an update
(changed, deleted and new briefs, with ``--prune``) of a complete index. The model runs
with batches of one text, so a run commits many small groups. The test watches the
manifest (read-only) while the run goes on and kills it on an event, not after a time,
so the points are the same on a fast or a busy machine: during start-up, inside the
k-th write (chunk ids pending, the store being written), and right after the k-th
commit (the next group being embedded).
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

from briefqa.index.copies import CopyIndex, fingerprint

from .conftest import ROOT, SEED

DOCS = 40


def _write_corpus(folder: Path, version: str) -> None:
    """Version "a": the seed and 40 ClapNQ passages as Markdown briefs. Version "b":
    12 of them changed, 4 deleted and 4 new ones."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(SEED, folder / SEED.name)
    # Distinct passages: ClapNQ repeats some (nearly) under two ids, and copies of a
    # passage are one brief.
    rows: list[dict[str, str]] = []
    seen = CopyIndex()
    with open(ROOT / "evals" / "clapnq_dev" / "docs.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            signature = fingerprint([row["text"]])
            if seen.nearest(signature, len(row["text"])) is None:
                seen.add(str(len(rows)), signature, len(row["text"]))
                rows.append(row)
            if len(rows) == DOCS + 4:
                break
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


def _ingest(data: Path, corpus: Path) -> float:
    """An uninterrupted run; returns its seconds."""
    started = time.monotonic()
    proc = _briefqa(data, "ingest", str(corpus), "--prune", "--json")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["failed"] == 0
    return time.monotonic() - started


class _Watch:
    """The manifest's state as a killed run leaves it, read without locking it."""

    def __init__(self, data: Path) -> None:
        self.path = data / "manifest.sqlite3"
        self.db: sqlite3.Connection | None = None

    def state(self) -> tuple[int, int] | None:
        """(generation, pending ids), or None before the manifest exists."""
        if self.db is None:
            if not self.path.exists():
                return None
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            pending = self.db.execute("SELECT count(*) FROM pending").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is being created
            return None
        return (int(row[0]) if row else 0), int(pending)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _kill_on(data: Path, corpus: Path, point: tuple[str, float]) -> str | None:
    """Run an ingest and SIGKILL it at ``point``; returns what the kill interrupted, or
    None if the run ended first.

    Points: ("start", s) s seconds in; ("write", k) while the k-th write's ids are
    pending; ("commit", k) once the generation has moved k steps.
    """
    kind, k = point
    watch = _Watch(data)
    first = watch.state()
    base = first[0] if first else 0
    writes, was_pending = 0, False
    started = time.monotonic()
    proc = _briefqa(data, "ingest", str(corpus), "--prune", "--json")
    try:
        while proc.poll() is None:
            state = watch.state()
            pending = bool(state and state[1])
            writes += pending and not was_pending
            was_pending = pending
            hit = (
                (kind == "start" and time.monotonic() - started >= k)
                or (kind == "write" and pending and writes >= k)
                or (kind == "commit" and state is not None and state[0] - base >= k)
            )
            if hit:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                # What the kill left, not what the trigger saw a moment before it.
                after = watch.state()
                return "mid-write (pending ids)" if after and after[1] else f"after {kind}"
            time.sleep(0.002)
        proc.communicate()
        return None
    finally:
        watch.close()


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


# Start-up (imports, model load), inside the k-th write, after the k-th commit: 24 in all.
# An update writes fewer groups than a first ingest, and commits as many times again
# (replaced and pruned briefs).
POINTS = {
    "fresh": [("start", 0.5), ("start", 3.0)]
    + [("write", k) for k in (1, 2, 3, 4, 5)]
    + [("commit", k) for k in (1, 2, 3, 5, 7)],
    "update": [("start", 0.5), ("start", 3.0)]
    + [("write", k) for k in (1, 2, 3)]
    + [("commit", k) for k in (1, 2, 3, 4, 5, 6, 7)],
}


@pytest.mark.slow
def test_ingest_survives_sigkill_at_24_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    # Uninterrupted runs: what every interrupted one must end up with.
    _write_corpus(corpus, "a")
    complete_a = tmp_path / "complete-a"
    fresh_seconds = _ingest(complete_a, corpus)
    expected_a = _contents(complete_a)
    assert len(expected_a) == DOCS + 1
    _write_corpus(corpus, "b")
    complete_b = tmp_path / "complete-b"
    shutil.copytree(complete_a, complete_b)
    update_seconds = _ingest(complete_b, corpus)
    expected_b = _contents(complete_b)
    assert expected_b != expected_a and len(expected_b) == DOCS + 1

    interrupted: Counter[str] = Counter()
    found_after_kill: Counter[str] = Counter()
    for kind, version, expected in (("fresh", "a", expected_a), ("update", "b", expected_b)):
        _write_corpus(corpus, version)
        for n, point in enumerate(POINTS[kind]):
            data = tmp_path / f"{kind}-{n}"
            if kind == "update":
                shutil.copytree(complete_a, data)
            what = _kill_on(data, corpus, point)
            # A point a run never reached (it wrote fewer groups) kills nothing; the
            # count below still needs 20 kills.
            interrupted[what or "not reached"] += 1
            if what is not None and (data / "manifest.sqlite3").exists():
                status, report = _check(data)
                problems = report["problems"]
                assert isinstance(problems, dict)
                found_after_kill.update(problems.keys() if status else ["consistent"])
                if what.startswith("mid-write"):
                    assert status == 1 and "pending" in problems, report

            _ingest(data, corpus)  # the next run is not blocked and finishes the work
            status, report = _check(data)
            assert status == 0 and report["consistent"], (kind, point, report)
            contents = _contents(data)
            assert contents == expected, f"{kind} run killed at {point}"
            listed = {cid for ids in contents.values() for cid in ids}
            assert report["stored"] == report["chunks"] == len(listed)
            assert _sentence_rows(data) == listed
            shutil.rmtree(data)

    kills = sum(interrupted.values()) - interrupted["not reached"]
    with capsys.disabled():  # the figures belong in every test log, not only on failure
        print(
            f"\n{kills} SIGKILLs survived (uninterrupted: fresh run"
            f" {fresh_seconds:.1f} s, update {update_seconds:.1f} s); interrupted:"
            f" {dict(interrupted)}; `briefqa check` right after the kill: {dict(found_after_kill)}"
        )
    assert kills >= 20 and interrupted["mid-write (pending ids)"] >= 6
