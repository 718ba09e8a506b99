"""When to refuse: is the retrieved evidence strong enough to answer the question?

Three outcomes, from one probability that the passages answer the question: below
``threshold`` the question is refused ("the briefs do not cover this"); from
``threshold`` to ``confident`` it is answered but marked low-confidence (check the
sources; the nearest passages are shown); above ``confident`` it is answered. A false
refusal costs a reader more than a cited answer marked for checking, so the refusal
threshold is set to refuse only what is clearly not covered, and doubt goes to the
middle band.

Signals computed from the question and the retrieved passages feed a logistic model
fitted by ``evals/calibrate_refusal.py`` (which reports every fitted number
leave-one-corpus-out). With the reading model on (the default), the model in
``refusal-reader.json`` also reads ``reader``, the reader's best probability that a
passage sentence answers the question (:mod:`briefqa.answer.reader`) — the one signal that
reads whether a sentence answers rather than whether it is on topic; with it off, the
model in ``refusal.json`` reads the four similarity signals alone:

- ``dense``: best cosine similarity between the question and a retrieved chunk;
- ``sentence``: best cosine similarity between the question and one passage sentence;
- ``coverage``: IDF-weighted share of the question's content words found together in
  one passage window (a sentence with its neighbours), matched by root ("discussion"
  and "discussed", "Ukraine" and "Ukrainians" match; :func:`briefqa.text.root`);
- ``window``: the best window's joint score: its coverage, times the share of the
  question's names (capitalised words, codes like "K2") it contains, times whether it
  holds the kind of answer asked for (a figure for "how much", a date for "when", a
  name for "who") — the classic answer-type check of question answering.

Cosines and shares were chosen over corpus-bound signals (rank gaps, raw BM25 scores):
for answerable questions their levels are close on a single brief and on an encyclopaedia.

A question name that no brief uses at all ("Seoul" over a brief that only says "South
Korea") is matched through an alias: the one name in the retrieved passages whose
embedding is nearest to it, if close enough. Names the briefs do use are matched as
written, because embeddings put neighbours close too ("Ukraine" and "Russia").

One check stands beside the model: a question that asks for a figure or a date is
answered with full confidence only if some passage sentence holds one with all the
question's names around it and at least ``kind_coverage`` of the question's other words.
Failing it does not refuse (in a model with a low-confidence band): "How many
examination boards exist in India?" is answered from "there are 30 such boards across
the country", whose window need not repeat the names. It keeps the answer in the
low-confidence band, so that "How much did Poland pay for its K2 tanks?" over a brief
that never prices them is marked for checking however close the topic.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..index.embeddings import Embedder, Vectors
from ..schema import Hit, Outcome
from ..text import content_terms, names, root, roots, sentence_spans, stem
from .passages import relevance as sentence_relevance

MODEL_FILE = Path(__file__).with_name("refusal.json")
#: The model used with the reading model on (:mod:`briefqa.answer.reader`): the same four signals
#: and the reader's best probability.
READER_MODEL_FILE = Path(__file__).with_name("refusal-reader.json")
FEATURES = ("dense", "sentence", "coverage", "window")
READER_FEATURES = (*FEATURES, "reader")
_KNOWN = frozenset(READER_FEATURES) | {"relevance"}
# Words that frame a question rather than say what it is about.
_FRAMING = frozenset(
    """many much name kind type brief briefs say says said mention mentioned describe
    according one two call called main current currently acronym stand stands mean means
    meaning refer refers term document cite cited consider considered identify identifies
    suggest suggests recommend recommends example examples""".split()
)
_FIGURE_QUESTION = re.compile(
    r"\bhow (?:much|many|large|big|long|far|old)\b|\b(?:budget|cost|price|amount|number|"
    r"percentage|share|size|population|gdp|spending|figure|total)\b",
    re.I,
)
_DATE_QUESTION = re.compile(r"^\s*when\b|\bwhat (?:year|date|month|day)\b|\bsince when\b", re.I)
_NAME_QUESTION = re.compile(r"^\s*(?:who|whom|where)\b", re.I)
_FIGURE = re.compile(
    r"(?<![A-Za-z])\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"hundred|thousand|million|billion|trillion|dozen|half|first|second|third|fourth|fifth|"
    r"several|few)\b",
    re.I,
)
# Runs of capitalised words: "South Korea", "New Zealand", "Taiwan Strait".
_NAME_RUN = re.compile(r"\b[A-Z][\w’'-]*[a-z][\w’'-]*(?:\s+[A-Z][\w’'-]*[a-z][\w’'-]*)+")
# A question name no brief uses may stand for a passage name this close (cosine).
ALIAS_SIMILARITY = 0.6
# Share of its other words (IDF-weighted) a sentence needs beside the figure or date;
# the default for models saved without one.
KIND_COVERAGE = 0.1
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = re.compile(
    rf"\b(?:1[5-9]\d\d|20\d\d|{_MONTHS}|(?:last|next|this) (?:year|month|week))\b", re.I
)


@dataclass(frozen=True)
class Evidence:
    """The signals the refusal model reads (0–1, cosines -1–1)."""

    dense: float
    relevance: float  # diagnostic: best sentence relevance as the extractive answerer scores it
    coverage: float
    window: float
    kind_found: bool = True
    # For a figure or date question, the best share of the question's other words found
    # in a sentence that holds such an answer and all the question's names (-1 when none
    # does); below the model's ``kind_coverage`` the answer is at most low-confidence.
    kind_share: float = 1.0
    sentence: float = 0.0  # best question–sentence cosine
    # The reading model's best probability that a passage sentence answers (-1: no reader).
    reader: float = -1.0

    def vector(self, features: Sequence[str] = FEATURES) -> list[float]:
        """The model's inputs, in the order of ``features``."""
        return [float(getattr(self, name)) for name in features]

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def question_names(question: str) -> set[str]:
    """Names in the question: "Which country opposed NATO's office in Tokyo?" gives
    {"nato", "tokyo"}."""
    return names(question, ignore=_FRAMING)


