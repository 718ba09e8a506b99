"""Where the state lives, SQLite files in the data dir or PostgreSQL: what it costs a
question.

Over the seed corpus, in one process (FastAPI's TestClient, no network between client and
server), the same questions are asked through ``POST /api/v1/ask`` three ways: without
keeping them, kept in ``conversations.sqlite3`` (the index in the data dir's files too),
and with ``BRIEFQA_DATABASE_URL`` (the manifest, the sentence vectors and the
conversation all in a PostgreSQL server of the benchmark's own:
``briefqa.testing.postgres_cluster``, Debian's binaries, on this machine). It reports
the warm ask p50 / p95 of each, the store's own operations (start, add, list, open a
conversation of 20 turns), and whether PostgreSQL's warm ask p50 stays within 1.3 ×
SQLite's (issue 23's target).

Usage: python benchmarks/bench_state.py [--rounds 5] [--out benchmarks/results/state]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from briefqa import ANONYMOUS, BriefQA, Settings
from briefqa.conversations import ConversationStore
from briefqa.database import close_pools
from briefqa.serve.server import create_app
from briefqa.testing import postgres_cluster

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus"
QUESTIONS = [
    "Which country opposed a NATO liaison office in Tokyo?",
    "What are the AP4 countries?",
    "When did NATO adopt its Strategic Concept?",
    "What does the brief recommend for NATO's cooperation with Japan?",
    "Why did France object to the office?",
    "Which partners attended the Vilnius summit?",
    "What is the Individually Tailored Partnership Programme?",
    "How does China figure in NATO's strategy?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[..., Any], *args: Any) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def asks(clients: dict[str, TestClient], rounds: int) -> dict[str, list[float]]:
    """Warm ask latencies (ms) through REST for each way of keeping, taken in turns (a
    round of every way, then the next round), so that the machine's other load falls on
    all of them alike; a kept round is one conversation."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    for client in clients.values():  # warm: every question once, kept nowhere
        for question in QUESTIONS:
            client.post("/api/v1/ask", json={"question": question})
    for _ in range(rounds):
        for name, client in clients.items():
            conversation: str | None = None if name == "not kept" else "new"
            for question in QUESTIONS:
                body = {"question": question, "conversation_id": conversation}
                started = time.perf_counter()
                answer = client.post("/api/v1/ask", json=body)
                times[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
                if conversation is not None:
                    conversation = answer.json()["conversation_id"]
    return times


def operations(store: ConversationStore, qa: BriefQA) -> dict[str, float]:
    """p50 (ms) of the store's own operations, on real answers."""
    answers = [qa.ask(q) for q in QUESTIONS]
    start, add, listing, opening = [], [], [], []
    for _ in range(5):
        started = time.perf_counter()
        made = store.start(ANONYMOUS, answers[0])
        start.append((time.perf_counter() - started) * 1000)
        for i in range(19):
            add.append(timed(store.add, ANONYMOUS, made.id, answers[i % len(answers)]))
        listing.append(timed(store.list, ANONYMOUS))
        opening.append(timed(store.get, ANONYMOUS, made.id))
    return {
        "start_p50_ms": statistics.median(start),
        "add_p50_ms": statistics.median(add),
        "list_p50_ms": statistics.median(listing),
        "open_20_turns_p50_ms": statistics.median(opening),
    }


def run(rounds: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "questions": len(QUESTIONS) * rounds,
    }
    with tempfile.TemporaryDirectory() as tmp, postgres_cluster() as (url, _):
        # None, not unset: a BRIEFQA_DATABASE_URL of the environment must not be used.
        ways = {"not kept": Settings(database_url=None), "SQLite": Settings(database_url=None),
                "PostgreSQL": Settings(database_url=url)}  # fmt: skip
        engines = {name: BriefQA(Path(tmp) / name.replace(" ", "-"), settings=settings)
                   for name, settings in ways.items()}  # fmt: skip
        for qa in engines.values():
            qa.ingest([SEED])
        clients = {name: TestClient(create_app(qa, ui=False)) for name, qa in engines.items()}
        times = asks(clients, rounds)
        rows: dict[str, dict[str, float]] = {}
        for name, qa in engines.items():
            taken = times[name]
            rows[name] = {"p50_ms": statistics.median(taken), "p95_ms": percentile(taken, 0.95)}
            if name != "not kept":
                rows[name].update(operations(qa.conversations, qa))
            qa.close()
        close_pools()
    result["rows"] = rows
    ratio = rows["PostgreSQL"]["p50_ms"] / rows["SQLite"]["p50_ms"]
    result["postgres_over_sqlite_p50"] = ratio
    result["target_met"] = ratio <= 1.3
    return result


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# State in SQLite files or PostgreSQL ({r['date']}, {r['machine']})",
        "",
        f"Warm `POST /api/v1/ask` over the seed corpus, {r['questions']} questions each, in "
        "process; the store's operations on real answers (p50).",
        "",
        "| kept | ask p50 / p95 | start | add a turn | list | open (20 turns) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["rows"].items():
        ops = [
            f"{row[k]:.2f} ms" if k in row else "–"
            for k in ("start_p50_ms", "add_p50_ms", "list_p50_ms", "open_20_turns_p50_ms")
        ]
        lines.append(f"| {name} | {row['p50_ms']:.1f} / {row['p95_ms']:.1f} ms | "
                     + " | ".join(ops) + " |")  # fmt: skip
    verdict = "met" if r["target_met"] else "NOT met"
    lines += [
        "",
        f"PostgreSQL's ask p50 is {r['postgres_over_sqlite_p50']:.2f} × SQLite's "
        f"(target ≤ 1.3: {verdict}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each question is asked")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "state"))
    args = parser.parse_args()
    result = run(args.rounds)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    sys.stdout.write(markdown(result))


if __name__ == "__main__":
    main()
