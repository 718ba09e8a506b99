"""The offline answerer: picks the retrieved sentences that best answer the question.

No language model writes anything, so every sentence is grounded by construction. A
sentence's relevance mixes meaning (embedding cosine with the question) and wording
(share of the question's content words it contains); redundant sentences are skipped,
and the chosen ones are put back in the order of their briefs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .embeddings import Embedder, Vectors
from .schema import Hit
from .text import term_overlap, with_marker
from .verify import PassageSentence, passage_sentences, split_markers

# A sentence opening with one of these leans on the one before it.
_DEPENDENT_OPENERS = ("This ", "These ", "It ", "They ", "Such ", "Thus", "However", "Nor ")


def relevance(question: str, question_vector: Vectors, sentence: str, vector: Vectors) -> float:
    """How well a sentence answers the question, 0–1."""
    overlap = term_overlap(question, sentence)
    return 0.6 * max(0.0, float(question_vector @ vector)) + 0.4 * overlap


def extract(
    question: str,
    question_vector: Vectors,
    hits: Sequence[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
    keep_ratio: float = 0.85,
    redundancy: float = 0.8,
) -> tuple[str, ...]:
    """Select up to ``max_sentences`` sentences of ``hits`` that answer ``question``,
    each with its ``[n]`` marker (n = 1-based position in ``hits``).

    A sentence is added while its relevance stays within ``keep_ratio`` of the best and
    its cosine to every chosen sentence is below ``redundancy``.
    """
    # Overlapping chunks repeat sentences: keep each once, from the best-ranked hit.
    unique: dict[tuple[str, int], PassageSentence] = {}
    for s in passage_sentences(hits):
        unique.setdefault((hits[s.hit].doc_id, s.start), s)
    candidates = list(unique.values())
    if not candidates:
        return ()
    vectors = embedder.embed([s.text for s in candidates])
    scores = np.array(
        [
            relevance(question, question_vector, s.text, v)
            for s, v in zip(candidates, vectors, strict=True)
        ]
    )
    order = np.argsort(-scores)
    best = float(scores[order[0]])
    chosen: list[int] = []
    for i in order:
        if len(chosen) == max_sentences or scores[i] < keep_ratio * best:
            break
        if all(float(vectors[i] @ vectors[j]) < redundancy for j in chosen):
            chosen.append(int(i))
    picked = {candidates[i] for i in chosen}
    for s in list(picked):  # give a dependent sentence the one it leans on
        if s.text.startswith(_DEPENDENT_OPENERS):
            before = [c for c in candidates if c.hit == s.hit and c.end < s.start]
            if before:
                picked.add(max(before, key=lambda c: c.end))
    first_rank: dict[str, int] = {}
    for rank, hit in enumerate(hits):
        first_rank.setdefault(hit.doc_id, rank)
    ordered = sorted(picked, key=lambda s: (first_rank[hits[s.hit].doc_id], s.start))
    # A brief's own footnote references ("rose 4 % [2].") would read as citations of
    # other passages: the quote drops them and carries only its own marker.
    return tuple(with_marker(split_markers(s.text)[0], f"[{s.hit + 1}]") for s in ordered)
