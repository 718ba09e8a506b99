"""The evaluator's workbench: configurations side by side with intervals and p-values,
a run against a saved one question by question, the runs log, and the RAGAS / DeepEval
exports (issue 24)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from briefqa import (
    BriefQA,
    ConfigError,
    Configuration,
    EvalReport,
    append_run,
    load_configuration,
    load_saved_rows,
    read_runs,
    run_evaluation,
    vary_configurations,
)
from briefqa.cli import main
from briefqa.comparison import YES_NO, compare, mcnemar, regressions, significant_drops
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.library import Library
from briefqa.settings import Settings
from briefqa.testing import HashEmbedder

from .conftest import ROOT, SEED, seed_questions

#: Asked of the seed brief, which says nothing of it: always refused (the refusal gate's
#: off-topic set), so its outcome is known without running it.
OFF_TOPIC = "What is the boiling point of mercury on Jupiter?"


def test_mcnemar_known_values() -> None:
    assert mcnemar(0, 0) == 1.0 and mcnemar(5, 5) == 1.0
    assert mcnemar(10, 0) == pytest.approx(2 / 1024)
    # 8 against 2: 2 * P(X <= 2 | n=10, p=0.5) = 2 * 56 / 1024
    assert mcnemar(8, 2) == pytest.approx(112 / 1024)


def test_a_clear_difference_is_beyond_noise_and_a_tie_is_not() -> None:
    worse = [{"hit@1": 0.0, "latency_ms": 10.0} for _ in range(40)]
    better = [{"hit@1": 1.0, "latency_ms": 10.0} for _ in range(40)]
    up = compare(worse, better)["hit@1"]
    assert (up.diff, up.low, up.high, up.b_only, up.a_only) == (1.0, 1.0, 1.0, 40, 0)
    assert up.p is not None and up.p < 1e-10 and up.verdict == "better"
    assert compare(better, worse)["hit@1"].verdict == "worse"
    # Half the questions flip each way: no difference, whatever the draw.
    mixed = [{"hit@1": float(i % 2)} for i in range(40)]
    other = [{"hit@1": float((i + 1) % 2)} for i in range(40)]
    tie = compare(mixed, other)["hit@1"]
    assert tie.diff == 0 and tie.low < 0 < tie.high and tie.p == 1.0
    assert tie.verdict == "within noise"
    # Lower is better for refusals of answerable questions and for time.
    slow = [{"latency_ms": 100.0 + i} for i in range(40)]
    fast = [{"latency_ms": 10.0 + i} for i in range(40)]
    assert compare(slow, fast)["latency_ms"].verdict == "better"
    refusing = [{"false_refusal": 1.0} for _ in range(20)]
    answering = [{"false_refusal": 0.0} for _ in range(20)]
    assert compare(answering, refusing)["false_refusal"].verdict == "worse"
    with pytest.raises(ValueError, match="same set"):
        compare(worse, better[:3])


def test_configurations_from_files_and_variations(tmp_path: Path) -> None:
    path = tmp_path / "wide.toml"
    path.write_text('top_k = 8\nreader = "off"\n')
    wide = load_configuration(path)
    assert wide.name == "wide" and wide.settings(Settings()).top_k == 8
    varied = vary_configurations(["top_k=5,8", "reader=on,off"])
    assert [c.name for c in varied] == [
        "top_k=5 reader=on", "top_k=5 reader=off", "top_k=8 reader=on", "top_k=8 reader=off"
    ]  # fmt: skip
    assert varied[0].settings(Settings()).reader == "packaged"  # "on" is the packaged reader
    assert varied[3].settings(Settings()).top_k == 8
    for bad, message in [
        (["top_k"], "key=value1,value2"),
        (["top_k=5", "top_k=8"], "twice"),
    ]:
        with pytest.raises(ConfigError, match=message):
            vary_configurations(bad)
    with pytest.raises(ConfigError, match="no such setting"):
        Configuration("typo", {"top_kk": 3}).settings(Settings())
    with pytest.raises(ConfigError, match="'top_k=zero'"):
        vary_configurations(["top_k=zero"])[0].settings(Settings())
    (tmp_path / "broken.toml").write_text("top_k = = 3")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_configuration(tmp_path / "broken.toml")


def _rows(values: list[dict[str, float]], outcome: str = "answered") -> list[dict[str, Any]]:
    return [
        {"id": f"q{i}", "question": f"question {i}", "unanswerable": False, "outcome": outcome,
         "values": v, "answer": "an answer", "citations": []}
        for i, v in enumerate(values)
    ]  # fmt: skip


def test_changes_question_by_question_and_drops_beyond_noise() -> None:
    saved = _rows([{"first_sentence_gold": 1.0, "hit@1": 1.0} for _ in range(10)])
    assert regressions(saved, saved) == [] and significant_drops(saved, saved) == []
    # Eight questions lose their first sentence, one gains the first passage.
    current = _rows(
        [{"first_sentence_gold": 0.0, "hit@1": 1.0} for _ in range(8)]
        + [{"first_sentence_gold": 1.0, "hit@1": 1.0}]
        + [{"first_sentence_gold": 1.0, "hit@1": 1.0}]
    )
    current[9]["outcome"] = "refused"
    changed = regressions(saved, current)
    assert [c["status"] for c in changed] == ["worse"] * 9
    assert changed[0]["changes"] == [
        {"what": "first sentence holds the gold", "before": True, "after": False, "worse": True}
    ]
    assert changed[-1]["changes"][0]["what"] == "outcome"
    [drop] = significant_drops(saved, current)
    assert drop["metric"] == "first_sentence_gold" and drop["worse"] == [f"q{i}" for i in range(8)]
    assert drop["p"] == pytest.approx(2 / 256, abs=1e-4)
    # Two questions worse is within noise: no drop, though both are listed.
    few = _rows([{"first_sentence_gold": 0.0}] * 2 + [{"first_sentence_gold": 1.0}] * 8)
    assert significant_drops(saved, few) == [] and len(regressions(saved, few)) == 2


@pytest.fixture(scope="module")
def side_by_side(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> tuple[EvalReport, int]:
    """Ten seed questions answered by two configurations and the no-reader baseline,
    with the number of times an index was built."""
    path = seed_questions(tmp_path_factory.mktemp("questions"))
    built = []
    real = Library.ingest

    def counted(self: Library, *args: Any, **kwargs: Any) -> Any:
        built.append(self.data_dir)
        return real(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Library, "ingest", counted)
        report = run_evaluation(
            path,
            corpus=ROOT / "corpus",
            embedder=embedder,
            baselines=["no-reader"],
            configurations=vary_configurations(["max_answer_sentences=3,1"]),
        )
    return report, len(built)


def test_configurations_answer_side_by_side_on_one_index(
    side_by_side: tuple[EvalReport, int],
) -> None:
    report, built = side_by_side
    assert built == 1, "settings that do not change the index share one"
    first, second = "max_answer_sentences=3", "max_answer_sentences=1"
    assert list(report.systems) == [first, second, "briefqa without reader"]
    assert [c["name"] for c in report.configurations] == [first, second]
    assert set(report.comparisons) == {second, "briefqa without reader"}
    shorter = report.comparisons[second]
    # Retrieval does not depend on the answer's length: no difference, exactly.
    assert shorter["hit@1"] == {**shorter["hit@1"], "diff": 0.0, "low": 0.0, "high": 0.0,
                                "p": 1.0, "verdict": "within noise"}  # fmt: skip
    latency = shorter["latency_ms"]
    assert latency["low"] <= latency["diff"] <= latency["high"] and latency["p"] is None
    # One sentence at most: the answers are no longer than with three.
    assert report.systems[second]["answer_words"] <= report.systems[first]["answer_words"]
    # Each question's values average to the metric table's value.
    for name, rows in report.per_question.items():
        for metric in (*YES_NO, "mrr", "ndcg@10", "token_f1"):
            counted = [r["values"][metric] for r in rows if metric in r["values"]]
            if counted and metric in report.systems[name]:
                assert math.isclose(
                    sum(counted) / len(counted), report.systems[name][metric], abs_tol=1e-3
                ), (name, metric)
    # report.json keeps each question's answer and citations, not the passages read.
    saved = report.to_dict()["per_question"][first]
    assert len(saved) == 10 and "contexts" not in saved[0] and "answer" in saved[0]
    assert report.per_question[first][0]["contexts"], "the exports get the passages"


def test_two_configurations_of_one_name_are_refused(tmp_path: Path) -> None:
    twice = [Configuration("same", {"top_k": 3}), Configuration("same", {"top_k": 5})]
    with pytest.raises(ConfigError, match="same name"):
        run_evaluation(ROOT / "evals" / "seed_brief.jsonl", configurations=twice)


def test_the_runs_log_keeps_each_run_and_skips_what_is_not_one(
    side_by_side: tuple[EvalReport, int], tmp_path: Path
) -> None:
    report, _ = side_by_side
    log = tmp_path / "runs.jsonl"
    first = append_run(report, log, commit="abc1234")
    with log.open("a") as f:
        f.write("not json\n")
    append_run(report, log, commit=None)
    runs = read_runs(log, report.dataset)
    assert len(runs) == 2 and runs[0] == first and runs[0]["commit"] == "abc1234"
    line = runs[1]["systems"]["max_answer_sentences=1"]
    assert line["overrides"] == {"max_answer_sentences": "1"}
    assert 0 <= line["hit@1"] <= 1 and "latency_p50_ms" in line
    assert read_runs(log, "evals/another.jsonl") == [] and read_runs(tmp_path / "none", "x") == []


def _eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefqa.cli", "eval", "--corpus", str(ROOT / "corpus"), *args],
        capture_output=True, text=True, timeout=900, cwd=cwd,
    )  # fmt: skip


def test_cli_side_by_side_against_a_saved_run_with_exports(tmp_path: Path) -> None:
    """From the command line: two configurations and their exports, then a run that is
    worse than a saved one beyond noise fails, naming the questions."""
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_brief.jsonl").open()][:2]
    # Eight answerable questions the brief cannot answer: refused every time.
    rows += [
        {"id": f"mercury-{i}", "question": OFF_TOPIC, "answers": ["357 degrees"],
         "unanswerable": False}
        for i in range(8)
    ]  # fmt: skip
    dataset = tmp_path / "set.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = tmp_path / "runs.jsonl"
    first = _eval(
        "--dataset", str(dataset), "--vary", "top_k=5,3", "--report", "r1", "--runs", str(log),
        "--export", "ragas", "--export", "deepeval", cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "## Differences against top_k=5" in first.stdout
    saved = json.loads((tmp_path / "r1" / "report.json").read_text())
    assert list(saved["per_question"]) == ["top_k=5", "top_k=3"]
    ragas = [json.loads(line) for line in (tmp_path / "r1" / "ragas_dataset.jsonl").open()]
    assert len(ragas) == 10 and ragas[0]["user_input"] == rows[0]["question"]
    assert len(ragas[0]["retrieved_contexts"]) == 5 and ragas[0]["response"]
    _ragas_loads(tmp_path / "r1" / "ragas_dataset.jsonl")
    deepeval = json.loads((tmp_path / "r1" / "deepeval_dataset.json").read_text())
    assert deepeval[2]["input"] == OFF_TOPIC and deepeval[2]["expected_output"] == "357 degrees"
    assert isinstance(deepeval[0]["retrieval_context"], list)

    # A saved run in which the eight were answered: this run refuses them all.
    for row in saved["per_question"]["top_k=5"]:
        if row["id"].startswith("mercury"):
            row["outcome"], row["values"]["false_refusal"] = "answered", 0.0
    (tmp_path / "earlier.json").write_text(json.dumps(saved))
    second = _eval(
        "--dataset", str(dataset), "--against", "earlier.json", "--fail-on-regression",
        "--report", "r2", "--runs", str(log), cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 1
    assert "false_refusal dropped beyond noise" in second.stderr
    assert all(f"mercury-{i}" in second.stderr for i in range(8))
    page = (tmp_path / "r2" / "report.html").read_text()
    assert "change-filter" in page and page.count("<tr class='change worse'>") == 8
    assert len(read_runs(log, dataset)) == 2
    assert "Trend over runs" in page, "the trend of the two logged runs is drawn"


def test_staff_feedback_becomes_draft_question_rows(tmp_path: Path) -> None:
    """Each rated or commented answer is one draft row, with the configuration that
    answered; `briefqa feedback export` writes them for a reviewer."""
    qa = BriefQA(tmp_path / "data", settings=Settings(top_k=4), embedder=HashEmbedder())
    qa.ingest([SEED])
    liked = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    disliked = qa.ask("What did Japan and NATO agree on?")
    qa.feedback(liked, "like")
    qa.feedback(disliked, "dislike")
    qa.feedback(disliked, "dislike", "It should cite the cooperation programme.")
    qa.close()
    with (qa.data_dir / "feedback.jsonl").open("a") as f:
        f.write('{"torn": \n')
    [down] = qa.feedback_drafts(only="down")
    assert down["question"] == disliked.question and down["answer_given"] == disliked.text
    assert down["comments"] == ["It should cite the cooperation programme."]
    assert down["rating"] == "dislike" and down["status"] == "draft"
    assert down["configuration"]["top_k"] == 4 and down["configuration"]["reader"] == "packaged"
    assert len(down["citations"]) == len(disliked.citations)
    assert [r["rating"] for r in qa.feedback_drafts()] == ["like", "dislike"]
    assert qa.feedback_drafts(since="2999-01-01") == []
    out = tmp_path / "drafts.jsonl"
    code = main(["--data-dir", str(qa.data_dir), "feedback", "export", "--only", "down",
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and [json.loads(line)["id"] for line in out.open()] == [down["id"]]
    assert main(["--data-dir", str(qa.data_dir), "feedback", "export", "--since", "May"]) == 2


def _ragas_loads(path: Path) -> None:
    """RAGAS's own loader reads the file where RAGAS is installed (it is not a briefqa
    dependency: it pulls LangChain's community package and more); else each row is
    checked against ``SingleTurnSample``'s documented fields and types."""
    try:
        from ragas import EvaluationDataset  # type: ignore[import-not-found]
    except ImportError:
        fields = {"user_input": str, "retrieved_contexts": list, "response": str,
                  "reference": str, "reference_contexts": list}  # fmt: skip
        for line in path.open():
            row = json.loads(line)
            for name, kind in fields.items():
                assert isinstance(row[name], kind), name
            for key in ("retrieved_contexts", "reference_contexts"):
                assert all(isinstance(text, str) for text in row[key]), key
        return
    dataset = EvaluationDataset.from_jsonl(str(path))
    assert len(dataset) == sum(1 for _ in path.open())


