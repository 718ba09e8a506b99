"""The refusal gate's three outcomes: refused, answered with low confidence, answered.

End to end on the real embedding model: off-topic questions are refused, a figure
question whose figure is in the passage is answered, and a question the passages only
seem to answer is answered but marked low-confidence. The model file keeps its
``confident`` cut point through a save and a load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from briefqa import BriefQA, Settings
from briefqa.answer.refusal import FEATURES, Evidence, RefusalModel
from briefqa.index.embeddings import SentenceTransformerEmbedder

from .conftest import SEED

FRANCE = "Which country opposed a NATO liaison office in Tokyo?"
BOARDS = """# Secondary education in India

## Boards

Secondary schooling ends with a board examination, which most pupils sit at the age of sixteen.
The states run boards of their own, and national boards such as the CBSE stand beside them.
Each of them sets its own papers and awards its own certificates.
As of 2023 there are 30 such boards across the country.

## Reform

The Ministry of Education has asked the boards to align their syllabi by 2026.
"""


@pytest.fixture(scope="module")
def seed_qa(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[BriefQA]:
    """The seed brief, indexed once for this module."""
    data = tmp_path_factory.mktemp("refusal-seed")
    with BriefQA(data, settings=Settings(), embedder=embedder) as qa:
        qa.ingest([SEED])
        yield qa


@pytest.mark.parametrize(
    "question",
    [
        "What was Japan's GDP in 2022?",
        "Who won the 2022 football World Cup?",
        "What will the weather be like in Brussels tomorrow?",
    ],
)
def test_off_topic_questions_are_refused(seed_qa: BriefQA, question: str) -> None:
    answer = seed_qa.ask(question)
    assert answer.refused and answer.outcome == "refused", answer.confidence
    assert answer.confidence < seed_qa.answerer.threshold


def test_a_question_the_brief_answers_is_answered_with_confidence(seed_qa: BriefQA) -> None:
    answer = seed_qa.ask(FRANCE)
    assert answer.outcome == "answered" and not answer.refused
    assert answer.confidence >= seed_qa.answerer.confident
    assert "France" in answer.text


def test_a_figure_question_is_answered_when_the_passage_holds_the_figure(
    qa: BriefQA, tmp_path: Path
) -> None:
    # "30" sits in a sentence that says "such boards across the country": no sentence
    # holds a figure with "examination" and "India" around it, so the answer-kind check
    # doubts it (the rule that used to refuse such questions outright). Doubt only
    # lowers confidence; the passage is shown either way.
    brief = tmp_path / "boards.md"
    brief.write_text(BOARDS)
    qa.ingest([brief])
    question = "How many Examination Boards exist in India?"
    assert qa.answerer.evidence(question, qa.retrieve(question)).kind_share < 0
    answer = qa.ask(question)
    assert not answer.refused and answer.outcome != "refused", answer.confidence
    shown = answer.sources + answer.nearest
    assert any("there are 30 such boards" in hit.text for hit in shown)


def test_a_question_the_passages_only_seem_to_answer_is_marked_low_confidence(
    seed_qa: BriefQA,
) -> None:
    # The brief names Poland, South Korea and the K2 tanks, but never their price.
    answer = seed_qa.ask("How much did Poland pay South Korea for its K2 tanks?")
    assert answer.outcome == "low_confidence" and answer.low_confidence, answer.confidence
    assert not answer.refused and answer.citations
    assert answer.nearest, "a low-confidence answer shows the nearest passages"
    gate = seed_qa.answerer
    assert gate.threshold <= answer.confidence < gate.confident


def _evidence(dense: float, kind_share: float = 1.0) -> Evidence:
    return Evidence(dense=dense, relevance=0.0, coverage=0.0, window=0.0, kind_share=kind_share)


def test_the_model_has_three_outcomes_and_the_kind_check_only_lowers_confidence() -> None:
    # p = sigmoid(dense): refuse below 0.5, full confidence from 0.6.
    model = RefusalModel((1.0, 0.0, 0.0, 0.0), 0.0, 0.5, kind_coverage=0.1, confident=0.6)
    assert model.outcome(_evidence(-1.0)) == "refused"
    assert model.outcome(_evidence(0.2)) == "low_confidence"
    assert model.outcome(_evidence(3.0)) == "answered"
    # A figure question with no figure nearby: doubted, never refused for that alone.
    assert model.outcome(_evidence(3.0, kind_share=-1.0)) == "low_confidence"
    assert model.outcome(_evidence(-1.0, kind_share=-1.0)) == "refused"
    assert model.answerable(_evidence(3.0, kind_share=-1.0))
    # Without a band there is nowhere to doubt: the old rule, which refuses.
    banded = RefusalModel((1.0, 0.0, 0.0, 0.0), 0.0, 0.5, kind_coverage=0.1)
    assert banded.outcome(_evidence(3.0, kind_share=-1.0)) == "refused"


def test_save_and_load_keep_the_confidence_threshold(tmp_path: Path) -> None:
    model = RefusalModel((1.0, 2.0, 3.0, 4.0), -5.0, 0.12, "note", 0.0, confident=0.5)
    path = tmp_path / "refusal.json"
    model.save(path)
    assert RefusalModel.load(path) == model
    assert json.loads(path.read_text())["confident"] == 0.5

    data = json.loads(path.read_text())
    del data["confident"]  # a model saved before the low-confidence band
    path.write_text(json.dumps(data))
    legacy = RefusalModel.load(path)
    assert legacy.confident is None and legacy.band_top == legacy.threshold

    # A model fitted on a signal this version does not compute cannot be used.
    data["features"] = ["dense", "rank_gap", "coverage", "window"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="calibrate_refusal"):
        RefusalModel.load(path)
    # One fitted with the reader's signal keeps it, in its order.
    reader = RefusalModel((1.0, 2.0), -1.0, 0.1, confident=0.5, features=("reader", "dense"))
    reader.save(path)
    assert RefusalModel.load(path) == reader
    evidence = _evidence(0.3)
    assert reader.probability_of([evidence.reader, evidence.dense]) == reader.probability(evidence)


def test_the_shipped_model_has_a_low_confidence_band() -> None:
    model = RefusalModel.load()
    assert len(model.weights) == len(FEATURES)
    assert model.confident is not None and 0.0 < model.threshold < model.confident < 1.0
