"""The chat's markup, shared by the live chat (:mod:`briefqa.serve.ui`) and a shared
conversation's read-only page: answers with clickable citations, flagged claims and the
three outcomes set apart, and the sources panel's cards.

Everything a brief contributes (titles, passages, quotes, answers) is escaped here:
brief text is data, never markup. A card whose brief has since been removed still shows
the passage as it was quoted, marked "source removed".
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Sequence

from briefqa import Answer, BriefInfo, BriefQA, Citation, Conversation, Hit, NotFound, section_label

CSS = """
.bq-cite { font-weight: 600; text-decoration: none; cursor: pointer; padding: 0 1px; }
.bq-unsupported { text-decoration: underline wavy #c2410c; text-underline-offset: 3px; }
.bq-flag { color: #c2410c; font-size: 0.85em; }
.bq-refusal { border-left: 4px solid #6b7280; padding: 4px 10px; background: #f3f4f6;
  color: #374151; font-style: italic; }
.bq-low { border: 1px dashed #b45309; border-left: 4px solid #b45309; padding: 4px 10px;
  background: #fffbeb; color: #78350f; margin-bottom: 6px; }
.bq-sources { font-size: 0.92em; }
.bq-turn h4 { margin: 10px 0 6px; }
.bq-source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px;
  margin-bottom: 8px; scroll-margin: 40px; }
.bq-source.bq-active { border-color: #2563eb; box-shadow: 0 0 0 3px #bfdbfe; }
.bq-source.bq-nearest { border-style: dashed; }
.bq-meta { color: #6b7280; font-size: 0.9em; }
.bq-passage { margin-top: 6px; line-height: 1.45; white-space: pre-wrap; }
.bq-passage mark { background: #fde68a; padding: 0 1px; }
.bq-source.bq-active mark { background: #fbbf24; }
.bq-score { color: #6b7280; font-size: 0.85em; margin-top: 4px; }
.bq-title { font-size: 1.5em; font-weight: 600; margin: 4px 0 0; }
.bq-gone { color: #b91c1c; font-weight: 600; }
#bq-history .wrap { flex-direction: column; }
#bq-share-link a { word-break: break-all; }
/* The tables hold titles, file names and results, not code: the page's font, words
   kept whole. */
#bq-briefs, #bq-upload-result { --font-mono: var(--font); }
#bq-briefs td, #bq-upload-result td { word-break: normal; overflow-wrap: break-word; }
"""

# Above a low-confidence answer: words first (not only colour), then where to look.
LOW_CONFIDENCE = (
    '<div class="bq-low" role="note"><strong>⚠ Low confidence — check the sources.</strong> '
    "The passages found may not answer this question; the cited and the nearest passages "
    "are listed beside the chat.</div>"
)

EMPTY_SOURCES = (
    '<div class="bq-sources"><p class="bq-meta">Sources of each answer appear here. '
    "Click a citation such as [1] to see the sentence it rests on.</p></div>"
)
_MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def render_answer(answer: Answer, turn: int) -> str:
    """An answer as chat markup: escaped text, clickable citations, flagged claims.

    A refusal is set apart in its own words ("The briefs do not cover this question.",
    or what the brief lacks); a low-confidence answer comes under :data:`LOW_CONFIDENCE`.
    """
    if answer.refused:
        nearest = (
            " The closest passages found are listed beside the chat; none answers it."
            if answer.nearest
            else ""
        )
        return f'<div class="bq-refusal">{html.escape(answer.text)}{nearest}</div>'
    body = _answer_text(answer, turn)
    # The blank line ends the banner's HTML block, so the answer is read as Markdown.
    return f"{LOW_CONFIDENCE}\n\n{body}" if answer.low_confidence else body


def _answer_text(answer: Answer, turn: int) -> str:
    text = answer.text
    flagged: list[tuple[int, int]] = []
    for claim in answer.unsupported:
        at = text.find(claim)
        if at >= 0:
            flagged.append((at, at + len(claim)))
    out: list[str] = []
    cursor = 0
    for start, end in sorted(flagged):
        if start < cursor:
            continue
        out.append(_with_links(text[cursor:start], turn))
        out.append(
            '<span class="bq-unsupported" title="No cited passage supports this sentence">'
            f"{_with_links(text[start:end], turn)}</span>"
            ' <span class="bq-flag">(unsupported)</span>'
        )
        cursor = end
    out.append(_with_links(text[cursor:], turn))
    if answer.preface:  # which brief of several answered: its own paragraph, above
        out.insert(0, f'<p class="bq-meta">{html.escape(answer.preface)}</p>\n\n')
    return "".join(out)


def render_sources(answers: Sequence[Answer], briefs: dict[str, BriefInfo]) -> str:
    """The sources panel: the latest answer's passages first, earlier turns folded."""
    if not answers:
        return EMPTY_SOURCES
    parts = ['<div class="bq-sources">']
    for turn in range(len(answers) - 1, -1, -1):
        answer = answers[turn]
        body = _turn_sources(answer, turn, briefs)
        heading = f"<h4>Q{turn + 1}: {html.escape(answer.question)}</h4>"
        if turn == len(answers) - 1:
            parts.append(f'<section class="bq-turn" id="bq-turn-{turn}">{heading}{body}</section>')
        else:
            parts.append(
                f'<details class="bq-turn" id="bq-turn-{turn}"><summary>'
                f"Q{turn + 1}: {html.escape(answer.question)}</summary>{body}</details>"
            )
    parts.append("</div>")
    return "".join(parts)


def _turn_sources(answer: Answer, turn: int, briefs: dict[str, BriefInfo]) -> str:
    if answer.refused:
        intro = (
            f'<p class="bq-meta">{html.escape(answer.text)} Nearest passages (not an answer):</p>'
            if answer.nearest
            else f'<p class="bq-meta">{html.escape(answer.text)} No passage came close.</p>'
        )
        return intro + _nearest(answer, turn, briefs, skip=set())
    cited = _cited_cards(answer, turn, briefs)
    if not answer.low_confidence:
        return cited
    # The reader is asked to check: what was cited, then the other passages nearest
    # the question, which may hold the answer instead.
    skip = {c.chunk_id for c in answer.citations}
    others = _nearest(answer, turn, briefs, skip=skip)
    return (
        '<p class="bq-meta bq-low-note"><b>Low confidence:</b> check that these passages '
        "answer the question.</p>"
        + cited
        + ('<p class="bq-meta">Other nearest passages:</p>' + others if others else "")
    )


def _nearest(answer: Answer, turn: int, briefs: dict[str, BriefInfo], skip: set[str]) -> str:
    # Nearest first: a refusal's passages come in the gate's order, not by score.
    hits = sorted(
        (hit for hit in answer.nearest if hit.chunk_id not in skip),
        key=lambda h: (h.dense is None, -(h.dense or 0.0), -h.score),  # as each card shows
    )
    return "".join(
        _card(f"bq-near-{turn}-{i}", hit, [], briefs, label=f"{i}.", extra=" bq-nearest")
        for i, hit in enumerate(hits, 1)
    )


def _cited_cards(answer: Answer, turn: int, briefs: dict[str, BriefInfo]) -> str:
    if not answer.citations:
        return '<p class="bq-meta">This answer cites no passage.</p>'
    by_n: dict[int, list[Citation]] = {}
    for citation in answer.citations:
        by_n.setdefault(citation.n, []).append(citation)
    hits = {hit.chunk_id: hit for hit in answer.sources}
    cards = []
    for n, cites in sorted(by_n.items()):
        hit = hits.get(cites[0].chunk_id)
        if hit is not None:
            cards.append(_card(f"src-{turn}-{n}", hit, cites, briefs, label=f"[{n}]"))
    return "".join(cards)


def _card(
    element_id: str,
    hit: Hit,
    citations: Sequence[Citation],
    briefs: dict[str, BriefInfo],
    *,
    label: str,
    extra: str = "",
) -> str:
    info = briefs.get(hit.doc_id)
    meta = [
        # The answer was kept: the passage is shown as quoted then, its brief gone since.
        "source removed" if hit.doc_id not in briefs else "",
        f"No. {info.number}" if info and info.number else "",
        info.date if info and info.date else "",
        ", ".join(info.authors) if info else "",
        section_label(hit.section),
        f"p. {hit.page}" if hit.page else "",
    ]
    # Quote offsets are in the brief's text; the passage starts at hit.start.
    spans = sorted(
        {(c.start - hit.start, c.end - hit.start) for c in citations if c.start >= hit.start}
    )
    passage: list[str] = []
    cursor = 0
    for start, end in spans:
        if start < cursor or end > len(hit.text):
            continue
        passage.append(html.escape(hit.text[cursor:start]))
        passage.append(f'<mark class="bq-quote">{html.escape(hit.text[start:end])}</mark>')
        cursor = end
    passage.append(html.escape(hit.text[cursor:]))
    if citations:
        read = [c.answer_score for c in citations if c.answer_score is not None]
        # An extracted sentence supports itself (1.00 says nothing): what a reader wants
        # to know is how sure the reading model is that it answers the question.
        score = (
            f"answers the question: {max(read):.2f} · passage score {citations[0].score:.3f}"
            if read
            else f"support {max(c.support for c in citations):.2f} · "
            f"retrieval score {citations[0].score:.3f}"
        )
    else:
        score = f"similarity {hit.dense:.2f}" if hit.dense is not None else ""
    return (
        f'<div class="bq-source{extra}" id="{element_id}" tabindex="-1">'
        f"<div><b>{html.escape(label)} {html.escape(hit.title)}</b></div>"
        f'<div class="bq-meta">{html.escape(" · ".join(m for m in meta if m))}</div>'
        f'<div class="bq-passage">{"".join(passage)}</div>'
        f'<div class="bq-score">{score}</div></div>'
    )


def _with_links(text: str, turn: int) -> str:
    out: list[str] = []
    cursor = 0
    for match in _MARKER.finditer(text):
        out.append(plain_markdown(text[cursor : match.start()]))
        n = match.group(1)
        out.append(
            f'<a class="bq-cite" href="#src-{turn}-{n}" '
            f'title="Show the passage cited as [{n}]">[{n}]</a>'
        )
        cursor = match.end()
    out.append(plain_markdown(text[cursor:]))
    return "".join(out)


def plain_markdown(text: str) -> str:
    """Plain text made safe for the chat's Markdown renderer: HTML escaped, Markdown
    punctuation backslash-escaped, so brief text always shows as written."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def brief_index(qa: BriefQA, answers: Sequence[Answer]) -> dict[str, BriefInfo]:
    """Number and date of the briefs the answers show, looked up one by one: reading
    the whole archive's list for every answer would grow with the archive."""
    index = {}
    for doc_id in {h.doc_id for a in answers for h in (*a.sources, *a.nearest)}:
        with contextlib.suppress(NotFound):  # removed since it was cited
            index[doc_id] = qa.brief(doc_id)
    return index


def shared_page(conversation: Conversation, briefs: dict[str, BriefInfo]) -> str:
    """A conversation as a read-only HTML page: each question, its answer with citation
    links to the cards below it, and those cards."""
    parts = []
    for turn in conversation.turns:
        answer, n = turn.answer, turn.number
        if answer.refused:
            shown = f'<div class="bq-refusal">{html.escape(answer.text)}</div>'
        else:
            text = _MARKER.sub(rf'<a class="bq-cite" href="#src-{n}-\1">[\1]</a>',
                               html.escape(answer.text))  # fmt: skip
            preface = (
                f'<p class="bq-meta">{html.escape(answer.preface)}</p>' if answer.preface else ""
            )
            shown = (LOW_CONFIDENCE if answer.low_confidence else "") + preface + f"<p>{text}</p>"
        parts.append(
            f'<section class="bq-shared-turn"><h2>{html.escape(answer.question)}</h2>{shown}'
            f'<div class="bq-sources">{_turn_sources(answer, n, briefs)}</div></section>'
        )
    title = html.escape(conversation.title)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} — briefqa</title><style>{CSS}{_SHARED_CSS}</style></head><body>"
        f'<header><p class="bq-meta">A conversation shared read-only by '
        f"{html.escape(conversation.user)}, last continued {conversation.updated[:10]}</p>"
        f'<h1 class="bq-title">{title}</h1></header>{"".join(parts)}'
        '<p class="bq-meta"><a href="./..">Open the chat</a></p></body></html>'
    )


_SHARED_CSS = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
  padding: 0 1rem; color: #111827; }
.bq-shared-turn { border-top: 1px solid #e5e7eb; margin-top: 1.5rem; }
.bq-shared-turn h2 { font-size: 1.1em; }
"""
