"""The reading model in the answer path: which sentences it reads, how it reorders the
retrieved passages, and what it found (:class:`Readings`), which the refusal gate and
the extractive writer then use.

The reader costs about 4 ms a sentence on one core, so it does not read every sentence
of every passage: each candidate passage's likeliest sentence by similarity (so that
every passage can be reordered), then the likeliest others up to a budget
(``reader_candidates``, 12). The answering sentence is among those nearly always (0.97–
0.98 on our sets); what similarity gets wrong is which of them comes first.

A question that asks two things (:func:`briefqa.answer.intents.question_parts`) is read once
whole and once per part: a sentence that answers both parts ranks above one that answers
either, and the extractive writer adds a second sentence only for a part the first leaves
unanswered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..index.embeddings import Embedder, Vectors
from ..schema import Hit, Reading
from .intents import question_parts
from .passages import PassageSentence, likelihood, passage_sentences
from .reader import Reader

__all__ = ["ANSWERS", "Readings", "read", "rerank", "unique_sentences"]

#: Probability from which the reader's verdict is "answers" (the writer's second-sentence
#: rule and the source card's wording use it).
ANSWERS = 0.5
# Weight of the retrieval score (1.0 = first in both dense and BM25) beside the best
# sentence's score when passages are reordered (chosen on seed_calibration and half of
# ClapNQ dev, with _PRIOR_WEIGHT: docs/reader.md).
_RETRIEVAL_WEIGHT = 0.6
# Weight of a sentence's similarity to the question (``prior``: relevance plus its
# passage's cosine, about 0-1.3) beside the reader's probability.
_PRIOR_WEIGHT = 0.75

Key = tuple[str, int]  # (doc_id, offset of the sentence in its brief)


@dataclass(frozen=True)
class Readings:
    """The reader's probabilities for the sentences it read, keyed by brief and offset.

    ``whole`` answers the question as asked; ``parts`` holds one mapping per part of a
    question that asks several things (empty for a one-part question).
    """

    question: str
    whole: Mapping[Key, float] = field(default_factory=dict)
    parts: tuple[Mapping[Key, float], ...] = ()
    #: The sentences read, by the same keys: (text, end offset).
    sentences: Mapping[Key, tuple[str, int]] = field(default_factory=dict)
    #: Their similarity to the question, by which they were chosen for reading.
    prior: Mapping[Key, float] = field(default_factory=dict)

    def readings(self) -> list[Reading]:
        """Every sentence read, the likeliest answer first."""
        out = [
            Reading(doc, self.sentences[(doc, start)][0], start, self.sentences[(doc, start)][1],
                    round(p, 4))
            for (doc, start), p in self.whole.items()
            if (doc, start) in self.sentences
        ]  # fmt: skip
        return sorted(out, key=lambda r: -r.probability)

    def score(self, key: Key) -> float | None:
        """The sentence's ranking score: the whole question's probability (averaged with
        the parts' mean for a several-part question, so that a sentence answering both
        parts beats one answering either), plus a little of its similarity to the
        question, which orders sentences the reader finds equally likely and keeps an
        answer in the passage the question is about; None if it was not read."""
        whole = self.whole.get(key)
        if whole is None:
            return None
        if self.parts:
            parts = [p.get(key, 0.0) for p in self.parts]
            whole = 0.5 * whole + 0.5 * sum(parts) / len(parts)
        return whole + _PRIOR_WEIGHT * self.prior.get(key, 0.0)

    def answered_parts(self, key: Key) -> set[int]:
        """The parts the sentence answers (probability at least :data:`ANSWERS`)."""
        return {i for i, p in enumerate(self.parts) if p.get(key, 0.0) >= ANSWERS}

    def best(self, hits: Sequence[Hit]) -> float:
        """The highest probability among the read sentences of ``hits`` (0 if none)."""
        docs = {(h.doc_id, h.start, h.end) for h in hits}
        return max(
            (
                p
                for (doc, start), p in self.whole.items()
                if any(doc == d and a <= start < b for d, a, b in docs)
            ),
            default=0.0,
        )


def key_of(hits: Sequence[Hit], sentence: PassageSentence) -> Key:
    return (hits[sentence.hit].doc_id, sentence.start)


def unique_sentences(hits: Sequence[Hit]) -> list[PassageSentence]:
    """The sentences of ``hits``, each once: overlapping chunks repeat sentences, and
    each is kept from the best-ranked hit that holds it."""
    unique: dict[Key, PassageSentence] = {}
    for s in passage_sentences(hits):
        unique.setdefault(key_of(hits, s), s)
    return list(unique.values())


def context_of(hit: Hit) -> str:
    """What the reader is told a sentence sits under: the brief's title and section."""
    return f"{hit.title}, {hit.section}" if hit.section else hit.title


def read(
    question: str,
    vector: Vectors,
    hits: Sequence[Hit],
    embedder: Embedder,
    reader: Reader,
    *,
    budget: int,
) -> Readings:
    """Read the likeliest sentences of ``hits`` (at most ``budget``, or one per passage
    if there are more passages) for ``question``. The caller sets the budget from
    ``reader_candidates``, the one place its default lives."""
    candidates = unique_sentences(hits)
    if not candidates:
        return Readings(question)
    vectors = embedder.embed([s.text for s in candidates])
    likely = [
        likelihood(question, vector, s.text, v, hits[s.hit])
        for s, v in zip(candidates, vectors, strict=True)
    ]
    order = sorted(range(len(candidates)), key=lambda i: -likely[i])
    firsts: dict[int, int] = {}  # each passage's likeliest sentence, so that every one can move
    for i in order:
        firsts.setdefault(candidates[i].hit, i)
    chosen = list(firsts.values())
    taken = set(chosen)
    chosen += [i for i in order if i not in taken][: max(0, budget - len(chosen))]
    picked = [candidates[i] for i in chosen]
    texts = [s.text for s in picked]
    contexts = [context_of(hits[s.hit]) for s in picked]
    keys = [key_of(hits, s) for s in picked]
    whole = dict(zip(keys, reader.score(question, texts, contexts), strict=True))
    sentences = {k: (s.text, s.end) for k, s in zip(keys, picked, strict=True)}
    prior = {k: likely[i] for k, i in zip(keys, chosen, strict=True)}
    parts = question_parts(question)
    if len(parts) < 2:
        return Readings(question, whole, sentences=sentences, prior=prior)
    return Readings(
        question,
        whole,
        tuple(dict(zip(keys, reader.score(part, texts, contexts), strict=True)) for part in parts),
        sentences,
        prior,
    )


def rerank(hits: Sequence[Hit], readings: Readings) -> list[Hit]:
    """``hits`` in the order of their best read sentence's score (:meth:`Readings.score`)
    plus some of their retrieval score; each hit's ``score`` becomes the reader's
    probability that that sentence answers (0-1). Hits with no read sentence keep their
    place after the others."""
    best: dict[int, float] = {}
    probability: dict[int, float] = {}  # of the sentence that scored best
    for s in passage_sentences(hits):
        key = key_of(hits, s)
        score = readings.score(key)
        if score is not None and score > best.get(s.hit, -1.0):
            best[s.hit], probability[s.hit] = score, readings.whole[key]
    read_hits = sorted(best, key=lambda i: -(best[i] + _RETRIEVAL_WEIGHT * min(1.0, hits[i].score)))
    rest = [i for i in range(len(hits)) if i not in best]
    return [replace(hits[i], score=round(probability[i], 6)) for i in read_hits] + [
        hits[i] for i in rest
    ]
