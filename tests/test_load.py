"""The load target, short form: 50 concurrent sessions for 20 s against a real server.

``benchmarks/load.py`` does the work (``make bench`` runs it for the full 60 s and writes
``benchmarks/results/load.md``); this test holds a fresh ``briefqa serve`` to every
requirement of the target over a shorter run: no server errors, bad files refused with
a reason, an answer for every session, memory stable, healthy afterwards. The whole
report is printed with any failure (and with ``pytest -s``). About 60-70 s on 2 cores,
a third of it the server's start (seed ingest, model load, warm-up).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from types import ModuleType
from typing import Any

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.server, pytest.mark.slow]

SESSIONS = 50
SECONDS = 20.0


def _load_module() -> ModuleType:
    name = "briefqa_benchmarks_load"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "load.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def load() -> ModuleType:
    return _load_module()


@pytest.fixture(scope="module")
def result(load: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    started = time.perf_counter()
    figures: dict[str, Any] = load.load_test(SESSIONS, SECONDS, tmp_path_factory.mktemp("load"))
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    print(_report(load, figures))
    return figures


def _report(load: ModuleType, result: dict[str, Any]) -> str:
    return f"\n{load.markdown(result)}\n(wall time with server start: {result['wall_s']} s)"


def test_no_server_errors_under_load(load: ModuleType, result: dict[str, Any]) -> None:
    totals = result["totals"]
    assert result["config"]["chat_sessions"] and result["config"]["rest_sessions"]
    assert totals["ok"] > SESSIONS, _report(load, result)
    failed = {o: totals[o] for o in load.FAILURES if totals[o]}
    assert not failed, _report(load, result)


def test_only_bad_files_and_empty_questions_are_refused(
    load: ModuleType, result: dict[str, Any]
) -> None:
    kinds = result["kinds"]
    for channel in ("ui", "rest"):
        bad = kinds.get(f"{channel} bad upload")
        assert bad and bad["rejected"] == bad["requests"], _report(load, result)
    allowed = {f"{c} {k}" for c in ("ui", "rest") for k in ("bad upload", "empty question")}
    assert set(result["rejected_kinds"]) <= allowed, _report(load, result)
    # Every refusal gives the reason: a file that is not a PDF, an unknown type, no text.
    reasons = " ".join(result["rejections"]).lower()
    assert "pdf" in reasons and "empty" in reasons, _report(load, result)


def test_every_session_gets_answers(load: ModuleType, result: dict[str, Any]) -> None:
    assert result["sessions"]["without_an_answer"] == [], _report(load, result)
    assert result["quality"]["first_question_cited"] >= 0.8, _report(load, result)


def test_memory_stays_stable(load: ModuleType, result: dict[str, Any]) -> None:
    assert result["memory"]["stable"], _report(load, result)


def test_server_is_healthy_afterwards(load: ModuleType, result: dict[str, Any]) -> None:
    assert result["after"]["healthy"], _report(load, result)
    assert result["server_log"]["unexpected_tracebacks"] == 0, _report(load, result)
    assert all(result["verdicts"].values()), _report(load, result)
