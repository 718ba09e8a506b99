"""Structure-aware chunking: section → paragraph → sentence-aligned windows.

Chunks never cross a section boundary, end on sentence boundaries, overlap by whole
sentences, and always fit the embedding model: a chunk's embedding text (title and
section heading included) never exceeds the model's word-piece limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..schema import Brief, Chunk
from ..text import sentence_spans

TokenCounter = Callable[[Sequence[str]], list[int]]

_NOTES = -2  # the group key of a brief's notes (heading groups are block positions)


@dataclass(frozen=True)
class _Unit:
    """A sentence (or a piece of an over-long sentence) with its paragraph."""

    start: int
    end: int
    tokens: int
    paragraph: int
    page: int | None


def chunk_id(doc_id: str, start: int, text: str) -> str:
    """The content-derived id of the passage ``text`` at ``start`` in brief ``doc_id``."""
    digest = hashlib.sha256(f"{doc_id}\0{start}\0{text}".encode()).hexdigest()
    return f"{doc_id}-{digest[:12]}"


def chunk_brief(
    brief: Brief,
    count_tokens: TokenCounter,
    *,
    max_tokens: int,
    target_tokens: int = 160,
    overlap_tokens: int = 40,
) -> list[Chunk]:
    """Split a brief into chunks.

    Args:
        count_tokens: the embedding model's word-piece counter (batch).
        max_tokens: hard limit of the model, special tokens excluded.
        target_tokens: preferred chunk size; windows close once they reach it.
        overlap_tokens: most word pieces of whole trailing sentences repeated in the
            next window of the same section.
    """
    # Group paragraphs by the heading block they follow (its position, not its text):
    # two sections with the same heading are still two sections.
    groups: dict[int, list[_Unit]] = {}
    labels: dict[int, str | None] = {}
    owner: dict[int, int] = {}  # paragraph block -> heading block (-1: before any)
    spans: list[tuple[int, int, int, int | None]] = []  # start, end, paragraph, page
    heading = -1
    for number, block in enumerate(brief.blocks):
        if block.kind == "heading":
            heading = number
            continue
        if block.kind == "meta":
            continue
        # Notes form a group of their own after the body, whatever heading came last.
        group = _NOTES if block.kind == "note" else heading
        owner[number] = group
        labels.setdefault(group, block.section)
        if block.kind == "table":  # a row is one unit: its cells may hold full stops
            spans.append((block.start, block.end, number, block.page))
            continue
        for start, end in sentence_spans(brief.text, block.start, block.end):
            spans.append((start, end, number, block.page))
    counts = count_tokens([brief.text[s:e] for s, e, _, _ in spans])
    headings = {
        group: _fit_heading(brief, label, count_tokens, max_tokens)
        for group, label in labels.items()
    }

    for (start, end, paragraph, page), tokens in zip(spans, counts, strict=True):
        group = owner[paragraph]
        budget = max_tokens - headings[group][2]
        for piece in _fit(brief.text, start, end, tokens, budget, count_tokens):
            groups.setdefault(group, []).append(_Unit(*piece, paragraph, page))

    chunks: list[Chunk] = []
    for group, units_of_group in groups.items():
        title, section, cost = headings[group]
        budget = max_tokens - cost
        target = min(target_tokens, budget)
        for first, last in _windows(units_of_group, target, budget, overlap_tokens):
            units = units_of_group[first : last + 1]
            start, end = units[0].start, units[-1].end
            text = brief.text[start:end]
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(brief.doc_id, start, text),
                    doc_id=brief.doc_id,
                    index=len(chunks),
                    text=text,
                    start=start,
                    end=end,
                    title=title,
                    section=section,
                    page=units[0].page,
                )
            )
    return chunks


def _heading_cost(title: str, section: str | None, count_tokens: TokenCounter) -> int:
    """Word pieces the embedding-text heading (title and section) adds to a chunk."""
    probe = Chunk("", "", 0, "", 0, 0, title, section).embedding_text
    return count_tokens([probe])[0]


def _fit_heading(
    brief: Brief, section: str | None, count_tokens: TokenCounter, max_tokens: int
) -> tuple[str, str | None, int]:
    """The title and section label a chunk carries, and their cost in word pieces.

    Normally the brief's own; a heading too long for the model (more than a quarter of
    ``max_tokens``) is shortened so that at least three quarters stay for the passage.
    """
    title = brief.title
    cost = _heading_cost(title, section, count_tokens)
    cap = max_tokens // 4
    if cost > cap:
        if section:
            # The title gets up to half of the allowance, the section what is left.
            title = _shorten(title, lambda t: _heading_cost(t, None, count_tokens) <= cap // 2)
            section = _shorten(section, lambda s: _heading_cost(title, s, count_tokens) <= cap)
        else:
            title = _shorten(title, lambda t: _heading_cost(t, None, count_tokens) <= cap)
        cost = _heading_cost(title, section, count_tokens)
    if max_tokens - cost <= 0:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for a chunk's text")
    return title, section, cost


def _shorten(text: str, fits: Callable[[str], bool]) -> str:
    """The longest prefix of ``text`` (whole words where possible, then "…") that fits."""
    if fits(text):
        return text
    words = text.split()
    lo, hi = 0, len(words) - 1  # the most words that fit lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]) + "…"):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return " ".join(words[:lo]) + "…"
    first = words[0] if words else ""
    lo, hi = 0, len(first) - 1  # a single over-long word (a URL): cut inside it
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(first[:mid] + "…"):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return first[:lo] + "…"
    return "…" if fits("…") else ""


def _fit(
    text: str, start: int, end: int, tokens: int, budget: int, count_tokens: TokenCounter
) -> list[tuple[int, int, int]]:
    """Split a sentence longer than the budget at word boundaries; else keep it whole."""
    if tokens <= budget:
        return [(start, end, tokens)]
    words: list[tuple[int, int]] = []
    position = start
    for word in text[start:end].split():
        begin = text.index(word, position)
        position = begin + len(word)
        words.append((begin, position))
    word_tokens = count_tokens([text[s:e] for s, e in words])
    pieces: list[tuple[int, int, int]] = []
    piece_start, used = words[0][0], 0
    piece_end = piece_start
    for (w_start, w_end), cost in zip(words, word_tokens, strict=True):
        if used and used + cost > budget:
            pieces.append((piece_start, piece_end, used))
            piece_start, used = w_start, 0
        if cost > budget:  # a single "word" longer than the model (a URL, a hash)
            cost = budget
        used += cost
        piece_end = w_end
    pieces.append((piece_start, piece_end, used))
    return pieces


def _windows(units: list[_Unit], target: int, budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy sentence windows: fill to ``target`` (never past ``budget``), then start
    the next window with the trailing sentences that fit in ``overlap``."""
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        used = 0
        last = first
        while last < len(units):
            cost = units[last].tokens
            if used and used + cost > budget:
                break
            used += cost
            last += 1
            if used >= target:
                break
        windows.append((first, last - 1))
        if last >= len(units):
            break
        # Step back over whole sentences for the overlap, but always move forward. The
        # carried sentences must stay under the target and leave budget for the next new
        # one: otherwise the next window closed on them alone, a copy of this one's tail.
        back, carried = last, 0
        while back - 1 > first:
            cost = carried + units[back - 1].tokens
            if cost > overlap or cost >= target or cost + units[last].tokens > budget:
                break
            back -= 1
            carried = cost
        first = back
    return windows