def test_configurations_that_need_their_own_index_get_one(tmp_path: Path) -> None:
    path = seed_questions(tmp_path, answerable=2, unanswerable=0)
    built: list[Path] = []
    real = Library.ingest

    def counted(self: Library, *args: Any, **kwargs: Any) -> Any:
        built.append(self.data_dir)
        return real(self, *args, **kwargs)

    chunking = vary_configurations(["chunk_tokens=120,160"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Library, "ingest", counted)
        report = run_evaluation(
            path, corpus=ROOT / "corpus", embedder=HashEmbedder(), configurations=chunking
        )
    assert len(set(built)) == 2 and len(report.systems) == 2
    # Without a corpus to build from, the configured index cannot serve both.
    with pytest.raises(ConfigError, match="differ in chunk_tokens"):
        run_evaluation(path, configurations=chunking, embedder=HashEmbedder())
    with pytest.raises(ConfigError, match="named like a baseline"):
        run_evaluation(path, configurations=[Configuration("bm25")], baselines=["bm25"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "cannot read the saved report"),
        ("[1, 2]", "not a report.json with per-question rows"),
        ('{"per_question": {"x": {"a": 1}}}', "not a report.json with per-question rows"),
        ('{"per_question": {"x": [{"id": "q"}]}}', "row 1 has no id, values or outcome"),
        (
            '{"dataset": null, "per_question": {"x": [{"id": "q", "values": {}, '
            '"outcome": "answered"}]}}',
            "is a report on None",
        ),
    ],
)
def test_a_saved_report_that_cannot_be_compared_is_named(
    tmp_path: Path, content: str, message: str
) -> None:
    saved = tmp_path / "report.json"
    saved.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_saved_rows(saved, ROOT / "evals" / "seed_brief.jsonl")
    # From the command line, before any question is asked.
    assert main(["eval", "--dataset", str(ROOT / "evals" / "seed_brief.jsonl"),
                 "--against", str(saved), "--runs", "none"]) == 2  # fmt: skip


