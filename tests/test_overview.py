"""Whole-brief and archive questions: routing, the brief a question means, the answers.

Two briefs are indexed: the seed bulletin (No. 116) and a second, shorter one written
here (No. 117, on the Arctic), so that questions must find the brief they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from briefqa import BriefInfo, BriefQA, ChatWriter, Filters, NotFound, Settings
from briefqa.answer.intents import NAMED_BRIEF, classify, date_range, long_date, question_dates
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import FakeChatModel
from briefqa.text import sentence_spans

from .conftest import SEED

ARCTIC = """Arctic Security after the Nordic Enlargement of NATO

117
12.03.2024

Finland's and Sweden's accession has turned the Arctic into a region where NATO borders
Russia along a long northern front. The Alliance must adapt its plans to the harsh climate
and the long distances of the High North. Russia's Northern Fleet remains the main military
threat in the region. Poland should contribute to allied exercises in the High North.

Background

Until 2023, Norway was the only NATO member bordering Russia in the Arctic. The accession of
Finland doubled the length of the Alliance's border with Russia.

Russia's Posture

The Northern Fleet on the Kola Peninsula holds most of Russia's strategic submarines. Russia
has reopened Soviet-era bases along its Arctic coast since 2014.

Recommendations

NATO should establish a dedicated Arctic command within the Joint Force Command Norfolk.
Allies should invest in icebreakers and cold-weather equipment. It is in Poland's interest
to take part in the Nordic exercises regularly."""


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Path:
    folder = tmp_path_factory.mktemp("briefs")
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    (folder / "arctic-security-117.txt").write_text(ARCTIC, encoding="utf-8")
    data = tmp_path_factory.mktemp("two-briefs")
    with BriefQA(data, settings=Settings(), embedder=embedder) as qa:
        assert qa.ingest([folder]).added == 2
    return data


@pytest.fixture
def qa(indexed: Path, embedder: SentenceTransformerEmbedder) -> Iterator[BriefQA]:
    with BriefQA(indexed, settings=Settings(), embedder=embedder) as engine:
        yield engine


def _ids(qa: BriefQA) -> dict[str, str]:
    return {b.number or "": b.doc_id for b in qa.documents()}


def _first_sentence(text: str) -> str:
    start, end = next(iter(sentence_spans(text)))
    return text[start:end]


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("question", "kind", "field"),
    [
        ("What is this brief about?", "summary", None),
        ("Give me a summary", "summary", None),
        ("Main points of the brief about the AP4?", "summary", None),
        ("What are the key takeaways of bulletin 116?", "takeaways", None),
        ("What are the brief's conclusions?", "conclusions", None),
        ("What does it recommend for Poland?", "recommendations", None),
        ("What should NATO's European members do?", "recommendations", None),
        ("What are the limitations?", "section", None),
        ("What does the brief say is the basis for cooperation?", "section", None),
        ("When was the brief published?", "field", "date"),
        ("When was it published?", "field", "date"),
        ("What is the number of the bulletin?", "field", "number"),
        ("What is the title of the brief about the AP4?", "field", "title"),
        ("Who wrote this brief?", "field", "authors"),
        ("How is the brief structured?", "field", "sections"),
        ("Which briefs do we have since 2023?", "archive", None),
        ("How many briefs do we have?", "archive", None),
        ("Which brief discusses the Arctic?", "which_brief", None),
    ],
)
def test_whole_brief_questions_are_recognised(question: str, kind: str, field: str | None) -> None:
    intent = classify(question)
    assert intent is not None, question
    assert (intent.kind, intent.field) == (kind, field)


@pytest.mark.parametrize(
    "question",
    [
        "Which country opposed a NATO liaison office in Tokyo?",
        "summary of you laughed and laughed and laughed by gabriel okara",
        "price of ps3 when it first came out",
        "what was it called before the english named it new york",
        "What reports did the South Korean authorities deny?",
        "In what year did Czechia publish its Indo-Pacific strategy?",
        "What should Polish policymakers understand better about the Indo-Pacific?",
        "What is the GDP of Japan?",
    ],
)
def test_specific_questions_are_left_to_the_search(question: str) -> None:
    assert classify(question) is None


def test_who_wrote_a_title_asks_for_a_brief_only_if_one_has_that_title() -> None:
    # "Who wrote Pride and Prejudice?" is about the world unless a brief bears that
    # title: the overview answers it only then (tests/test_pdf_producers.py).
    intent = classify("Who wrote Pride and Prejudice?")
    assert intent is not None and intent.field == "authors" and intent.topic == NAMED_BRIEF


def test_a_section_question_asking_for_a_fact_is_searched(qa: BriefQA) -> None:
    # "challenge" names the Limitations section, but "collaboration" is no part of the
    # brief's subject: the question asks for a fact, which the lead holds.
    question = "What does bulletin 116 identify as a challenge to NATO's collaboration?"
    answer = qa.ask(question)
    assert answer.kind == "search"
    assert "Challenges to collaboration include" in answer.text
    limitations = qa.ask("What are the limitations of NATO's cooperation with the AP4?")
    assert limitations.kind == "brief" and limitations.sources[0].section == "Limitations"


def test_a_specific_question_about_the_conclusions_searches_inside_them() -> None:
    intent = classify("What will NATO primarily remain, according to the conclusions?")
    assert intent is not None and intent.kind == "conclusions" and intent.topic


def test_dates_in_questions() -> None:
    assert question_dates("the brief of 24 August 2023") == {"2023-08-24"}
    assert question_dates("of 24.08.2023 or August 24, 2023") == {"2023-08-24"}
    assert long_date("2023-08-24") == "24 August 2023"
    today = date(2026, 11, 29)
    assert date_range("briefs since 2023", today) == ("2023-01-01", None)
    assert date_range("briefs after 2023", today) == ("2024-01-01", None)
    assert date_range("briefs before March 2024", today) == (None, "2024-02-29")
    assert date_range("briefs in 2023", today) == ("2023-01-01", "2023-12-31")
    assert date_range("briefs from last year", today) == ("2025-01-01", "2025-12-31")


# ---------------------------------------------------------------- answers


def test_what_is_this_brief_about_quotes_its_lead(qa: BriefQA) -> None:
    seed = _ids(qa)["116"]
    answer = qa.ask("What is this brief about?", filters=Filters((seed,)))
    assert answer.outcome == "answered" and answer.kind == "brief"
    assert _first_sentence(answer.text).startswith("The participation of the leaders")
    assert {s.doc_id for s in answer.sources} == {seed}
    assert all(s.section is None for s in answer.sources)  # the lead, before any heading
    assert all(c.support >= 0.9 for c in answer.citations)


def test_a_whole_brief_question_naming_no_brief_says_which_brief_answers(qa: BriefQA) -> None:
    """Over an archive, "What is this brief about?" is answered from the closest brief,
    and the answer says which, and how to ask about another."""
    answer = qa.ask("What is this brief about?")
    [doc] = {s.doc_id for s in answer.sources}
    info = qa.brief(doc)
    preface = answer.preface
    assert preface.startswith(f"From “{info.title}”") and "closest of the 2 briefs" in preface
    assert "name a brief" in preface and "[" not in preface, "the preface cites nothing"
    # Kept out of the answer's text (what is scored and verified), shown before it.
    assert "[1]" in answer.text and "From “" not in answer.text and not answer.unsupported
    assert answer.shown == f"{preface}\n\n{answer.text}"
    assert answer.to_dict()["preface"] == preface
    # A brief named, or the only one allowed: no preface.
    assert qa.ask("What is bulletin 116 about?").preface == ""
    only = qa.ask("What is this brief about?", filters=Filters((_ids(qa)["116"],)))
    assert only.preface == "" and only.shown == only.text


def test_a_brief_named_by_number_is_the_one_answered(qa: BriefQA) -> None:
    answer = qa.ask("What are the key takeaways of bulletin 116?")
    assert {s.doc_id for s in answer.sources} == {_ids(qa)["116"]}
    assert "Conclusions" in {s.section for s in answer.sources}
    assert "NATO will remain primarily a security organisation" in answer.text


def test_recommendations_come_from_the_brief_named_and_for_whom_asked(qa: BriefQA) -> None:
    answer = qa.ask("What does bulletin 117 recommend?")
    assert {s.doc_id for s in answer.sources} == {_ids(qa)["117"]}
    assert _first_sentence(answer.text).startswith("NATO should establish a dedicated Arctic")
    poland = qa.ask("What does the brief of 24 August 2023 recommend for Poland?")
    assert "Poland’s interest to advocate" in _first_sentence(poland.text)
    assert {s.doc_id for s in poland.sources} == {_ids(qa)["116"]}


def test_a_section_by_its_name(qa: BriefQA) -> None:
    answer = qa.ask("What does bulletin 116 say about the limitations?")
    assert {s.section for s in answer.sources} == {"Limitations"}
    assert answer.text.startswith("The most severe constraint")


def test_metadata_answers_cite_the_about_card(qa: BriefQA) -> None:
    answer = qa.ask("When was bulletin 116 published?")
    assert "24 August 2023" in answer.text and answer.outcome == "answered"
    (citation,) = answer.citations
    assert citation.chunk_id.endswith("#about") and citation.quote == "Published: 24 August 2023"
    card = answer.sources[0]
    assert card.text[citation.start : citation.end] == citation.quote
    sections = qa.ask("What sections does bulletin 117 have?")
    assert "Background, Russia's Posture and Recommendations" in sections.text


def test_a_missing_field_is_a_refusal_that_says_what_is_missing(qa: BriefQA) -> None:
    answer = qa.ask("Who wrote bulletin 116?")
    assert answer.refused and answer.outcome == "refused"
    assert "authors" in answer.text and not answer.citations
    assert answer.nearest and answer.nearest[0].chunk_id.endswith("#about")


def test_the_archive_lists_briefs_by_date_and_topic(qa: BriefQA) -> None:
    everything = qa.ask("Which briefs do we have?")
    assert everything.kind == "archive" and everything.text.startswith("The archive holds 2 briefs")
    assert len(everything.citations) == 2
    recent = qa.ask("Which briefs do we have since 2024?")
    assert "1 brief" in recent.text and "Arctic Security" in recent.text
    assert "NATO Intensifies" not in recent.text
    arctic = qa.ask("Which brief discusses the Kola Peninsula?")
    assert arctic.text.startswith("“Arctic Security after the Nordic Enlargement of NATO”")
    assert any("Kola Peninsula" in c.quote for c in arctic.citations)
    none = qa.ask("Which briefs do we have before 2020?")
    assert none.text == "The archive holds no briefs published until 31 December 2019."


def test_a_search_question_naming_a_brief_stays_inside_it(qa: BriefQA) -> None:
    answer = qa.ask("What does bulletin 117 say about Poland?")
    assert answer.sources and {s.doc_id for s in answer.sources} == {_ids(qa)["117"]}


def test_summary_is_lead_and_conclusions(qa: BriefQA) -> None:
    summary = qa.summary(_ids(qa)["116"])
    assert summary.kind == "brief" and summary.outcome == "answered"
    assert {s.section for s in summary.sources} == {None, "Conclusions"}
    assert summary.text.startswith("The participation of the leaders")
    with pytest.raises(NotFound):
        qa.summary("0000000000000000")


def test_the_answer_comes_first_and_why_looks_for_the_reason(qa: BriefQA) -> None:
    question = "Which country opposed a NATO liaison office in Tokyo?"
    answer = qa.ask(question)
    assert "France" in _first_sentence(answer.text)
    why = qa.ask("Why?", history=[(question, answer.text)])
    assert "exacerbate relations with China" in _first_sentence(why.text)
    assert "highlighted by France" not in why.text  # not the same sentence again


def test_an_llm_writes_whole_brief_answers_from_the_planned_passages(
    indexed: Path, embedder: SentenceTransformerEmbedder
) -> None:
    reply = "NATO recognises that Euro-Atlantic and Indo-Pacific security are interdependent [1]."
    model = FakeChatModel(replies=[reply])
    with BriefQA(
        indexed, settings=Settings(), embedder=embedder, writer=ChatWriter(Settings(), model)
    ) as qa:
        answer = qa.ask("Summarise bulletin 116")
    assert answer.kind == "brief" and not answer.unsupported
    assert answer.sources[0].section is None
    # The model saw the lead, not a search's passages.
    assert "The participation of the leaders" in str(model.received[-1][-1].content)


def test_filters_admit_briefs_by_id_and_date() -> None:
    def brief(doc_id: str, day: str | None) -> BriefInfo:
        return BriefInfo(doc_id, "T", None, day, "txt", "x", (), 1, (), "")

    since = Filters(date_from="2023-01-01")
    assert since.admits(brief("a", "2023-08-24")) and not since.admits(brief("a", "2022-12-31"))
    assert not since.admits(brief("a", None))  # an undated brief passes no date bound
    assert Filters(("a",)).admits(brief("a", None)) and not Filters(("a",)).admits(brief("b", None))
    assert Filters().admits(brief("b", None))
