"""The chat's rendering: brief text is always escaped; claims, low-confidence answers and
refusals are marked."""

from __future__ import annotations

import io
import sys
import time
from dataclasses import replace
from typing import cast

import pytest

from briefqa import Answer, BriefInfo, BriefQA, Citation, Filters, Hit
from briefqa.cli import main
from briefqa.serve.auth import verify_password
from briefqa.serve.markup import render_answer, render_sources
from briefqa.serve.ui import example_questions

PASSAGE = "Intro. France <b>opposed</b> the office <script>x()</script>. More text."


def _answer(**changes: object) -> Answer:
    quote = "France <b>opposed</b> the office <script>x()</script>."
    start = PASSAGE.index(quote) + 100  # the passage starts at offset 100 of its brief
    hit = Hit("c1", "d1", "Brief <i>One</i>", PASSAGE, 0.9, 100, 100 + len(PASSAGE), "Limits")
    fields: dict[str, object] = {
        "question": "Who <b>opposed</b> it?",
        "text": "France <b>opposed</b> the office [1]. The moon is cheese [1].",
        "citations": (
            Citation(1, "d1", hit.title, "c1", quote, start, start + len(quote), 0.9, 0.5),
        ),
        "sources": (hit,),
        "refused": False,
        "unsupported": ("The moon is cheese",),
        "standalone_question": "Who opposed it?",
        "timings": {},
    }
    fields.update(changes)
    return Answer(**fields)  # type: ignore[arg-type]


def test_answer_markup_escapes_text_links_markers_and_flags_claims() -> None:
    html = render_answer(_answer(), turn=3)
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count('<a class="bq-cite" href="#src-3-1"') == 2
    assert '<span class="bq-unsupported"' in html and "(unsupported)" in html
    assert html.index("bq-unsupported") > html.index("France")


def test_refusal_markup_is_set_apart() -> None:
    html = render_answer(_answer(refused=True, text="The briefs do not cover this question."), 0)
    assert 'class="bq-refusal"' in html and "bq-cite" not in html


def test_sources_highlight_the_quote_at_its_offsets_and_escape_everything() -> None:
    info = BriefInfo("d1", "Brief One", "7/2024", "2024-03-05", "txt", "0", (), 1, (), "")
    html = render_sources([_answer()], {"d1": info})
    assert 'id="src-0-1"' in html
    assert '<mark class="bq-quote">France &lt;b&gt;opposed&lt;/b&gt; the office' in html
    assert "<script>" not in html and "<i>One" not in html and "<b>opposed" not in html
    assert "No. 7/2024 · 2024-03-05 · Limits" in html and "support 0.90" in html


def test_an_extracted_sentence_shows_the_readers_answer_score() -> None:
    """An extracted sentence supports itself: its card shows how sure the reading model
    is that it answers the question instead of a support of 1.00."""
    answer = _answer()
    read = replace(answer, citations=(replace(answer.citations[0], answer_score=0.87),))
    html = render_sources([read], {})
    assert "answers the question: 0.87" in html and "support 0.90" not in html


def test_earlier_turns_fold_and_refusals_list_nearest() -> None:
    refused = _answer(refused=True, citations=(), sources=(), nearest=_answer().sources)
    html = render_sources([_answer(), refused], {})
    assert html.index('id="bq-turn-1"') < html.index('<details class="bq-turn" id="bq-turn-0"')
    assert 'class="bq-source bq-nearest"' in html


NEAR = Hit("c2", "d1", "Brief <i>One</i>", "Japan <em>offered</em> aid.", 0.4, 300, 327, "Aid")
# A brief's "about card": its manifest fields as a passage, cited from offset 0.
ABOUT = Hit(
    "d1#about", "d1", "Brief <i>One</i>", "Title: Brief <i>One</i>\nNumber: 7/2024", 1.0, 0, 36,
    "About this brief",
)  # fmt: skip


