"""Evaluation metrics on hand-made cases, the harness end to end, and its HTML report
opened in a real browser."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from briefqa import BriefQAError, EvalReport, load_brief, load_dataset, run_evaluation, write_report
from briefqa.evaluation import (
    BRIEF_FIELDS,
    LEAD,
    METRICS,
    EvalCase,
    Record,
    breakdown,
    contains_answer,
    count_words,
    first_sentence,
    first_sentence_holds_gold,
    free_text_answers,
    hit_at,
    holds_evidence,
    matches_evidence,
    ndcg,
    normalize_answer,
    outcome_of,
    percentile,
    reciprocal_rank,
    right_source,
    score_records,
    token_f1,
)
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.reports import markdown, read_loco
from briefqa.schema import Answer, Citation, Hit, Outcome
from briefqa.text import normalize

from .conftest import ROOT, SEED, seed_questions


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
    with pytest.raises(BriefQAError, match=r"bad\.jsonl:1"):
        load_dataset(tmp_path / "bad.jsonl")


@pytest.fixture(scope="module")
def small_report(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> EvalReport:
    """Ten seed questions (8 answerable, 2 not) through briefqa, both baselines and
    briefqa without its reading model."""
    path = seed_questions(tmp_path_factory.mktemp("questions"))
    return run_evaluation(
        path, corpus=ROOT / "corpus", baselines=["naive", "bm25", "no-reader"], embedder=embedder
    )


def test_harness_measures_every_system(small_report: EvalReport) -> None:
    ours = small_report.systems["briefqa"]
    assert set(small_report.systems) == {"briefqa", "naive", "bm25", "briefqa without reader"}
    # The reader's own accuracy, and the same engine without it, side by side.
    assert 0 <= ours["reader_top1"] <= 1 and 0 < ours["reader_recall"] <= 1
    plain = small_report.systems["briefqa without reader"]
    assert "first_sentence_gold" in plain and "reader_top1" not in plain
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
        "answered_share",
        "low_confidence_share",
        "refused_share",
        "unanswerable_refused_share",
        "first_sentence_gold",
        "answer_words_median",
    ):
        assert key in ours, key
    assert "right_source" not in ours and not small_report.breakdown  # no whole-brief rows
    assert ours["hit@5"] >= 0.85 and ours["citation_recall"] >= 0.75
    assert "answer_contained" not in small_report.systems["bm25"]  # a baseline omits it
    assert 0 <= small_report.systems["naive"]["hit@3"] <= 1
    assert small_report.questions == 10


def test_harness_scores_whole_brief_questions(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """One question of four kinds end to end: the source metrics and the breakdown."""
    rows = [json.loads(line) for line in (ROOT / "evals" / "whole_brief.jsonl").open()]
    wanted = {
        ("section", "(lead)"),
        ("section", "Conclusions"),
        ("field", "date"),
        ("archive", None),
    }
    subset = {}
    for row in rows:
        key = (row["kind"], row["section"] or row["field"])
        if key in wanted and (key not in subset or "evidence" in row):
            subset[key] = row
    path = tmp_path / "whole.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in subset.values()))
    report = run_evaluation(path, corpus=ROOT / "corpus", embedder=embedder)
    ours = report.systems["briefqa"]
    assert 0 <= ours["right_source"] <= 1 and "hit@5" in ours  # the Conclusions evidence
    assert set(report.breakdown) == {"section: (lead)", "section: Conclusions", "field: date",
                                     "archive"}  # fmt: skip
    assert sum(m["questions"] for m in report.breakdown.values()) == 4
    assert any("whole-brief" in note for note in report.notes)
    for failure in report.failures:
        assert failure["why"], failure


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
        capture_output=True, text=True, timeout=600, cwd=tmp_path,  # no evals/runs.jsonl here
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


# ------------------------------------------------------ what staff experience (no model)

DATE = ["24 August 2023", "2023-08-24"]


def _hit(chunk: str, section: str | None) -> Hit:
    return Hit(chunk, "doc", "A brief", f"text of {chunk}", 1.0, 0, 10, section)


def _answer(
    text: str,
    outcome: Outcome = "answered",
    cited: Sequence[tuple[str, str | None]] = (),
    sources: Sequence[Hit] = (),
) -> Answer:
    """An answer citing chunks given as (chunk id, section), in reading order."""
    hits = {chunk: _hit(chunk, section) for chunk, section in cited}
    citations = tuple(
        Citation(n, "doc", "A brief", chunk, "quote", 0, 5, 0.9, 1.0)
        for n, (chunk, _) in enumerate(cited, start=1)
    )
    return Answer(
        question="?",
        text=text,
        citations=citations,
        sources=tuple(sources) or tuple(hits.values()),
        refused=outcome == "refused",
        unsupported=(),
        standalone_question="?",
        timings={},
        outcome=outcome,
    )


def _case(
    answers: Sequence[str] = ("Paris",), unanswerable: bool = False, **labels: Any
) -> EvalCase:
    return EvalCase("q", "?", tuple(answers), (), None, unanswerable, **labels)


def _record(case: EvalCase, answer: Answer, relevant: Sequence[bool] = ()) -> Record:
    """What the harness records; each citation holds the evidence iff the top chunk does."""
    cited = [bool(relevant and relevant[0])] * len(answer.citations)
    return Record(case, list(relevant), 1.0, answer, 2.0, cited)


def test_outcome_shares_first_sentence_and_median_length() -> None:
    records = [
        _record(_case(), _answer("Paris is the capital [1]. France is big [1].")),
        _record(_case(), _answer("France is big [1]. Paris is the capital [1].", "low_confidence")),
        _record(_case(), _answer("The briefs do not cover this question.", "refused")),
        _record(_case(), _answer("Lyon is large [2].")),
        _record(_case((), True), _answer("No.", "refused")),
        _record(_case((), True), _answer("Nobody knows [1].")),
        _record(_case((), True), _answer("Maybe Rome [3].", "low_confidence")),
    ]
    scores = score_records(records, with_answers=True)
    assert scores["answered_share"] == 0.5
    assert scores["low_confidence_share"] == 0.25
    assert scores["refused_share"] == scores["false_refusal"] == 0.25
    assert scores["unanswerable_answered_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert scores["unanswerable_low_confidence_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert scores["unanswerable_refused_share"] == scores["refused_unanswerable"]
    # Answered answerable: the first sentence holds "Paris" in 1 of 3, the answer in 2.
    assert scores["first_sentence_gold"] == pytest.approx(1 / 3, abs=1e-4)
    assert scores["answer_contained"] == pytest.approx(2 / 3, abs=1e-4)
    # Words without markers: 7, 7, 3, 2, 2 (refusals left out).
    assert scores["answer_words_median"] == 3.0
    assert "right_source" not in scores  # no whole-brief questions here
    for key in scores:
        assert key in METRICS, key


def test_first_sentence_and_words_ignore_citation_markers() -> None:
    assert first_sentence("Paris [1]. Lyon [2][3].") == "Paris."
    assert first_sentence("") == ""
    assert count_words("Paris is big [1][2]. Lyon [3].") == 4
    # An answer refused by the flag but built without an outcome still reads as refused.
    legacy = replace(_answer("No."), refused=True)
    assert outcome_of(legacy) == "refused"


def test_first_sentence_against_evidence_when_answers_are_free_text() -> None:
    evidence = ("Seasonality is a characteristic of a time series in which the data "
                "experiences regular and predictable changes .",)  # fmt: skip
    long_answer = "Seasonality is the method of forecasting where averages are used " * 2
    case = EvalCase("q", "?", (long_answer,), evidence, None, False)
    assert free_text_answers([case]) and not free_text_answers([_case()])
    extracted = "Seasonality is a characteristic of a time series in which the data " \
        "experiences regular and predictable changes [1]. More [2]."  # fmt: skip
    assert first_sentence_holds_gold(_answer(extracted), case, free_text=True)
    # A light paraphrase passes on token F1; a short fragment or another sentence does not.
    assert matches_evidence(
        "Seasonality is a feature of a time series whose data changes in regular, "
        "predictable ways.",
        evidence,
    )
    assert not matches_evidence("Time series.", evidence)
    assert not matches_evidence("Forecasting uses moving averages of past demand.", evidence)
    assert matches_evidence("a time series in which the data experiences", evidence)
    scores = score_records([_record(case, _answer(extracted))], with_answers=True)
    assert scores["first_sentence_gold"] == 1.0


def test_right_source_for_section_questions() -> None:
    conclusions = _case(kind="section", section="Conclusions")
    c, o = "Conclusions", "Opportunities"
    assert right_source(_answer("x [1].", cited=[("a", c)]), conclusions)
    assert right_source(_answer("x [1][2].", cited=[("a", c), ("b", o)]), conclusions)
    assert not right_source(_answer("x [1][2].", cited=[("b", o), ("a", c)]), conclusions)
    assert not right_source(
        _answer("x [1][2][3].", cited=[("a", c), ("b", o), ("d", o)]), conclusions
    )
    assert not right_source(_answer("No.", "refused", cited=[("a", c)]), conclusions)
    assert not right_source(_answer("x."), conclusions)  # nothing cited, no sources
    # Without citations, the sources count; section names match by words, not spacing.
    assert right_source(_answer("x.", sources=[_hit("a", "Conclusions ")]), conclusions)
    lead = _case(kind="section", section=LEAD)
    assert right_source(_answer("x [1].", cited=[("a", None)]), lead)
    assert not right_source(_answer("x [1].", cited=[("a", c)]), lead)
    assert not right_source(_answer("x [1].", cited=[("a", None)]), _case())  # no kind


def test_right_source_for_field_and_archive_questions() -> None:
    date = _case(DATE, kind="field", field_name="date")
    assert right_source(_answer("It was published on 24 August 2023 [1]."), date)
    assert right_source(_answer("Date: 2023-08-24."), date)
    assert not right_source(_answer("It was published in August [1]."), date)
    assert not right_source(_answer("24 August 2023", "refused"), date)
    number = _case(["116"], kind="field", field_name="number")
    assert not right_source(_answer("The brief is about NATO [116]."), number)  # a marker
    archive = _case(["NATO Intensifies Cooperation"], kind="archive")
    assert right_source(_answer("We have “NATO intensifies cooperation …” (2023)."), archive)


def test_whole_brief_scores_and_breakdown() -> None:
    sections = [
        _record(
            _case(["gold"], kind="section", section="Conclusions"),
            _answer("gold [1].", cited=[("a", "Conclusions")]),
        ),
        _record(
            _case(["gold"], kind="section", section="Conclusions"),
            _answer("Other [1]. Gold [1].", cited=[("b", "Limitations")]),
        ),
    ]
    targeted = replace(_case(["gold"], kind="section", section="Conclusions"), evidence=("gold .",))
    records = [
        *sections,
        _record(targeted, _answer("gold [1].", cited=[("a", "Conclusions")]), [True]),
        _record(_case(DATE, kind="field", field_name="date"), _answer("On 2023-08-24.")),
        _record(_case(["T"], kind="archive"), _answer("No.", "refused")),
    ]
    scores = score_records(records, with_answers=True)
    assert scores["right_source"] == 0.6
    assert scores["first_sentence_gold"] == 0.75
    # Only the question with gold evidence scores retrieval and citations.
    assert scores["hit@1"] == 1.0 and scores["citation_recall"] == 1.0
    table = breakdown(records, free_text=False)
    assert list(table) == ["section: Conclusions", "field: date", "archive"]
    assert table["section: Conclusions"]["questions"] == 3
    assert table["section: Conclusions"]["right_source"] == pytest.approx(2 / 3, abs=1e-4)
    assert table["archive"]["refused_share"] == 1.0
    assert "first_sentence_gold" not in table["archive"]


def test_whole_brief_dataset_schema(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "question": "Summary?", "kind": "section", "section": "(lead)",
         "field": None, "answers": ["x"]},
        {"id": "b", "question": "When?", "kind": "field", "section": None, "field": "date",
         "answers": DATE},
        {"id": "c", "question": "Which briefs?", "kind": "archive", "answers": ["T"],
         "evidence": "Alpha  beta."},
        {"id": "d", "question": "Old row?", "answers": ["y"], "evidence": "Gamma."},
    ]  # fmt: skip
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lead, date, archive, old = load_dataset(path)
    assert (lead.kind, lead.section, lead.field_name) == ("section", LEAD, None)
    assert not lead.has_target and not lead.unanswerable
    assert (date.kind, date.field_name, date.answers) == ("field", "date", tuple(DATE))
    assert archive.kind == "archive" and archive.evidence == ("Alpha beta.",)
    assert old.kind is None and old.section is None and old.has_target
    for bad, message in (
        ({"question": "?", "kind": "brief"}, "kind must be"),
        ({"question": "?", "kind": "section"}, "needs the section"),
        ({"question": "?", "kind": "field", "field": "author"}, "needs a field"),
    ):
        (tmp_path / "bad.jsonl").write_text(json.dumps(bad) + "\n")
        with pytest.raises(BriefQAError, match=message):
            load_dataset(tmp_path / "bad.jsonl")


def test_whole_brief_set_matches_the_seed_brief() -> None:
    """The shipped set: big and varied enough, and every gold label is where it says."""
    cases = load_dataset(ROOT / "evals" / "whole_brief.jsonl")
    assert len(cases) >= 36 and len({c.id for c in cases}) == len(cases)
    kinds = {c.kind for c in cases}
    assert kinds == {"section", "field", "archive"}
    expected = {c.section for c in cases} | {c.field_name for c in cases}
    assert expected >= {LEAD, "Conclusions", "Opportunities", "Limitations",
                        "Basis for Cooperation", *BRIEF_FIELDS}  # fmt: skip
    brief = load_brief(SEED)
    body: dict[str | None, str] = {}
    for block in brief.blocks:
        if block.kind == "paragraph":
            body[block.section] = (
                body.get(block.section, "") + " " + brief.text[block.start : block.end]
            )
    for case in cases:
        if case.kind == "section":
            text = normalize_answer(body[None if case.section == LEAD else case.section])
            for gold in case.answers:
                assert normalize_answer(gold) in text, (case.id, gold)
            for sentence in case.evidence:
                assert sentence in normalize(body[case.section]), case.id
        elif case.field_name == "number":
            assert case.answers == (brief.number,)
        elif case.field_name == "date":
            assert brief.date in case.answers
        elif case.field_name == "title" or case.kind == "archive":
            assert case.answers == (brief.title,)
        else:
            assert normalize_answer(", ".join(brief.sections)) in map(
                normalize_answer, case.answers
            )


def test_report_shows_breakdown_notes_and_loco(tmp_path: Path) -> None:
    report = EvalReport(
        dataset="whole_brief.jsonl",
        questions=2,
        systems={"briefqa": {"hit@1": 0.5, "right_source": 0.25, "refused_share": 0.5}},
        failures=[],
        breakdown={"archive": {"questions": 2.0, "right_source": 0.25}},
        notes=["2 whole-brief questions."],
    )
    missing = read_loco(tmp_path / "none.json")
    assert not missing.rows and "not found" in missing.notes[0]
    (tmp_path / "old.json").write_text(json.dumps({"threshold": 0.3}))
    assert "no `loco` key" in read_loco(tmp_path / "old.json").notes[0]
    loco = {
        "description": "Fitted on every corpus but the held-out one; scored on that one.",
        "seed": {"threshold": 0.31, "held_out": {"refused_unanswerable": 0.8, "answerable": 47}},
        "clapnq": {"threshold": 0.35, "held_out": {"false_refusal": 0.06}},
    }
    (tmp_path / "cal.json").write_text(json.dumps({"threshold": 0.3, "loco": loco}))
    table = read_loco(tmp_path / "cal.json")
    assert table.columns == ("threshold", "refused_unanswerable", "answerable", "false_refusal")
    assert table.rows[1] == ("seed / held_out", ("—", "0.800", "47", "—"))
    assert table.notes == ("description: " + loco["description"],)

    paths = write_report(report, tmp_path / "out", calibration=tmp_path / "cal.json")
    text = paths["md"].read_text()
    assert "| **Sources and outcomes** |" in text and "| right_source | 0.250 |" in text
    assert "| archive | 2 | — | — | — | — | 0.250 | — |" in text
    assert "| seed / held_out | — | 0.800 | 47 | — |" in text
    assert "- 2 whole-brief questions." in text
    data = json.loads(paths["json"].read_text())
    assert data["breakdown"] == report.breakdown and data["refusal_loco"]["loco"] == loco
    page = paths["html"].read_text()
    assert "id='breakdown'" in page and "id='loco'" in page and "Fitted on every" in page
    # calibrate_refusal.py's own report: one row per direction and set reported on.
    directions = {
        "seed -> clapnq": {
            "fitted_on": "seed_calibration",
            "threshold": 0.39,
            "weights": {"dense": 1.4},
            "sets": {"clapnq": {"false_refusal": 0.01, "refused_unanswerable": 0.26}},
        }
    }
    (tmp_path / "runs.json").write_text(json.dumps({"directions": directions}))
    runs = read_loco(tmp_path / "runs.json")
    assert runs.columns == ("false_refusal", "refused_unanswerable")
    assert runs.rows == (("fitted on seed_calibration → clapnq", ("0.010", "0.260")),)
    without = write_report(report, tmp_path / "plain", calibration=tmp_path / "none.json")
    assert "none.json not found" in without["html"].read_text()
    assert "Refusal, leave one corpus out" not in markdown(report)