def answer_kind(question: str) -> re.Pattern[str] | None:
    """The pattern an answer to ``question`` must contain, if its kind is clear."""
    if _DATE_QUESTION.search(question):
        return _DATE
    if _FIGURE_QUESTION.search(question):
        return _FIGURE
    return None


def gather_evidence(
    question: str,
    question_vector: Vectors,
    hits: Sequence[Hit],
    embedder: Embedder,
    idf: Callable[[str], float],
    reader: float = -1.0,
) -> Evidence:
    """Measure how well ``hits`` cover ``question``; ``reader`` is the reading model's
    best probability over their sentences, if one read them."""
    if not hits:
        return Evidence(0.0, 0.0, 0.0, 0.0, False, -1.0, reader=reader)
    terms = {t for t in content_terms(question) if t not in _FRAMING}
    weights = {t: idf(t) for t in terms}
    total = sum(weights.values()) or 1.0
    names = question_names(question)
    aliases = _aliases(names, hits, embedder, idf)
    # A question term is found in a window when a word of the window shares its root,
    # or, for a name no brief uses, when the window holds the name it stands for.
    wanted = {t: {root(t)} for t in terms}
    for name, alias in aliases.items():
        wanted.setdefault(name, set()).update({alias, root(alias)})
    name_roots = {n: {root(n)} | wanted.get(n, set()) for n in names}
    kind = answer_kind(question)
    wants_name = _NAME_QUESTION.search(question) is not None
    plain = {t: w for t, w in weights.items() if t not in names}
    plain_total = sum(plain.values())

    sentences: list[str] = []
    coverage = window_score = 0.0
    kind_share = 1.0 if kind is None else -1.0
    for hit in hits:
        spans = list(sentence_spans(hit.text))
        sentences += [hit.text[s:e] for s, e in spans]
        for i in range(len(spans)):
            lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
            window = f"{hit.title} {hit.section or ''} {hit.text[lo:hi]}"
            found = _keys(window)
            covered = sum(w for t, w in weights.items() if wanted[t] & found) / total
            named = sum(bool(r & found) for r in name_roots.values()) / len(names) if names else 1.0
            sentence = hit.text[spans[i][0] : spans[i][1]]
            if kind is not None:
                typed = 1.0 if kind.search(sentence) else 0.0
            elif wants_name:  # a name the question does not already contain
                typed = 1.0 if question_names(sentence) - names else 0.0
            else:
                typed = 1.0
            coverage = max(coverage, covered)
            window_score = max(window_score, covered * named * typed)
            if kind is not None and named == 1.0 and typed:
                # The figure or date must come with what the question asks about, not
                # only with its names: "When will the office open?" is not answered by
                # "the office had been discussed since January".
                said = _keys(sentence)
                share = sum(w for t, w in plain.items() if wanted[t] & said)
                kind_share = max(kind_share, share / plain_total if plain_total else 1.0)
    vectors = list(embedder.embed(sentences)) if sentences else []
    best_relevance = max(
        (
            sentence_relevance(question, question_vector, s, v)
            for s, v in zip(sentences, vectors, strict=True)
        ),
        default=0.0,
    )
    best_sentence = max((float(question_vector @ v) for v in vectors), default=0.0)
    dense = max((h.dense for h in hits if h.dense is not None), default=0.0)
    kind_found = kind_share >= KIND_COVERAGE
    return Evidence(
        dense, best_relevance, coverage, window_score, kind_found, kind_share, best_sentence, reader
    )


def _keys(text: str) -> frozenset[str]:
    """What a window offers to match: the roots of its words and its multi-word names."""
    return roots(text) | {n.lower() for n in _NAME_RUN.findall(text)}


