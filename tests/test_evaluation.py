"""Evaluation metrics on hand-made cases, the harness end to end, and its HTML report
opened in a real browser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from briefqa import EvalReport, load_dataset, run_evaluation, write_report
from briefqa.embeddings import SentenceTransformerEmbedder
from briefqa.evaluation import (
    EvalCase,
    contains_answer,
    hit_at,
    holds_evidence,
    ndcg,
    normalize_answer,
    percentile,
    reciprocal_rank,
    token_f1,
)

from .conftest import ROOT


def test_answer_normalisation_and_containment() -> None:
    assert normalize_answer("The  U.S.’s Answer!") == "uss answer"
    assert contains_answer("It was France, said the brief.", ["france"])
    assert not contains_answer("It was Spain.", ["France", "Paris"])
    assert not contains_answer("anything", [""])


def test_token_f1_known_values() -> None:
    assert token_f1("France opposed", ["France"]) == pytest.approx(2 / 3)
    assert token_f1("the cat sat", ["a cat sat"]) == 1.0
    assert token_f1("nothing shared", ["France"]) == 0.0
    assert token_f1("France", ["Spain", "France"]) == 1.0


def test_rank_metrics_known_values() -> None:
    ranking = [False, True, False, True]
    assert hit_at(ranking, 1) == 0.0 and hit_at(ranking, 2) == 1.0
    assert reciprocal_rank(ranking) == 0.5
    assert reciprocal_rank([False] * 12 + [True]) == 0.0  # beyond the top 10
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    assert ndcg(ranking) == pytest.approx((1 / 1.5849625 + 1 / 2.3219281) / (1 + 1 / 1.5849625))
    assert ndcg([True, False]) == 1.0 and ndcg([False, False]) == 0.0
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 95) == 0.0


def test_evidence_matching_by_sentence_or_document() -> None:
    case = EvalCase("q", "?", ("x",), ("France opposed it .",), None, False)
    assert holds_evidence("Before.  France opposed   it . After.", case)
    assert not holds_evidence("Germany opposed it.", case)
    by_doc = EvalCase("q", "?", ("x",), (), "doc-7", False)
    assert holds_evidence("any text", by_doc, "doc-7")
    assert not holds_evidence("any text", by_doc, "doc-8")


def test_dataset_aliases(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": 1, "question": "A?", "answers": ["a"], "evidence_text": "Alpha.", "extra": 1},
        {"id": 2, "question": "B?", "answers": [], "answerable": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    first, second = load_dataset(path)
    assert first.evidence == ("Alpha.",) and not first.unanswerable
    assert second.unanswerable and second.evidence == ()
    (tmp_path / "bad.jsonl").write_text('{"no_question": 1}\n')
    from briefqa import BriefQAError

    with pytest.raises(BriefQAError, match=r"bad\.jsonl:1"):
        load_dataset(tmp_path / "bad.jsonl")


@pytest.fixture(scope="module")
def small_report(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> EvalReport:
    """Ten seed questions (8 answerable, 2 not) through briefqa and both baselines."""
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_brief.jsonl").open()]
    subset = [r for r in rows if not r["unanswerable"]][:8] + [
        r for r in rows if r["unanswerable"]
    ][:2]
    path = tmp_path_factory.mktemp("eval") / "subset.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in subset))
    return run_evaluation(
        path, corpus=ROOT / "corpus", baselines=["naive", "bm25"], embedder=embedder
    )


def test_harness_measures_every_system(small_report: EvalReport) -> None:
    ours = small_report.systems["briefqa"]
    assert set(small_report.systems) == {"briefqa", "naive", "bm25"}
    for key in (
        "hit@1",
        "hit@3",
        "hit@5",
        "mrr",
        "ndcg@10",
        "answer_contained",
        "token_f1",
        "citation_precision",
        "citation_recall",
        "supported_share",
        "refused_unanswerable",
        "false_refusal",
        "latency_p50_ms",
        "latency_p95_ms",
    ):
        assert key in ours, key
    assert ours["hit@5"] >= 0.85 and ours["citation_recall"] >= 0.75
    assert "answer_contained" not in small_report.systems["bm25"]  # a baseline omits it
    assert 0 <= small_report.systems["naive"]["hit@3"] <= 1
    assert small_report.questions == 10


def test_report_opens_in_chromium(small_report: EvalReport, tmp_path: Path) -> None:
    paths = write_report(small_report, tmp_path / "report")
    data = json.loads(paths["json"].read_text())
    assert set(data) >= {"dataset", "questions", "systems", "failures"}
    assert "| hit@3 |" in paths["md"].read_text()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(paths["html"].as_uri())
        assert "briefqa evaluation" in page.title()
        assert page.locator("#metrics tr").count() >= 15
        assert page.locator("img").count() == 3  # metric bars, latency, support scores
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert all(w > 100 for w in widths), "every plot decoded"
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 20_000


def test_cli_eval_fail_under(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_brief.jsonl").open()][:4]
    path = tmp_path / "four.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = subprocess.run(
        [sys.executable, "-m", "briefqa.cli", "eval", "--dataset", str(path), "--corpus",
         str(ROOT / "corpus"), "--json", "--fail-under", "hit@5=0.5",
         "--fail-under", "latency_p95_ms=0.001"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)
    assert result["questions"] == 4 and "briefqa" in result["systems"]
    assert result["failed_bounds"] == [
        f"latency_p95_ms = {result['systems']['briefqa']['latency_p95_ms']} (needs <= 0.001)"
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "briefqa.cli", "eval", "--dataset", str(path),
         "--fail-under", "nope=1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown metric" in bad.stderr
