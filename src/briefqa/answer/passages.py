"""What the refusal gate, the answer writers and the citation verifier share about
retrieved passages: their sentences (located in their briefs), the ``[n]`` markers that
cite them, and how well a sentence answers a question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..index.embeddings import Vectors
from ..schema import Hit
from ..text import sentence_spans, term_overlap

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?…])")


@dataclass(frozen=True)
class PassageSentence:
    """A sentence of a retrieved chunk, with offsets into its brief's text."""

    hit: int  # index into the context list
    text: str
    start: int
    end: int


def passage_sentences(hits: Sequence[Hit]) -> list[PassageSentence]:
    """The sentences of each hit, located in their briefs (brief offsets)."""
    out = []
    for i, hit in enumerate(hits):
        for start, end in sentence_spans(hit.text):
            out.append(PassageSentence(i, hit.text[start:end], hit.start + start, hit.start + end))
    return out


def split_markers(sentence: str) -> tuple[str, list[int]]:
    """A sentence without its ``[n]`` markers, and the numbers they held."""
    numbers = [int(n) for group in MARKER.findall(sentence) for n in re.split(r"[,;]", group)]
    return MARKER.sub("", sentence).strip(), numbers


def squash(text: str) -> str:
    """``text`` without markers and with tokenised spacing undone ("sent ." → "sent."),
    to recognise a quoted sentence: an extractive claim is its passage sentence less the
    brief's own footnote references."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(MARKER.sub("", text).split()))


def likelihood(
    question: str, question_vector: Vectors, sentence: str, vector: Vectors, hit: Hit
) -> float:
    """How likely a passage sentence answers the question by similarity alone: its
    :func:`relevance`, plus some of its passage's cosine (a sentence of a passage close to
    the question as a whole is likelier to answer it than an equally close sentence of a
    passage about something else)."""
    return relevance(question, question_vector, sentence, vector) + 0.3 * (hit.dense or 0.0)


def relevance(question: str, question_vector: Vectors, sentence: str, vector: Vectors) -> float:
    """How well a sentence answers the question, 0–1: meaning (embedding cosine) and
    wording (share of the question's content words it holds)."""
    overlap = term_overlap(question, sentence)
    return 0.6 * max(0.0, float(question_vector @ vector)) + 0.4 * overlap