def _aliases(
    names: set[str], hits: Sequence[Hit], embedder: Embedder, idf: Callable[[str], float]
) -> dict[str, str]:
    """For each question name that no brief uses ("Seoul" over a brief that says "South
    Korea"), the name in ``hits`` it most likely stands for, if any is close enough.

    Only names absent from the index get an alias: a name the briefs do use must be
    matched as written, since close embeddings also join neighbours ("Ukraine" and
    "Russia"). Each alias is the single nearest passage name, not every near one.
    """
    unseen = idf("")  # the empty string is never a term: the weight of an unknown word
    strangers = sorted(n for n in names if idf(stem(n)) >= unseen)
    if not strangers:
        return {}
    candidates = sorted(
        {n.lower() for hit in hits for n in _NAME_RUN.findall(hit.text)}
        | {n for hit in hits for n in question_names(hit.text)}
    )
    if not candidates:
        return {}
    vectors = embedder.embed([*strangers, *candidates])
    out = {}
    for i, name in enumerate(strangers):
        scores = [float(vectors[i] @ vectors[len(strangers) + j]) for j in range(len(candidates))]
        best = max(range(len(candidates)), key=scores.__getitem__)
        if scores[best] >= ALIAS_SIMILARITY:
            out[name] = candidates[best]
    return out


@dataclass(frozen=True)
class RefusalModel:
    """Logistic model: probability that the passages answer the question, and the two
    cut points that turn it into one of three outcomes (refused, low-confidence,
    answered)."""

    weights: tuple[float, ...]
    bias: float
    threshold: float  # refuse below
    note: str = ""
    kind_coverage: float = KIND_COVERAGE
    # Below this (and at or above ``threshold``) an answer is given but marked
    # low-confidence; None: the same as ``threshold`` (no low-confidence band).
    confident: float | None = None
    #: The signals ``weights`` apply to, in order.
    features: tuple[str, ...] = FEATURES

    def probability(self, evidence: Evidence) -> float:
        """Probability that the passages answer the question.

        A figure or date question that fails the answer-kind check is held below
        ``confident``: answered, but marked low-confidence. (A model without a
        low-confidence band has nowhere to put it but below ``threshold``.)
        """
        p = self.probability_of(evidence.vector(self.features))
        if self.kind_passes(evidence):
            return p
        return min(p, math.nextafter(self.band_top, 0.0))

    @property
    def band_top(self) -> float:
        """Where full confidence starts: ``confident``, or ``threshold`` without a band."""
        return self.threshold if self.confident is None else max(self.confident, self.threshold)

    def kind_passes(self, evidence: Evidence) -> bool:
        """The answer-kind check: a figure or date question needs a sentence holding one
        with the question's names and at least ``kind_coverage`` of its other words."""
        return evidence.kind_share >= self.kind_coverage

    def probability_of(self, features: Sequence[float]) -> float:
        """Probability for a raw feature vector, in the order of :attr:`features`."""
        z = self.bias + sum(w * float(x) for w, x in zip(self.weights, features, strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def outcome(self, evidence: Evidence) -> Outcome:
        """``"refused"``, ``"low_confidence"`` or ``"answered"`` for ``evidence``."""
        return self.outcome_of(self.probability(evidence))

    def outcome_of(self, p: float) -> Outcome:
        """The outcome a probability from :meth:`probability` falls in."""
        if p < self.threshold:
            return "refused"
        return "answered" if p >= self.band_top else "low_confidence"

    def answerable(self, evidence: Evidence, threshold: float | None = None) -> bool:
        """Whether the question is answered at all (with or without full confidence)."""
        limit = self.threshold if threshold is None else threshold
        return self.probability(evidence) >= limit

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RefusalModel:
        """Read a model saved by :meth:`save`; ``confident`` may be missing (no band)."""
        data = json.loads(path.read_text())
        features = tuple(data["features"])
        if not set(features) <= _KNOWN or len(features) != len(data["weights"]):
            raise ValueError(
                f"{path} was fitted on features this version does not compute "
                f"({data['features']}; known: {sorted(_KNOWN)}): run python "
                "evals/calibrate_refusal.py --write"
            )
        return cls(
            tuple(data["weights"]),
            data["bias"],
            data["threshold"],
            data.get("note", ""),
            data.get("kind_coverage", KIND_COVERAGE),
            data.get("confident"),
            features,
        )

    def save(self, path: Path = MODEL_FILE) -> None:
        """Write the model as JSON (what :meth:`load` reads)."""
        data = {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "threshold": round(self.threshold, 4),
            "confident": None if self.confident is None else round(self.confident, 4),
            "kind_coverage": self.kind_coverage,
            "note": self.note,
        }
        path.write_text(json.dumps(data, indent=2) + "\n")
