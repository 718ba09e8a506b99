"""Answers as Markdown, for keeping or sharing: the question, the answer with its ``[n]``
markers, and numbered references (title, date, section, page, authors, the quote).

Brief text is data: every piece of it is escaped, so a title or a quote holding
Markdown or HTML (``**``, ``<script>``, ``[x](http://…)``, a line starting with ``#``)
shows as written and never turns into markup, a link or a heading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from .schema import Answer, Citation, Hit

# CommonMark's inline specials, escaped wherever they occur ("&" for entities, "<" for
# HTML and autolinks); "#", ">", "-", "+", "=" and "1." only matter at a line's start.
_INLINE = re.compile(r"([\\`*_\[\]<&|~])")
_LINE_START = re.compile(r"^([#>+=-]|\d+(?=[.)]))")
_MARKER = re.compile(r"\[(\d+)\]")


def export_markdown(
    answers: Answer | Sequence[Answer],
    *,
    title: str | None = None,
    exported: datetime | None = None,
) -> str:
    """One answer, or a conversation's answers in order, as a Markdown document.

    Each turn shows its question (:attr:`Answer.question`), the answer text with its
    ``[n]`` markers, and the references those markers point to; a low-confidence answer
    says to check its sources, and a refusal says that the briefs do not cover the
    question. ``title`` defaults to "briefqa answer" for one answer and "briefqa
    conversation" for several; ``exported`` (default: now) is stated under it, in UTC.
    """
    turns = [answers] if isinstance(answers, Answer) else list(answers)
    title = title or ("briefqa answer" if len(turns) == 1 else "briefqa conversation")
    when = (exported or datetime.now(UTC)).astimezone(UTC)
    lines = [f"# {escape(title)}", "", f"Exported from briefqa on {when:%Y-%m-%d %H:%M} UTC."]
    for number, answer in enumerate(turns, 1):
        lines += ["", *_turn(number, answer, numbered=len(turns) > 1)]
    return "\n".join(lines).rstrip() + "\n"


def escape(text: str, *, markers: bool = False) -> str:
    """``text`` made literal for Markdown: inline specials backslash-escaped, line-start
    markers (headings, quotes, lists) neutralised, indentation (code blocks) dropped.
    With ``markers``, citation markers ``[n]`` stay as they are."""
    out = []
    for line in text.splitlines() or [""]:
        line = line.strip()
        parts: list[str] = []
        cursor = 0
        for match in _MARKER.finditer(line) if markers else ():
            parts += [_INLINE.sub(r"\\\1", line[cursor : match.start()]), match.group(0)]
            cursor = match.end()
            # "[1](x)" would be a link and "[1]: x" a link definition: break them up.
            if line[cursor : cursor + 1] in ("(", ":"):
                parts.append("\\")
        parts.append(_INLINE.sub(r"\\\1", line[cursor:]))
        out.append(_LINE_START.sub(lambda m: _start_escape(m.group(1)), "".join(parts)))
    return "\n".join(out)


def _start_escape(mark: str) -> str:
    # "1." must become "1\." (the digit itself cannot be escaped).
    return mark + "\\" if mark[0].isdigit() else "\\" + mark


def _turn(number: int, answer: Answer, *, numbered: bool) -> list[str]:
    question = " ".join(answer.question.split()) or "(no question)"
    heading = f"## Q{number}. {escape(question)}" if numbered else f"## {escape(question)}"
    lines = [heading, ""]
    if answer.refused:
        lines.append(f"**Not answered:** {escape(answer.text)}")
        lines += _nearest(answer.nearest, "Nearest passages found (none answers the question):")
        return lines
    if answer.low_confidence:
        lines += [
            "> **Low confidence — check the sources.** The passages found may not answer "
            "this question.",
            "",
        ]
    if answer.preface:
        lines += [f"*{escape(answer.preface)}*", ""]
    lines.append(escape(answer.text, markers=True))
    if answer.unsupported:
        lines += ["", "Not supported by the cited passages:", ""]
        lines += [f"- {escape(claim)}" for claim in answer.unsupported]
    lines += _references(answer.citations)
    if answer.low_confidence:
        cited = {c.chunk_id for c in answer.citations}
        others = [h for h in answer.nearest if h.chunk_id not in cited]
        lines += _nearest(others, "Other passages near the question:")
    return lines


def _references(citations: Sequence[Citation]) -> list[str]:
    if not citations:
        return []
    by_n: dict[int, list[Citation]] = {}
    for citation in citations:
        by_n.setdefault(citation.n, []).append(citation)
    lines = ["", "**References**", ""]
    for n, cites in sorted(by_n.items()):
        first = cites[0]
        details = [
            f"No. {first.number}" if first.number else "",
            first.date or "",
            f"section “{first.section}”" if first.section else "",
            f"p. {first.page}" if first.page else "",
            ", ".join(first.authors),
        ]
        meta = " · ".join(escape(d) for d in details if d)
        lines.append(f"{n}. **{escape(first.title)}**" + (f" — {meta}" if meta else ""))
        seen: set[str] = set()
        for citation in cites:
            if citation.quote in seen:
                continue
            seen.add(citation.quote)
            indent = " " * len(f"{n}. ")  # inside the list item
            lines += [
                "",
                *(f"{indent}> {line}".rstrip() for line in escape(citation.quote).splitlines()),
            ]
        lines.append("")
    return lines[:-1]


def _nearest(hits: Sequence[Hit], heading: str) -> list[str]:
    if not hits:
        return []
    lines = ["", heading, ""]
    for hit in hits:
        where = " · ".join(
            escape(d) for d in (hit.section or "", f"p. {hit.page}" if hit.page else "") if d
        )
        lines.append(f"- **{escape(hit.title)}**" + (f" — {where}" if where else ""))
    return lines