def test_review_decisions_are_kept_once_and_staff_text_stays_plain(tmp_path: Path) -> None:
    from briefqa.serve.review import _describe, decide, read_drafts

    drafts, questions = tmp_path / "drafts.jsonl", tmp_path / "set.jsonl"
    hostile = "x\n# Heading\n![x](https://evil.example/p.png) [login](https://evil.example)"
    rows = [
        {"id": "fb-1", "question": "Who opposed it?", "comments": [hostile], "status": "draft",
         "configuration": {"top_k": 5}, "answer_given": "Nobody [1]."},
        {"id": "fb-2", "question": "What is the GDP of Japan?", "status": "draft"},
    ]  # fmt: skip
    drafts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shown = _describe(read_drafts(drafts)[0])
    assert "\n# Heading" not in shown and "![x](" not in shown and "[login](" not in shown
    assert "> \\# Heading" in shown, "each comment line is quoted, its markup escaped"

    questions.write_text('{"id": "old", "question": "Kept?", "answers": []}')  # no newline
    row = decide(drafts, questions, "fb-1", "answerable", "France opposed it.", "France")
    assert row is not None and row["configuration"] == {"top_k": 5}
    decide(drafts, questions, "fb-1", "answerable", "Another sentence.")  # again: kept once
    decide(drafts, questions, "fb-2", "unanswerable")
    kept = [json.loads(line) for line in questions.read_text().splitlines()]
    assert [r["id"] for r in kept] == ["old", "fb-1", "fb-2"]
    assert kept[1]["evidence"] == "France opposed it." and kept[2]["unanswerable"] is True
    assert [d["status"] for d in read_drafts(drafts)] == ["answerable", "unanswerable"]
    with pytest.raises(ConfigError, match="pick the sentence"):
        decide(drafts, questions, "fb-2", "answerable")
    with pytest.raises(ConfigError, match="no draft"):
        decide(drafts, questions, "fb-9", "discarded")
    for bad in (b"\xff\xfe", b'{"id": 3, "question": "q"}\n', b'{"id": "a", "question": "q", '
                b'"configuration": [1]}\n'):  # fmt: skip
        drafts.write_bytes(bad)
        with pytest.raises(ConfigError, match=r"drafts|draft row"):
            read_drafts(drafts)