def test_nearest_passages_are_listed_nearest_first() -> None:
    far = replace(NEAR, chunk_id="c3", text="Far away.", dense=0.21)
    near = replace(NEAR, dense=0.64)
    refused = _answer(refused=True, outcome="refused", citations=(), sources=(),
                      nearest=(far, near))  # fmt: skip
    panel = render_sources([refused], {})
    assert panel.index("similarity 0.64") < panel.index("similarity 0.21")


def test_low_confidence_answer_has_a_banner_citations_and_nearest_passages() -> None:
    unsure = _answer(outcome="low_confidence", nearest=(*_answer().sources, NEAR))
    html = render_answer(unsure, turn=2)
    assert 'class="bq-low"' in html and "Low confidence — check the sources" in html
    # The banner is its own HTML block; the answer below it is still Markdown with links.
    assert html.index("bq-low") < html.index("\n\nFrance &lt;b&gt;opposed")
    assert html.count('<a class="bq-cite" href="#src-2-1"') == 2 and "<b>" not in html
    assert "bq-low" not in render_answer(_answer(), 2), "a sure answer has no banner"

    panel = render_sources([unsure], {})
    assert "Low confidence" in panel and 'id="src-0-1"' in panel and "<mark" in panel
    # The nearest passages not already cited follow, escaped.
    assert panel.count('class="bq-source bq-nearest"') == 1
    assert "Japan &lt;em&gt;offered&lt;/em&gt; aid." in panel and "<em>" not in panel


def test_refusal_shows_its_own_words_escaped() -> None:
    text = "“Brief <b>One</b>” (No. 7/2024) does not give the names of its authors."
    refused = _answer(
        refused=True, outcome="refused", kind="brief", text=text, citations=(), sources=(),
        unsupported=(), nearest=(ABOUT,),
    )  # fmt: skip
    html = render_answer(refused, 0)
    assert 'class="bq-refusal"' in html and "bq-low" not in html and "bq-cite" not in html
    assert "“Brief &lt;b&gt;One&lt;/b&gt;” (No. 7/2024) does not give" in html
    assert "do not cover" not in html and "<b>" not in html
    panel = render_sources([refused], {})
    assert "does not give the names" in panel and "do not cover" not in panel
    assert 'id="bq-near-0-1"' in panel and "Number: 7/2024" in panel
    assert "About this brief" in panel and "<i>" not in panel
    alone = render_answer(replace(refused, nearest=()), 0)
    assert "listed beside" not in alone, "no passages to point at"


def test_citations_of_the_about_card_highlight_its_lines() -> None:
    quote = "Number: 7/2024"
    start = ABOUT.text.index(quote)
    cite = Citation(1, "d1", ABOUT.title, ABOUT.chunk_id, quote, start, start + len(quote), 1, 1)
    dated = _answer(text="It is number 7/2024 [1].", citations=(cite,), sources=(ABOUT,),
                    unsupported=(), kind="brief")  # fmt: skip
    panel = render_sources([dated], {})
    assert '<mark class="bq-quote">Number: 7/2024</mark>' in panel


class _Archive:
    """Just enough of BriefQA for example_questions: answers scripted by question."""

    def __init__(self, docs: list[BriefInfo], outcomes: dict[str, Answer]) -> None:
        self.docs, self.outcomes = docs, outcomes
        self.asked: list[tuple[str, Filters | None]] = []

    def documents(self) -> list[BriefInfo]:
        return self.docs

    def ask(self, question: str, filters: Filters | None = None) -> Answer:
        self.asked.append((question, filters))
        # By default a sure answer citing the brief the question names.
        doc_id = next((d.doc_id for d in self.docs if d.title in question), self.docs[0].doc_id)
        cited = replace(_answer().citations[0], doc_id=doc_id)
        return self.outcomes.get(question, _answer(unsupported=(), citations=(cited,)))


