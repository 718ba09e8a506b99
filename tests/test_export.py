"""Markdown export of answers and conversations: the function, the REST route and the
chat's download."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from briefqa import Answer, BriefQA, Citation, Hit, Settings, export_markdown
from briefqa.serve.server import create_app
from briefqa.serve.ui import export_conversation
from briefqa.testing import HashEmbedder

PASSAGE = "Intro. France *opposed* the office <script>x()</script>. More text."
QUOTE = "France *opposed* the office <script>x()</script>."
WHEN = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def _answer(**changes: object) -> Answer:
    hit = Hit("c1", "d1", "Brief [One](http://evil)", PASSAGE, 0.9, 100, 168, "Limits", 3)
    start = 100 + PASSAGE.index(QUOTE)
    citation = Citation(
        1, "d1", hit.title, "c1", QUOTE, start, start + len(QUOTE), 0.9, 0.5,
        section="Limits", page=3, date="2023-08-24", authors=("A. Author", "B. Writer"),
        number="116",
    )  # fmt: skip
    fields: dict[str, object] = {
        "question": "# Who *opposed* it?",
        "text": "France *opposed* the office [1](http://x). The moon is cheese [1].",
        "citations": (citation,),
        "sources": (hit,),
        "refused": False,
        "unsupported": ("The moon is cheese",),
        "standalone_question": "Who opposed it?",
        "timings": {},
    }
    fields.update(changes)
    return Answer(**fields)  # type: ignore[arg-type]


def test_an_answer_with_its_references_and_brief_text_kept_literal() -> None:
    text = export_markdown(_answer(), exported=WHEN)
    assert text.startswith("# briefqa answer\n\nExported from briefqa on 2024-03-05 09:30 UTC.")
    assert "## \\# Who \\*opposed\\* it?" in text
    # Markers stay; markup in the answer does not become emphasis or a link.
    assert "France \\*opposed\\* the office [1]\\(http://x). The moon is cheese [1]." in text
    assert (
        "1. **Brief \\[One\\](http://evil)** — No. 116 · 2023-08-24 · section “Limits” · p. 3"
        in text
    )
    assert "A. Author, B. Writer" in text
    assert "   > France \\*opposed\\* the office \\<script>x()\\</script>." in text
    assert "Not supported by the cited passages:\n\n- The moon is cheese" in text
    assert "<script>" not in text.replace("\\<script>", "")


def test_low_confidence_and_refused_answers_say_so() -> None:
    near = Hit("c2", "d1", "Brief One", "Nearby text.", 0.4, 0, 12, "Background", None)
    unsure = export_markdown(_answer(outcome="low_confidence", nearest=(near,)), exported=WHEN)
    assert "**Low confidence — check the sources.**" in unsure
    assert "Other passages near the question:\n\n- **Brief One** — Background" in unsure
    refused = _answer(
        refused=True,
        outcome="refused",
        text="The briefs do not cover this question.",
        citations=(),
        sources=(),
        unsupported=(),
        nearest=(near,),
    )
    text = export_markdown(refused, exported=WHEN)
    assert "**Not answered:** The briefs do not cover this question." in text
    assert "Nearest passages found (none answers the question):" in text
    assert "References" not in text


def test_a_conversation_numbers_its_turns() -> None:
    second = replace(_answer(), question="And then?")
    text = export_markdown([_answer(), second], exported=WHEN)
    assert text.startswith("# briefqa conversation")
    assert "## Q1. \\# Who" in text and "## Q2. And then?" in text
    assert text.index("Q1.") < text.index("Q2.")


def test_line_starts_cannot_make_headings_lists_or_code() -> None:
    answer = _answer(text="Intro [1].\n\n# Not a heading\n- not a list\n2023. A year\n    code")
    body = export_markdown(answer, exported=WHEN)
    assert "\n\\# Not a heading\n\\- not a list\n2023\\. A year\ncode" in body


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    with (
        BriefQA(tmp_path / "data", settings=Settings(), embedder=HashEmbedder()) as qa,
        TestClient(create_app(qa, ui=False)) as client,
    ):
        yield client


def test_the_export_route_returns_a_markdown_file(http: TestClient) -> None:
    answer = _answer().to_dict()
    one = http.post("/api/v1/export", json={"question": "Who opposed it?", "answer": answer})
    assert one.status_code == 200, one.text
    assert one.headers["content-type"].startswith("text/markdown")
    assert one.headers["content-disposition"] == 'attachment; filename="briefqa-answer.md"'
    assert "## Who opposed it?" in one.text and "p. 3" in one.text

    turns = [{"question": "First?", "answer": answer}, {"question": "Then?", "answer": answer}]
    many = http.post("/api/v1/export", json={"turns": turns, "title": "Our talk"})
    assert many.status_code == 200 and many.text.startswith("# Our talk")
    assert 'filename="briefqa-conversation.md"' in many.headers["content-disposition"]


def test_the_export_route_names_what_is_malformed(http: TestClient) -> None:
    nothing = http.post("/api/v1/export", json={})
    assert nothing.status_code == 422 and "turns" in nothing.text
    empty = http.post("/api/v1/export", json={"turns": []})
    assert empty.status_code == 422 and "nothing to export" in empty.text
    broken = {"turns": [{"question": "Q", "answer": {"answer": "x", "refused": False}}]}
    response = http.post("/api/v1/export", json=broken)
    assert response.status_code == 422
    assert ["body", "turns", 0, "answer", "citations"] in [
        e["loc"] for e in response.json()["detail"]
    ]


def test_the_chat_download_writes_the_conversation(tmp_path: Path) -> None:
    assert export_conversation([], tmp_path) is None
    path = export_conversation([_answer(), replace(_answer(), question="And then?")], tmp_path)
    assert path is not None and path.name == "briefqa-conversation.md"
    text = path.read_text(encoding="utf-8")
    assert "## Q2. And then?" in text and "**References**" in text
    # The same conversation is the same file; a changed one is another.
    assert export_conversation([_answer(), replace(_answer(), question="And then?")], tmp_path)
    assert len(list(tmp_path.iterdir())) in (1, 2)  # the export time may tick over
