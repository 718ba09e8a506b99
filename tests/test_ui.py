"""The chat's rendering: brief text is always escaped, claims and refusals are marked."""

from __future__ import annotations

import io
import sys

import pytest

from briefqa import Answer, BriefInfo, Citation, Hit
from briefqa.auth import verify_password
from briefqa.cli import main
from briefqa.ui import render_answer, render_sources

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


def test_earlier_turns_fold_and_refusals_list_nearest() -> None:
    refused = _answer(refused=True, citations=(), sources=(), nearest=_answer().sources)
    html = render_sources([_answer(), refused], {})
    assert html.index('id="bq-turn-1"') < html.index('<details class="bq-turn" id="bq-turn-0"')
    assert 'class="bq-source bq-nearest"' in html


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
