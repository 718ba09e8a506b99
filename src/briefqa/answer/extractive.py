"""The offline answer writer: quotes the retrieved sentences that answer the question.

No language model writes anything, so every sentence is grounded by construction. With
the reading model (:mod:`briefqa.answer.readings`), the sentence it finds likeliest to answer
opens the answer, and another follows only when the reader finds that it answers too and
it answers a part of the question the first leaves open ("how long … and what will it
cost?"). Without one, a sentence's relevance mixes meaning and wording
(:func:`briefqa.answer.passages.relevance`), and another sentence follows when it is nearly as
good and says something about the question the first did not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..index.embeddings import Embedder, Vectors
from ..schema import Hit
from ..settings import Settings
from ..text import content_terms, root, roots, sentence_spans, with_marker
from .intents import asks_why, leans_on_history
from .passages import PassageSentence, likelihood, split_markers, squash
from .readings import ANSWERS, Readings, key_of, unique_sentences
from .refusal import answer_kind, question_names
from .writing import Draft, Turn

__all__ = ["ExtractiveWriter", "extract"]

# A sentence opening with one of these leans on the one before it.
_DEPENDENT_OPENERS = ("This ", "These ", "It ", "They ", "Such ", "Thus", "However", "Nor ")
_WHO = re.compile(
    r"^\s*(?:who|whom|whose)\b|\bwhich (?:country|countries|person|leader|"
    r"state|states|organi[sz]ation|official)\b",
    re.I,
)
# "What does ITPP stand for?", "What is the acronym AP4?"
_ACRONYM = re.compile(
    r"\b([A-Z][A-Z0-9]{1,9})s?\b.*\b(?:stand|stands) for\b|\bacronym\s+([A-Z][A-Z0-9]{1,9})\b"
)
# What a sentence giving a reason usually says.
_REASON = re.compile(
    r"\b(?:because|due to|owing to|as a result|so that|in order to|according to|would|"
    r"reason|stems? from|driven by|caused by|thus|therefore|hence|aims? to|intends? to|"
    r"seeks? to|to avoid|for fear|in view of)\b",
    re.I,
)


def extract(
    question: str,
    question_vector: Vectors,
    hits: Sequence[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 3,
    keep_ratio: float = 0.9,
    redundancy: float = 0.8,
    reason: bool = False,
    previous: str = "",
    idf: Callable[[str], float] | None = None,
    readings: Readings | None = None,
) -> tuple[str, ...]:
    """Up to ``max_sentences`` sentences of ``hits`` that answer ``question``, best
    first, each with its ``[n]`` marker (n = 1-based position in ``hits``).

    With ``readings``, their score (:meth:`~briefqa.answer.readings.Readings.score`: the
    reader's probability plus the sentence's similarity) and the fit order the sentences
    the reader read, and what it did not read comes after them; another sentence follows
    only as :func:`_adds_an_answer` allows.

    The best sentence comes first. Another follows only while its relevance stays within
    ``keep_ratio`` of the best, its cosine to every chosen sentence is below
    ``redundancy``, and it holds a word of the question that the chosen ones lack.
    Beside relevance, a sentence scores for holding the question's rarer words (``idf``)
    and the kind of answer asked for (:func:`_fit`). For a
    why/how follow-up (``reason``), sentences of the ``previous`` answer are skipped and
    sentences that give a reason, or follow one quoted before, are preferred.
    """
    candidates = unique_sentences(hits)
    said = {squash(split_markers(p)[0]) for p in _sentences_of(previous)} if previous else set()
    if said:
        quoted_ends = {(hits[s.hit].doc_id, s.end) for s in candidates if squash(s.text) in said}
        candidates = [s for s in candidates if squash(s.text) not in said] or candidates
    if not candidates:
        return ()
    vectors = embedder.embed([s.text for s in candidates])
    if reason and said:
        # "Why?" asks about the last answer's claim, not the question before it.
        question = " ".join(sorted(said))
        question_vector = embedder.embed([question])[0]
    # A why/how follow-up asks about the last answer's claim, which the reader never saw.
    read: list[float | None] = [None] * len(candidates)
    if readings is not None and not reason:
        read = [readings.score(key_of(hits, s)) for s in candidates]
    reading = any(p is not None for p in read)
    if reading:
        # The reading score holds the sentence's similarity already; the answer kind
        # and rare words (fit) still order sentences the reader finds equally likely.
        scores = np.array(
            [
                (-1.0 if p is None else p) + _FIT_WEIGHT * _fit(question, s.text, idf, reason=False)
                for p, s in zip(read, candidates, strict=True)
            ]
        )
    else:
        scores = np.array(
            [
                likelihood(question, question_vector, s.text, v, hits[s.hit])
                + _fit(question, s.text, idf, reason=reason)
                for s, v in zip(candidates, vectors, strict=True)
            ]
        )
    if reason:
        for i, s in enumerate(candidates):
            if said and any(
                doc == hits[s.hit].doc_id and 0 <= s.start - end <= 2 for doc, end in quoted_ends
            ):
                scores[i] += 0.2  # the sentence right after the one the answer quoted
    order = np.argsort(-scores, kind="stable")
    best = float(scores[order[0]])
    asked = roots(question)
    chosen: list[int] = []
    covered: set[str] = set()
    for i in order:
        if len(chosen) == max_sentences or (not reading and scores[i] < keep_ratio * best):
            break
        text = candidates[i].text
        if (
            chosen
            and reading
            and not _adds_an_answer(readings, hits, candidates, chosen, int(i), read[i])
        ):
            continue
        if chosen:
            if any(float(vectors[i] @ vectors[j]) >= redundancy for j in chosen):
                continue
            if not (asked & roots(text)) - covered:
                continue  # it adds nothing the question asked about
            if text.startswith(_DEPENDENT_OPENERS):
                continue  # leans on a sentence the reader has not seen
        chosen.append(int(i))
        covered |= asked & roots(text)
    # A brief's own footnote references ("rose 4 % [2].") would read as citations of
    # other passages: the quote drops them and carries only its own marker.
    return tuple(
        with_marker(split_markers(candidates[i].text)[0], f"[{candidates[i].hit + 1}]")
        for i in chosen
    )


_ENDS = (".", "!", "?", "…", '"', "”", "’", "'", ")")
# A second answer to a one-part question is quoted only from this probability on.
_SURE = 0.8
# Weight of the fit (answer kind, rare words: 0-0.45) beside the reading score.
_FIT_WEIGHT = 0.25


def _adds_an_answer(
    readings: Readings | None,
    hits: Sequence[Hit],
    candidates: Sequence[PassageSentence],
    chosen: Sequence[int],
    i: int,
    p: float | None,
) -> bool:
    """Whether sentence ``i`` may follow the ``chosen`` ones: for a several-part
    question, it answers a part they leave open (a sentence answering one part may read as
    a weak answer to the whole); for one question, the reader finds it answers and none
    of them."""
    if readings is None or p is None:
        return False
    if not readings.parts:
        # One question, one answer: a second sentence only when the reader finds that it
        # answers, and either did not find so of the first or is nearly sure of this one
        # (the caller also wants it to hold a word of the question the first lacks).
        unsure = all(
            (readings.whole.get(key_of(hits, candidates[j])) or 0.0) < ANSWERS for j in chosen
        )
        return p >= ANSWERS and (unsure or p >= _SURE)
    answered: set[int] = set()
    for j in chosen:
        answered |= readings.answered_parts(key_of(hits, candidates[j]))
    return bool(readings.answered_parts(key_of(hits, candidates[i])) - answered)


def _fit(
    question: str, sentence: str, idf: Callable[[str], float] | None, *, reason: bool
) -> float:
    """How well ``sentence`` fits what ``question`` asks, beyond relevance: its rarer
    words (a question's rare words name what it is about, common ones frame it) and the
    kind of answer — a date for "when", a figure for "how many", a name not already in
    the question for "who", a reason for "why", the expansion for "what does X stand
    for"."""
    score = 0.0
    # "NATO-AP4 cooperation" asks about NATO and the AP4, however a sentence joins them.
    terms = [part for t in content_terms(question) for part in {t, *t.split("-")}]
    if idf is not None and terms:
        weights = {root(t): idf(t) for t in terms}
        found = roots(sentence)
        total = sum(weights.values()) or 1.0
        score += 0.15 * sum(w for r, w in weights.items() if r in found) / total
    kind = answer_kind(question)
    if (
        (kind is not None and kind.search(sentence))
        or (_WHO.search(question) and question_names(sentence) - question_names(question))
        or ((reason or asks_why(question)) and _REASON.search(sentence))
    ):
        score += 0.1
    acronym = _ACRONYM.search(question)
    short = acronym.group(1) or acronym.group(2) if acronym else None
    if short and re.search(rf"\(\s*{re.escape(short)}", sentence, re.I):
        score += 0.2
    return score


def _sentences_of(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


class ExtractiveWriter:
    """The default writer: quotes sentences of the passages, best first."""

    generative = False

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """Without a model, a follow-up ("and what about Germany?", "why did it?")
        borrows the words of the previous question for retrieval."""
        if not history:
            return question
        previous = next((text for role, text in reversed(history) if role == "user"), None)
        if previous and leans_on_history(question):
            return f"{question} ({previous})"
        return question

    def write(self, draft: Draft) -> Iterator[str]:
        if draft.quotes:
            sentences: Sequence[str] = [
                with_marker(split_markers(text)[0], f"[{n + 1}]") for n, text in draft.quotes
            ]
        else:
            assert draft.vector is not None, "a search draft carries the question's vector"
            sentences = extract(
                draft.question,
                draft.vector,
                draft.passages,
                self.embedder,
                max_sentences=self.settings.max_answer_sentences,
                reason=draft.reason,
                previous=draft.previous,
                idf=draft.idf,
                readings=draft.readings,
            )
        for i, sentence in enumerate(sentences):
            if i == 0:
                yield sentence
            elif sentences[i - 1].rstrip().endswith(_ENDS):
                yield " " + sentence
            else:  # a table row or caption: its own line, never run into the next
                yield "\n\n" + sentence
