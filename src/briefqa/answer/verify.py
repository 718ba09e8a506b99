"""Citation verification: does the cited passage support the sentence citing it?

Every answer, whatever produced it, goes through :func:`verify`. Each answer sentence is
compared with the sentences of the chunk(s) it cites, by meaning (embedding cosine) and
by wording (share of the sentence's content words found in the passage); numbers in the
sentence that the passage does not contain count heavily against it. The best matching
passage sentence becomes the citation's quote, located by offsets in the brief's text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..index.embeddings import Embedder, Vectors
from ..schema import Citation, Hit
from ..text import content_terms, names, sentence_spans, term_overlap, with_marker
from .passages import passage_sentences, split_markers, squash

#: Below this support a sentence is reported as unsupported. Set on hand-written claims
#: about the seed brief (evals/support_claims.jsonl): faithful paraphrases scored
#: 0.46–0.93 (6 of 7 at or above 0.5), invented claims 0.17–0.70. Claims that reuse the
#: passage's words but reverse its meaning ("France proposed the office") still pass:
#: catching those needs an entailment model, which is not available offline.
SUPPORT_THRESHOLD = 0.5

# Markers written after the full stop ("... Tokyo. [1] Next") belong to the sentence before.
_TRAILING_MARKERS = re.compile(r"([.!?…][\"'”’)]*)((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    unsupported: tuple[str, ...]
    cited: tuple[int, ...]  # context indexes; display number n is cited[n - 1] + 1


def support(claim: str, claim_vector: Vectors, passage: str, passage_vector: Vectors) -> float:
    """How well ``passage`` supports ``claim``, 0–1."""
    overlap = term_overlap(claim, passage)
    cosine = max(0.0, float(claim_vector @ passage_vector))
    score = 0.5 * cosine + 0.5 * overlap
    missing = set(_NUMBER.findall(claim)) - set(_NUMBER.findall(passage))
    if missing:  # a figure the passage does not state is the typical invented detail
        score *= 0.5
    return min(1.0, score)


def verify(draft: str, hits: Sequence[Hit], embedder: Embedder) -> Verified:
    """Check every citation of ``draft`` against ``hits`` (the numbered context, 1-based).

    Markers outside ``1..len(hits)`` are dropped from the text. A sentence is
    unsupported when it cites nothing or its best citation's support is below
    :data:`SUPPORT_THRESHOLD`.
    """
    draft = _TRAILING_MARKERS.sub(r"\2\1", draft)
    spans = list(sentence_spans(draft))
    claims: list[tuple[str, list[int]]] = []
    # What goes before each claim in the answer: a space, or the blank line that set a
    # table row or a list item on its own line in the draft.
    gaps: list[str] = []
    previous = 0
    for start, end in spans:
        clean, numbers = split_markers(draft[start:end])
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= len(hits)))
        if clean:
            claims.append((clean, valid))
            gaps.append("\n\n" if gaps and "\n\n" in draft[previous:start] else " ")
        previous = end
    sentences = passage_sentences(hits)
    sentence_vectors = embedder.embed([s.text for s in sentences])
    # A claim quoted from a passage (every extractive one) reuses that sentence's vector,
    # even when only spacing differs ("sent ." in tokenised text); others are encoded.
    known = {squash(s.text): v for s, v in zip(sentences, sentence_vectors, strict=True)}
    fresh = [c for c, _ in claims if squash(c) not in known]
    if fresh:
        known.update(zip(map(squash, fresh), embedder.embed(fresh), strict=True))
    claim_vectors = [known[squash(c)] for c, _ in claims]

    # Markers are renumbered in order of first use, so that [1] is the first source listed.
    cited: list[int] = []
    for _, numbers in claims:
        cited += [n - 1 for n in numbers if n - 1 not in cited]
    display = {index + 1: position + 1 for position, index in enumerate(cited)}

    citations: list[Citation] = []
    unsupported: list[str] = []
    pieces: list[str] = []
    for (claim, numbers), claim_vector in zip(claims, claim_vectors, strict=True):
        best = 0.0
        for n in numbers:
            hit = hits[n - 1]
            scored = [
                (support(claim, claim_vector, s.text, sentence_vectors[j]), s)
                for j, s in enumerate(sentences)
                if s.hit == n - 1
            ]
            if not scored:
                continue
            value, quote = max(scored, key=lambda pair: pair[0])
            context = f"{hit.title} {hit.section or ''} {hit.text}".lower()
            if any(name not in context for name in names(claim)):
                value *= 0.5  # a name the cited passage never mentions was made up
            best = max(best, value)
            citations.append(
                Citation(
                    n=display[n],
                    doc_id=hit.doc_id,
                    title=hit.title,
                    chunk_id=hit.chunk_id,
                    quote=quote.text,
                    start=quote.start,
                    end=quote.end,
                    support=round(value, 3),
                    score=hit.score,
                )
            )
        if best < SUPPORT_THRESHOLD and content_terms(claim):
            unsupported.append(claim)
        pieces.append(with_marker(claim, "".join(f"[{display[n]}]" for n in numbers)))
    text = "".join(gap + piece for gap, piece in zip(gaps, pieces, strict=True)).lstrip()
    return Verified(text, tuple(citations), tuple(unsupported), tuple(cited))