def test_examples_name_their_brief_and_keep_only_sure_answers_from_it() -> None:
    one = BriefInfo("d1", "Brief One", "7", "2024-03-05", "txt", "0", ("Aid", "Limits"), 1, (), "")
    two = BriefInfo("d2", "Brief Two", None, None, "txt", "0", ("Outlook",), 1, (), "")
    unsure = _answer(unsupported=(), outcome="low_confidence")
    elsewhere = _answer(unsupported=(), citations=(replace(_answer().citations[0], doc_id="d2"),))
    archive = _Archive(
        [one, two],
        {
            "What does brief 7 say about aid?": unsure,
            "What does brief 7 say about limits?": elsewhere,
        },
    )
    found = example_questions(cast(BriefQA, archive), limit=3)
    assert found == [
        "What is brief 7 about?",
        "What is “Brief Two” about?",
        "What does “Brief Two” say about outlook?",  # brief 7's sections: unsure, elsewhere
    ]
    assert all(filters is None for _, filters in archive.asked), "asked as a user would"
    single = _Archive([two], {})
    assert example_questions(cast(BriefQA, single), limit=1) == ["What is this brief about?"]


def test_hash_password_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("tr0ub4dor\n"))
    assert main(["hash-password", "bob"]) == 0
    user, _, hashed = capsys.readouterr().out.strip().partition(":")
    assert user == "bob" and verify_password("tr0ub4dor", hashed)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["hash-password", "bob"]) == 2
    assert "empty" in capsys.readouterr().err


def test_a_second_session_adding_the_same_file_is_told_what_the_first_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Gradio caches one file for the same bytes and name: the first session's add deletes
    it, and the second session's turn then gets the first's result, waiting for it while
    the first is still indexing, not an error."""
    import threading

    from briefqa.serve import ui

    recent = ui._RecentUploads(keep_s=60)
    recent.begin("/cache/abc/arctic.md")
    later = threading.Timer(
        0.2, recent.finish, ("/cache/abc/arctic.md", "indexed: Arctic (3 chunks)")
    )
    later.start()
    assert recent.result("/cache/abc/arctic.md", wait_s=10) == "indexed: Arctic (3 chunks)"
    assert recent.result("/cache/def/arctic.md") is None
    recent.begin("/cache/ghi/broken.md")
    recent.finish("/cache/ghi/broken.md", None)  # the first add failed: say so
    assert "could not be added" in str(recent.result("/cache/ghi/broken.md"))
    clock = [time.monotonic() + 61]  # a minute on (an hour in the server): forgotten
    monkeypatch.setattr(ui.time, "monotonic", lambda: clock[0])
    assert recent.result("/cache/abc/arctic.md") is None


def test_a_worker_takes_the_conversation_the_browser_has_open(tmp_path: object) -> None:
    """A chat event on a worker whose own session is missing, or is of another
    conversation than the browser shows (it served the browser before a failover and
    back), continues the conversation the browser has open; a new chat is new."""
    from briefqa.serve.ui import _NO_CONVERSATION, _recovered

    qa = BriefQA(tmp_path / "data")  # type: ignore[operator]
    store = qa.conversations
    first = store.start("alice", _answer(question="First?"))
    second = store.start("alice", _answer(question="Second?"))
    store.add("alice", second.id, _answer(question="And then?"))
    stale = {"answers": [_answer(question="First?")], "by_message": {1: 0},
             "conversation": first.id, "stored": {0: 0}, "rated": None}  # fmt: skip
    assert _recovered(qa, stale, first.id, "alice") is stale  # its own: kept as it is
    assert _recovered(qa, stale, None, "alice") is stale  # an API caller says nothing
    taken = _recovered(qa, stale, second.id, "alice")
    assert taken["conversation"] == second.id
    assert [a.question for a in taken["answers"]] == ["Second?", "And then?"]
    assert _recovered(qa, None, second.id, "alice")["conversation"] == second.id
    for fresh in (_recovered(qa, stale, _NO_CONVERSATION, "alice"),
                  _recovered(qa, None, second.id, "bob")):  # fmt: skip
        assert fresh["answers"] == [] and fresh.get("conversation") is None
    store.delete("alice", second.id)
    assert _recovered(qa, None, second.id, "alice")["answers"] == []
    qa.close()
