"""Answer-quality evaluation: metrics on gold labels, baselines in the same run.

No LLM judge or entailment model is available offline, so every metric stands on gold
labels (answers, evidence text, answerability) and on our own models; the one model-based
metric, semantic similarity, is labelled a proxy. Definitions are in :data:`METRICS`.
"""

from __future__ import annotations

import json
import re
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from .answer.passages import split_markers
from .comparison import (
    INDEX_KEYS,
    Configuration,
    compare,
    index_key,
    regressions,
    significant_drops,
)
from .errors import BriefQAError, ConfigError
from .schema import Answer, Chunk, Hit
from .text import normalize, sentence_spans

#: A set whose gold answers are longer than this (median of each question's shortest
#: gold answer, in words) holds free-text answers: first_sentence_gold then matches the
#: gold evidence sentences instead. Seed-brief answers are names and phrases (median 2
#: words, longest 5), the whole-brief set's phrases (median 6, longest 8); ClapNQ's are
#: written paragraphs (median 34).
FREE_TEXT_WORDS = 15
#: The token F1 at which an answer sentence counts as a gold evidence sentence: an
#: extractive sentence scores 1.0 and one retokenised ("sent ." vs "sent.") about the
#: same; 0.6 leaves room for a light paraphrase but not for a different sentence.
EVIDENCE_F1 = 0.6
#: A first sentence contained in an evidence sentence counts only from this length on,
#: so that "Yes." or "Japan." is not taken for a match.
MIN_CONTAINED_WORDS = 4
#: The ``section`` a whole-brief question names for the part before the first heading.
LEAD = "(lead)"

#: Metric key → definition, as printed in the reports. "Answered" means not refused: a
#: low-confidence answer is given to the reader, so it counts as answered.
METRICS: dict[str, str] = {
    "hit@1": "share of answerable questions whose gold evidence is in the top retrieved chunk "
    "(questions with gold evidence text or an evidence document only)",
    "hit@3": "… in one of the top 3 chunks",
    "hit@5": "… in one of the top 5 chunks",
    "mrr": "mean reciprocal rank of the first chunk holding the gold evidence (0 if not in top 10)",
    "ndcg@10": "nDCG of the top 10, binary gain = chunk holds gold evidence; ideal = those "
    "chunks ranked first",
    "answer_contained": "share of answered answerable questions whose answer contains a gold "
    "answer (lower-cased, punctuation and articles removed)",
    "first_sentence_gold": "share of answered answerable questions whose FIRST answer sentence "
    "(citation markers removed) holds the answer. Short gold answers: the sentence contains a "
    "gold answer, normalised as for answer_contained. Sets whose gold answers are free text "
    f"(median of each question's shortest gold answer over {FREE_TEXT_WORDS} words, e.g. "
    "ClapNQ): the sentence matches a gold evidence sentence, i.e. after the same "
    "normalisation one contains the other (the sentence having at least "
    f"{MIN_CONTAINED_WORDS} words when it is the contained one) or their SQuAD token F1 is "
    f"at least {EVIDENCE_F1}; questions without evidence sentences fall back to the gold "
    "answers",
    "token_f1": "SQuAD token F1 of answer vs best gold answer, mean over answered answerable",
    "reader_top1": "the reading model's own accuracy: share of answerable questions with gold "
    "evidence sentences whose top-scored read sentence matches one (as for first_sentence_gold), "
    "among those where a read sentence does",
    "reader_recall": "share of answerable questions with gold evidence sentences where one of "
    "the sentences the reader read matches one",
    "answer_words": "mean answer length in words",
    "answer_words_median": "median length in words of the answers given (not refused), "
    "citation markers [n] excluded",
    "semantic_similarity": "PROXY: MiniLM cosine of answer and best gold answer",
    "citation_precision": "share of citations whose chunk holds the gold evidence",
    "citation_recall": "share of answered answerable questions with a citation to a chunk "
    "holding the gold evidence (questions with gold evidence only, as for hit@k)",
    "supported_share": "share of answer sentences that their citations support (verifier)",
    "right_source": "whole-brief sets: share of their questions answered from the right "
    "place. A section question: not refused, and both the first citation and at least half "
    "of all citations (each [n] of each sentence; the cited sources when there are no "
    "citations) point to chunks of the expected section; the lead is the part before the "
    "first heading, whose chunks carry no section. A field or archive question: not "
    "refused, and the answer (markers removed) contains a gold answer, normalised as for "
    "answer_contained",
    "refused_unanswerable": "share of unanswerable questions refused",
    "false_refusal": "share of answerable questions refused",
    "answered_share": 'share of answerable questions answered with confidence (outcome "answered")',
    "low_confidence_share": "share of answerable questions answered with low confidence "
    '(outcome "low_confidence": given, marked "check the sources")',
    "refused_share": "share of answerable questions refused (the same as false_refusal)",
    "unanswerable_answered_share": "share of unanswerable questions answered with confidence",
    "unanswerable_low_confidence_share": "share of unanswerable questions answered with low "
    "confidence",
    "unanswerable_refused_share": "share of unanswerable questions refused (the same as "
    "refused_unanswerable)",
    "latency_p50_ms": "median time of the whole answer (retrieval for baselines)",
    "latency_p95_ms": "95th percentile of the whole answer (retrieval for baselines)",
    "retrieval_p50_ms": "median retrieval time",
    "retrieval_p95_ms": "95th percentile retrieval time",
}
#: Metrics where lower is better (for --fail-under direction and for the report). Of the
#: three outcome shares the middle one is always lower-is-better: the ideal puts every
#: answerable question in "answered" and every unanswerable one in "refused".
LOWER_IS_BETTER = frozenset(
    {
        "false_refusal",
        "low_confidence_share",
        "refused_share",
        "unanswerable_answered_share",
        "unanswerable_low_confidence_share",
        "latency_p50_ms",
        "latency_p95_ms",
        "retrieval_p50_ms",
        "retrieval_p95_ms",
    }
)

# ------------------------------------------------------------------ metric functions


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(c for c in text if c not in set(string.punctuation) | {"’", "‘", "“", "”"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(prediction: str, golds: Sequence[str]) -> bool:
    """Does the normalised prediction contain any normalised gold answer?"""
    norm = normalize_answer(prediction)
    return any(normalize_answer(g) and normalize_answer(g) in norm for g in golds)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best SQuAD token F1 of ``prediction`` against the gold answers."""
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for gold in golds:
        truth = normalize_answer(gold).split()
        common = Counter(predicted) & Counter(truth)
        overlap = sum(common.values())
        if overlap == 0:
            continue
        precision, recall = overlap / len(predicted), overlap / len(truth)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def strip_markers(text: str) -> str:
    """An answer's text without its ``[n]`` citation markers."""
    return split_markers(text)[0]


def first_sentence(text: str) -> str:
    """The first sentence of an answer, citation markers removed ("" for no text)."""
    clean = strip_markers(text)
    return next((clean[start:end] for start, end in sentence_spans(clean)), "")


def count_words(text: str) -> int:
    """Words of an answer, citation markers not counted."""
    return len(strip_markers(text).split())


def matches_evidence(sentence: str, evidence: Sequence[str]) -> bool:
    """Is ``sentence`` one of the gold evidence sentences, give or take tokenisation and
    a light paraphrase? (See ``first_sentence_gold`` in :data:`METRICS`.)"""
    said = normalize_answer(sentence)
    if not said:
        return False
    for gold in evidence:
        truth = normalize_answer(gold)
        if not truth:
            continue
        # Whole words only: padded, "Japan" is not found inside "Japanese".
        if f" {truth} " in f" {said} ":
            return True
        if len(said.split()) >= MIN_CONTAINED_WORDS and f" {said} " in f" {truth} ":
            return True
        if token_f1(sentence, [gold]) >= EVIDENCE_F1:
            return True
    return False


def hit_at(relevant: Sequence[bool], k: int) -> float:
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    for rank, good in enumerate(relevant[:k], start=1):
        if good:
            return 1.0 / rank
    return 0.0


def ndcg(relevant: Sequence[bool], k: int = 10) -> float:
    gains = [1.0 if r else 0.0 for r in relevant[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / np.log2(i + 2) for i in range(int(sum(gains))))
    return float(dcg / ideal) if ideal else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


# ------------------------------------------------------------------------ datasets


#: Where a whole-brief question's answer should come from.
CaseKind = Literal["section", "field", "archive"]
#: The manifest fields a "field" question asks for.
BRIEF_FIELDS = ("date", "number", "title", "sections")


@dataclass(frozen=True)
class EvalCase:
    """One question with its gold labels.

    Whole-brief questions also say where the answer should come from: ``kind`` is
    ``"section"`` (``section`` names it, :data:`LEAD` for the part before the first
    heading), ``"field"`` (``field_name``: one of :data:`BRIEF_FIELDS` of the manifest) or
    ``"archive"`` (the list of briefs). Questions about passages leave ``kind`` None.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]  # evidence sentences (or the whole evidence text)
    evidence_doc_id: str | None
    unanswerable: bool
    kind: CaseKind | None = None
    section: str | None = None
    field_name: str | None = None

    @property
    def has_target(self) -> bool:
        """Can retrieval be scored: is there gold evidence text or an evidence document?"""
        return bool(self.evidence) or self.evidence_doc_id is not None


def load_dataset(path: str | Path) -> list[EvalCase]:
    """Read a JSONL question set (see the README for its fields and aliases)."""
    cases = []
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the question set {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = str(row["question"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BriefQAError(f"{path}:{number}: not a question row ({exc})") from exc
        evidence_text = row.get("evidence", row.get("evidence_text")) or ""
        sentences = row.get("evidence_sentences") or ([evidence_text] if evidence_text else [])
        unanswerable = bool(row.get("unanswerable", row.get("answerable") is False))
        kind, section, field_name = _whole_brief_labels(row, f"{path}:{number}")
        cases.append(
            EvalCase(
                id=str(row.get("id", number)),
                question=question,
                answers=tuple(row.get("answers") or ()),
                evidence=tuple(normalize(s) for s in sentences if s and s.strip()),
                evidence_doc_id=row.get("evidence_doc_id"),
                unanswerable=unanswerable,
                kind=kind,
                section=section,
                field_name=field_name,
            )
        )
    if not cases:
        raise BriefQAError(f"{path}: no questions in the dataset")
    return cases


def _whole_brief_labels(
    row: dict[str, Any], where: str
) -> tuple[CaseKind | None, str | None, str | None]:
    """A row's ``kind``, ``section`` and ``field``, checked against each other."""
    kind, section, field_name = row.get("kind"), row.get("section"), row.get("field")
    if kind is None:
        return None, None, None
    if kind == "section":
        if not isinstance(section, str) or not section.strip():
            raise BriefQAError(f'{where}: a "section" question needs the section it expects')
        return "section", section.strip(), None
    if kind == "field":
        if field_name not in BRIEF_FIELDS:
            raise BriefQAError(
                f'{where}: a "field" question needs a field among {", ".join(BRIEF_FIELDS)}, '
                f"not {field_name!r}"
            )
        return "field", None, str(field_name)
    if kind == "archive":
        return "archive", None, None
    raise BriefQAError(f"{where}: kind must be section, field or archive, not {kind!r}")


def holds_evidence(text: str, case: EvalCase, doc_name: str | None = None) -> bool:
    """Does a chunk hold the gold evidence (any evidence sentence), or, without evidence
    text, come from the gold document?"""
    if case.evidence:
        flat = normalize(text)
        return any(sentence in flat for sentence in case.evidence)
    return case.evidence_doc_id is not None and doc_name == case.evidence_doc_id


def outcome_of(answer: Answer) -> str:
    """The answer's outcome; ``refused`` wins, whatever built the answer."""
    return "refused" if answer.refused else answer.outcome


def same_section(section: str | None, expected: str) -> bool:
    """Is a chunk's ``section`` the one a question expects (:data:`LEAD`: no section)?"""
    if expected.strip().casefold() == LEAD:
        return not section
    return section is not None and section.split() == expected.split()


def cited_sections(answer: Answer) -> list[str | None]:
    """The section of the chunk behind each citation, in reading order (the cited
    sources' sections when there are no citations). An unknown chunk reads as "?"."""
    sources = {s.chunk_id: s for s in answer.sources}
    if answer.citations:
        return [
            sources[c.chunk_id].section if c.chunk_id in sources else "?" for c in answer.citations
        ]
    return [s.section for s in answer.sources]


def right_source(answer: Answer, case: EvalCase) -> bool:
    """Was a whole-brief question answered from the right place? (``right_source`` in
    :data:`METRICS`.) Passage questions (no ``kind``) never are."""
    if answer.refused or case.kind is None:
        return False
    if case.kind == "section":
        assert case.section is not None  # load_dataset requires it
        right = [same_section(s, case.section) for s in cited_sections(answer)]
        return bool(right) and right[0] and 2 * sum(right) >= len(right)
    return contains_answer(strip_markers(answer.text), case.answers)


def free_text_answers(cases: Sequence[EvalCase]) -> bool:
    """Are a set's gold answers written text rather than names and phrases?"""
    shortest = [
        min(len(normalize_answer(a).split()) for a in c.answers)
        for c in cases
        if not c.unanswerable and c.answers
    ]
    return bool(shortest) and float(np.median(shortest)) > FREE_TEXT_WORDS


def first_sentence_holds_gold(answer: Answer, case: EvalCase, free_text: bool) -> bool:
    """Does the answer's first sentence hold the gold answer (``first_sentence_gold``)?"""
    sentence = first_sentence(answer.text)
    if free_text and case.evidence:
        return matches_evidence(sentence, case.evidence)
    return contains_answer(sentence, case.answers)


# ------------------------------------------------------------------------ running


@dataclass
class Record:
    """What one system did with one question."""

    case: EvalCase
    relevant: list[bool]
    retrieval_ms: float
    answer: Answer | None = None
    answer_ms: float = 0.0
    cited_relevant: list[bool] = field(default_factory=list)
    similarity: float | None = None
    #: The reading model's sentences for the question, best first, as gold or not
    #: (None: no reader, or no gold evidence sentence to match).
    read_gold: list[bool] | None = None
    #: The passages retrieved for the answer (the first ``top_k``), for the exports.
    contexts: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    """Metrics per system, per-question records and the failures worth reading."""

    dataset: str
    questions: int
    systems: dict[str, dict[str, float]]
    failures: list[dict[str, Any]]
    seconds: float = 0.0
    support_scores: list[float] = field(default_factory=list)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    #: Whole-brief sets: briefqa's outcome and source metrics per kind of question
    #: ("section: Conclusions", "field: date", "archive"), with their ``questions``.
    breakdown: dict[str, dict[str, float]] = field(default_factory=dict)
    #: How this set was scored where that depends on the set (printed under the table).
    notes: list[str] = field(default_factory=list)
    #: The configurations answered side by side (``Configuration.to_dict``), the first
    #: being the one the others are compared with.
    configurations: list[dict[str, Any]] = field(default_factory=list)
    #: Each other answering system against the first: metric → ``Difference.to_dict()``.
    comparisons: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Each answering system's rows, one a question (:func:`question_rows`).
    per_question: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Against a saved run (:func:`compare_with_saved`): its path, the questions that
    #: changed (``comparison.regressions``) and the drops beyond noise.
    against: str | None = None
    regressions: list[dict[str, Any]] = field(default_factory=list)
    drops: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "questions": self.questions,
            "systems": self.systems,
            "configurations": self.configurations,
            "comparisons": self.comparisons,
            "breakdown": self.breakdown,
            "notes": self.notes,
            "failures": self.failures,
        }
        if self.against is not None:
            out["against"] = {
                "report": self.against,
                "drops": self.drops,
                "changed": self.regressions,
            }
        out["per_question"] = {
            name: [{k: v for k, v in row.items() if k not in _RUN_ONLY} for row in rows]
            for name, rows in self.per_question.items()
        }
        return out


Retrieve = Callable[[str], list[Hit]]
#: Keys of a per-question row that only this run's exports use: the passages an answer
#: was written from and the gold evidence would make report.json several MB.
_RUN_ONLY = frozenset({"evidence", "contexts"})


def score_records(
    records: Sequence[Record], with_answers: bool, free_text: bool | None = None
) -> dict[str, float]:
    """The metric table of one system.

    ``free_text``: whether the set's gold answers are free text (see
    ``first_sentence_gold``); None: decided from these records' cases.
    """
    answerable = [r for r in records if not r.case.unanswerable]
    # Only questions with gold evidence (text or document) can score retrieval and
    # citations: a whole-brief question about the date or the sections has none.
    targeted = [r for r in answerable if r.case.has_target]
    out: dict[str, float] = {}
    if targeted:
        for k in (1, 3, 5):
            out[f"hit@{k}"] = _mean(hit_at(r.relevant, k) for r in targeted)
        out["mrr"] = _mean(reciprocal_rank(r.relevant) for r in targeted)
        out["ndcg@10"] = _mean(ndcg(r.relevant) for r in targeted)
    retrieval = [r.retrieval_ms for r in records]
    out["retrieval_p50_ms"] = percentile(retrieval, 50)
    out["retrieval_p95_ms"] = percentile(retrieval, 95)
    if not with_answers:
        out["latency_p50_ms"], out["latency_p95_ms"] = (
            out["retrieval_p50_ms"],
            out["retrieval_p95_ms"],
        )
        return {k: round(v, 4) for k, v in out.items()}
    answered = [r for r in answerable if r.answer is not None and not r.answer.refused]
    if answered:
        out["answer_contained"] = _mean(
            contains_answer(r.answer.text, r.case.answers) for r in answered if r.answer
        )
        out["token_f1"] = _mean(
            token_f1(r.answer.text, r.case.answers) for r in answered if r.answer
        )
        sims = [r.similarity for r in answered if r.similarity is not None]
        if sims:
            out["semantic_similarity"] = _mean(sims)
        cited = [r for r in answered if r.case.has_target]
        citations = [c for r in cited for c in r.cited_relevant]
        if citations:
            out["citation_precision"] = _mean(citations)
        if cited:
            out["citation_recall"] = _mean(any(r.cited_relevant) for r in cited)
    if free_text is None:
        free_text = free_text_answers([r.case for r in records])
    out.update(answer_metrics(records, free_text))
    spoken = [r.answer for r in records if r.answer is not None and not r.answer.refused]
    if spoken:
        out["answer_words"] = _mean(len(a.text.split()) for a in spoken)
        sentences = sum(_sentences(a.text) for a in spoken)
        unsupported = sum(len(a.unsupported) for a in spoken)
        out["supported_share"] = 1.0 - unsupported / sentences if sentences else 0.0
    unanswerable = [r for r in records if r.case.unanswerable]
    if unanswerable:
        out["refused_unanswerable"] = _mean(
            bool(r.answer and r.answer.refused) for r in unanswerable
        )
    if answerable:
        out["false_refusal"] = _mean(bool(r.answer and r.answer.refused) for r in answerable)
    read = [r.read_gold for r in answerable if r.read_gold is not None]
    if read:
        out["reader_recall"] = _mean(any(gold) for gold in read)
        found = [gold for gold in read if any(gold)]
        if found:
            out["reader_top1"] = _mean(gold[0] for gold in found)
    answers_ms = [r.answer_ms for r in records]
    out["latency_p50_ms"] = percentile(answers_ms, 50)
    out["latency_p95_ms"] = percentile(answers_ms, 95)
    return {k: round(v, 4) for k, v in out.items()}


def question_values(record: Record, free_text: bool) -> dict[str, float]:
    """The question's value of each metric it counts in (1.0 / 0.0 for yes / no), under
    the same conditions as :func:`~briefqa.evaluation.score_records`."""
    case, answer = record.case, record.answer
    out: dict[str, float] = {"latency_ms": record.answer_ms or record.retrieval_ms}
    refused = bool(answer and answer.refused)
    if case.unanswerable:
        if answer is not None:
            out["refused_unanswerable"] = float(refused)
        return out
    if case.has_target:
        for k in (1, 3, 5):
            out[f"hit@{k}"] = hit_at(record.relevant, k)
        out["mrr"] = reciprocal_rank(record.relevant)
        out["ndcg@10"] = ndcg(record.relevant)
    if answer is None:
        return out
    out["false_refusal"] = float(refused)
    if not refused:
        out["answer_contained"] = float(contains_answer(answer.text, case.answers))
        out["token_f1"] = token_f1(answer.text, case.answers)
        if case.has_target:
            out["citation_recall"] = float(any(record.cited_relevant))
        if case.answers or (free_text and case.evidence):
            out["first_sentence_gold"] = float(first_sentence_holds_gold(answer, case, free_text))
    if case.kind is not None:
        out["right_source"] = float(right_source(answer, case))
    if record.read_gold is not None and any(record.read_gold):
        out["reader_top1"] = float(record.read_gold[0])
    return out


def question_rows(
    records: Sequence[Record], free_text: bool, names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each question's outcome, metric values, answer and citations, for report.json
    (what a later run is compared with, question by question)."""
    rows = []
    for r in records:
        answer = r.answer
        rows.append(
            {
                "id": r.case.id,
                "question": r.case.question,
                "unanswerable": r.case.unanswerable,
                "expected": list(r.case.answers),
                "outcome": outcome_of(answer) if answer is not None else None,
                "values": {k: round(v, 4) for k, v in question_values(r, free_text).items()},
                "answer": answer.text if answer is not None else None,
                "citations": [
                    {
                        "n": c.n,
                        "source": names.get(c.doc_id, c.doc_id),
                        "section": c.section,
                        "quote": c.quote[:400],
                    }
                    for c in (answer.citations if answer is not None else ())
                ],
                # For the exports of one run (briefqa.interchange); not kept in report.json.
                "evidence": list(r.case.evidence),
                "contexts": r.contexts,
            }
        )
    return rows


def answer_metrics(records: Sequence[Record], free_text: bool) -> dict[str, float]:
    """What staff experience: outcome shares, the first sentence, the source, the length
    (unrounded; see :data:`METRICS`). Records without an answer are left out."""
    given = [r for r in records if r.answer is not None]
    out: dict[str, float] = {}
    for prefix, group in (
        ("", [r for r in given if not r.case.unanswerable]),
        ("unanswerable_", [r for r in given if r.case.unanswerable]),
    ):
        if group:
            outcomes = [outcome_of(r.answer) for r in group if r.answer]
            for name in ("answered", "low_confidence", "refused"):
                out[f"{prefix}{name}_share"] = _mean(o == name for o in outcomes)
    # Answered answerable questions that have something to match: gold answers, or
    # evidence sentences where the set's answers are free text.
    scored = [
        first_sentence_holds_gold(r.answer, r.case, free_text)
        for r in given
        if r.answer
        and not r.answer.refused
        and not r.case.unanswerable
        and (r.case.answers or (free_text and r.case.evidence))
    ]
    if scored:
        out["first_sentence_gold"] = _mean(scored)
    spoken = [r.answer for r in given if r.answer and not r.answer.refused]
    if spoken:
        out["answer_words_median"] = float(np.median([count_words(a.text) for a in spoken]))
    whole_brief = [r for r in given if r.case.kind is not None and not r.case.unanswerable]
    if whole_brief:
        out["right_source"] = _mean(right_source(r.answer, r.case) for r in whole_brief if r.answer)
    return out


def breakdown(records: Sequence[Record], free_text: bool) -> dict[str, dict[str, float]]:
    """:func:`answer_metrics` per kind of whole-brief question, with ``questions``."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        if r.case.kind == "section":
            groups.setdefault(f"section: {r.case.section}", []).append(r)
        elif r.case.kind == "field":
            groups.setdefault(f"field: {r.case.field_name}", []).append(r)
        elif r.case.kind == "archive":
            groups.setdefault("archive", []).append(r)
    return {
        name: {
            "questions": float(len(group)),
            **{k: round(v, 4) for k, v in answer_metrics(group, free_text).items()},
        }
        for name, group in groups.items()
    }


def _sentences(text: str) -> int:
    return len(list(sentence_spans(text)))


def _mean(values: Iterable[float | bool]) -> float:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else 0.0


def naive_chunks(docs: Sequence[tuple[str, str, str]]) -> list[Chunk]:
    """LangChain's RecursiveCharacterTextSplitter(1000, 200) over raw document text."""
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as exc:
        raise ConfigError(
            "the naive baseline needs the eval extra: pip install 'briefqa[eval]'"
        ) from exc

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = []
    for name, title, text in docs:
        position = 0
        for i, piece in enumerate(splitter.split_text(text)):
            start = max(text.find(piece, position), 0)
            position = start + 1
            chunks.append(
                Chunk(f"{name}-{i}", name, i, piece, start, start + len(piece), title, None, None)
            )
    return chunks


# --------------------------------------------------------------------- the harness

Progress = Callable[[int, int], None]


def run_evaluation(
    dataset: str | Path,
    *,
    docs: str | Path | None = None,
    corpus: str | Path | None = None,
    k: int = 5,
    baselines: Sequence[str] = (),
    settings: Any | None = None,
    embedder: Any | None = None,
    progress: Progress | None = None,
    configurations: Sequence[Configuration] = (),
) -> EvalReport:
    """Run a question set through briefqa (and baselines, on the same corpus).

    With ``docs`` (JSONL of ``{doc_id, title, text}``) or ``corpus`` (a folder of briefs)
    a fresh index is built in a temp dir; otherwise the configured index is used. With
    ``configurations`` every one of them answers every question, on one index for all
    whose settings allow it (:data:`~briefqa.comparison.INDEX_KEYS`), and each is compared
    with the first (:func:`~briefqa.comparison.compare`); the baselines run beside the first.

    Raises:
        ConfigError: an unknown baseline, two configurations of one name, or a
            configuration with a setting that does not exist or an invalid value.
    """
    from .engine import BriefQA
    from .settings import Settings

    configurations = list(configurations) or [Configuration("briefqa")]
    cases = load_dataset(dataset)
    free_text = free_text_answers(cases)
    base = (settings or Settings()).with_overrides(top_k=k)
    chosen = _checked(configurations, baselines, base, fresh=docs is not None or corpus is not None)
    started = time.perf_counter()
    runs: dict[str, list[Record]] = {}
    systems: dict[str, dict[str, float]] = {}
    done, total = 0, len(cases) * (len(configurations) + len(baselines))

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    with tempfile.TemporaryDirectory(prefix="briefqa-eval-") as tmp:
        folder = Path(tmp)
        if docs is not None:
            source: Path | None = _write_docs(Path(docs), folder / "corpus")
        else:
            source = Path(corpus) if corpus is not None else None
        indexes: dict[tuple[Any, ...], Path | None] = {}
        models: dict[tuple[str, str], Any] = {}
        names: dict[str, str] = {}
        for n, (config, config_settings) in enumerate(zip(configurations, chosen, strict=True)):
            key = index_key(config_settings)
            new = key not in indexes
            if new:
                indexes[key] = folder / f"index-{len(indexes)}" if source is not None else None
            model = (config_settings.embedding_model, config_settings.embedding_backend)
            given = embedder if embedder is not None else models.get(model)
            with BriefQA(indexes[key], settings=config_settings, embedder=given) as qa:
                if new and source is not None:
                    report = qa.ingest([source])
                    if report.failed:
                        raise BriefQAError(f"could not index the eval corpus: {report.errors[:3]}")
                names.update(
                    (b.doc_id, Path(b.sources[0]).stem if b.sources else b.doc_id)
                    for b in qa.documents()
                )
                runs[config.name] = [_run_ours(qa, case, names, tick) for case in cases]
                systems[config.name] = score_records(
                    runs[config.name], with_answers=True, free_text=free_text
                )
                if n == 0:
                    _run_baselines(qa, cases, names, baselines, folder, tick, runs, systems)
                models[model] = qa.embedder
    # The configurations in their order, then the baselines.
    order = [c.name for c in configurations]
    systems = {**{n: systems[n] for n in order}, **systems}
    runs = {**{n: runs[n] for n in order}, **runs}
    first = order[0]
    ours = runs[first]
    values = {name: [question_values(r, free_text) for r in rs] for name, rs in runs.items()}
    return EvalReport(
        dataset=str(dataset),
        questions=len(cases),
        systems=systems,
        failures=_failures(ours),
        seconds=time.perf_counter() - started,
        support_scores=[c.support for r in ours if r.answer for c in r.answer.citations],
        latencies_ms={
            "answer": [r.answer_ms for r in ours],
            "retrieval": [r.retrieval_ms for r in ours],
        },
        breakdown=breakdown(ours, free_text),
        notes=_notes(cases, free_text),
        configurations=[c.to_dict() for c in configurations],
        comparisons={
            name: {m: d.to_dict() for m, d in compare(values[first], v).items()}
            for name, v in values.items()
            if name != first
        },
        per_question={name: question_rows(rs, free_text, names) for name, rs in runs.items()},
    )


def _checked(
    configurations: Sequence[Configuration],
    baselines: Sequence[str],
    base: Any,
    *,
    fresh: bool,
) -> list[Any]:
    """Each configuration's settings, once the run is known to make sense: baselines that
    exist, configuration names that are unique and not a baseline's, and configurations
    that need indexes of their own only where one is built (``fresh``).

    Raises:
        ConfigError: naming what does not make sense.
    """
    unknown = set(baselines) - {"naive", "bm25", "no-reader"}
    if unknown:
        raise ConfigError(
            f"unknown baseline(s) {sorted(unknown)}; choose from naive, bm25, no-reader"
        )
    if len({c.name for c in configurations}) < len(configurations):
        raise ConfigError("two configurations have the same name: rename one file")
    taken = {c.name for c in configurations} & {"naive", "bm25", "briefqa without reader"}
    if taken:
        raise ConfigError(f"a configuration may not be named like a baseline: {sorted(taken)}")
    chosen = [c.settings(base) for c in configurations]
    if not fresh and len({index_key(s) for s in chosen}) > 1:
        different = sorted(
            key for key in INDEX_KEYS if len({str(getattr(s, key)) for s in chosen}) > 1
        )
        raise ConfigError(
            f"the configurations differ in {', '.join(different)}, which need an index each: "
            "give --docs or --corpus so that each is built (the configured index has one)"
        )
    return chosen


def _run_baselines(
    qa: Any,
    cases: Sequence[EvalCase],
    names: dict[str, str],
    baselines: Sequence[str],
    folder: Path,
    tick: Callable[[], None],
    runs: dict[str, list[Record]],
    systems: dict[str, dict[str, float]],
) -> None:
    """The baselines on the first configuration's index: retrieval-only ones score into
    ``systems``; "no-reader" answers too, into ``runs`` as well."""
    from .engine import BriefQA

    if "naive" in baselines:
        retrieve = _naive_retriever(qa, folder / "naive")
        systems["naive"] = score_records(
            [_run_retrieval(retrieve, case, names, tick) for case in cases], False
        )
    if "bm25" in baselines:

        def bm25(question: str) -> list[Hit]:
            return cast(list[Hit], qa.retrieve(question, k=10, mode="lexical"))

        systems["bm25"] = score_records(
            [_run_retrieval(bm25, case, names, tick) for case in cases], False
        )
    if "no-reader" in baselines:
        # The same engine and index with the reading model off: what it adds.
        plain_settings = qa.settings.with_overrides(reader="off")
        with BriefQA(qa.data_dir, settings=plain_settings, embedder=qa.embedder) as plain:
            name = "briefqa without reader"
            runs[name] = [_run_ours(plain, case, names, tick) for case in cases]
        systems[name] = score_records(
            runs[name], with_answers=True, free_text=free_text_answers(cases)
        )


def set_name(dataset: str | Path) -> str:
    """A question set's name in reports and the runs log: its folder and file
    (``evals/seed_brief.jsonl``, ``clapnq_dev/questions.jsonl``), the same from any
    working directory."""
    return "/".join(Path(dataset).resolve().parts[-2:])


def load_saved_rows(saved: str | Path, dataset: str | Path) -> list[dict[str, Any]]:
    """The first system's per-question rows of a saved ``report.json`` of ``dataset``.

    Raises:
        ConfigError: the file cannot be read, is not a report with per-question rows
            (one written before they were kept), or is one of another question set.
    """
    path = Path(saved)
    problem = f"{path} is not a report.json with per-question rows"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read the saved report {path}: {exc}") from None
    systems = data.get("per_question") if isinstance(data, dict) else None
    rows = next(iter(systems.values()), None) if isinstance(systems, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{problem}; run the saved configuration once to write one")
    for n, row in enumerate(rows, 1):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("id"), str)
            and isinstance(row.get("values"), dict)
            and row.get("outcome") in (None, "answered", "low_confidence", "refused")
        ):
            raise ConfigError(f"{problem}: question row {n} has no id, values or outcome")
    saved_set = data.get("dataset")
    if not isinstance(saved_set, str) or "/".join(Path(saved_set).parts[-2:]) != set_name(dataset):
        raise ConfigError(f"{path} is a report on {saved_set!r}, not on {set_name(dataset)}")
    return rows


def compare_with_saved(report: EvalReport, saved: str | Path) -> EvalReport:
    """``report`` with what changed since a saved ``report.json`` of the same set: each
    question whose outcome, first sentence, citations or first passage changed (first
    configuration against the saved run's first system) and the yes/no metrics that
    dropped beyond noise.

    Raises:
        ConfigError: as :func:`load_saved_rows`.
    """
    rows = load_saved_rows(saved, report.dataset)
    current = next(iter(report.per_question.values()))
    report.against = str(saved)
    report.regressions = regressions(rows, current)
    report.drops = significant_drops(rows, current)
    return report


def _notes(cases: Sequence[EvalCase], free_text: bool) -> list[str]:
    """What a reader of this set's report needs to know about how it was scored."""
    notes = []
    if free_text:
        notes.append(
            "The gold answers are free text: first_sentence_gold matches the first answer "
            "sentence against the gold evidence sentences, not the answers."
        )
    whole_brief = sum(c.kind is not None for c in cases)
    untargeted = sum(not c.has_target for c in cases if not c.unanswerable)
    if whole_brief:
        notes.append(
            f"{whole_brief} whole-brief questions: right_source and the breakdown by kind "
            "score where the answer came from."
        )
    if untargeted:
        notes.append(
            f"{untargeted} answerable questions have no gold evidence: retrieval (hit@k, "
            "mrr, ndcg@10) and citation metrics leave them out."
        )
    return notes


def _write_docs(path: Path, folder: Path) -> Path:
    """Docs JSONL to one .txt brief per row, named by its doc_id (for the gold mapping)."""
    folder.mkdir(parents=True)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            name = re.sub(r"[^\w.#-]", "_", str(row["doc_id"])).replace("#", "%23")
            text = f"{row.get('title') or name}\n\n{row['text']}\n"
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BriefQAError(f"{path}:{number}: not a document row ({exc})") from exc
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def _doc_name(names: dict[str, str], doc_id: str) -> str:
    return names.get(doc_id, doc_id).replace("%23", "#")


def _run_ours(qa: Any, case: EvalCase, names: dict[str, str], tick: Callable[[], None]) -> Record:
    started = time.perf_counter()
    hits = qa.retrieve(case.question, k=10)
    retrieval_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    answer = qa.ask(case.question)
    answer_ms = (time.perf_counter() - started) * 1000
    relevant = [holds_evidence(h.text, case, _doc_name(names, h.doc_id)) for h in hits]
    sources = {s.chunk_id: s for s in answer.sources}
    cited = [
        holds_evidence(sources[c.chunk_id].text, case, _doc_name(names, c.doc_id))
        for c in answer.citations
    ]
    similarity = None
    if case.answers and not answer.refused:
        vectors = qa.embed([answer.text, *case.answers])
        similarity = float(max(vectors[1:] @ vectors[0]))
    read_gold = None
    if case.evidence and not case.unanswerable:
        read = qa.read(case.question)
        read_gold = [matches_evidence(r.sentence, case.evidence) for r in read] or None
    tick()
    contexts = [h.text for h in hits[: qa.settings.top_k]]
    return Record(
        case, relevant, retrieval_ms, answer, answer_ms, cited, similarity, read_gold, contexts
    )


def _run_retrieval(
    retrieve: Retrieve, case: EvalCase, names: dict[str, str], tick: Callable[[], None]
) -> Record:
    started = time.perf_counter()
    hits = retrieve(case.question)
    retrieval_ms = (time.perf_counter() - started) * 1000
    tick()
    return Record(
        case, [holds_evidence(h.text, case, _doc_name(names, h.doc_id)) for h in hits], retrieval_ms
    )


def _naive_retriever(qa: Any, path: Path) -> Retrieve:
    """The baseline an outside developer writes in twenty lines: the briefs' files split
    by characters, embedded with the same model (through the front door) into a Chroma
    collection of their own, searched by cosine."""
    import chromadb

    from . import load_brief

    raw = []
    for brief in qa.documents():
        if brief.sources:
            loaded = load_brief(brief.sources[0])
            body = loaded.text.split("\n\n", 1)[-1]  # without the title line
            raw.append((brief.doc_id, loaded.title, body))
    chunks = {c.chunk_id: c for c in naive_chunks(raw)}
    client = chromadb.PersistentClient(
        path=str(path), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    # No embedding function: Chroma's default would download a model; ours embeds.
    collection = client.get_or_create_collection(
        "naive", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    # Embedded as is: MiniLM silently truncates the longer 1,000-character chunks, which
    # is part of what this baseline shows.
    ids = list(chunks)
    collection.add(ids=ids, embeddings=qa.embed([chunks[i].text for i in ids]))

    def retrieve(question: str) -> list[Hit]:
        found: Any = collection.query(
            query_embeddings=[qa.embed([question])[0]], n_results=min(10, len(ids))
        )
        pairs = zip(found["ids"][0], found["distances"][0], strict=True)
        return [Hit.of(chunks[i], 1.0 - d, dense=1.0 - d) for i, d in pairs]

    return retrieve


def _wrong_source(answer: Answer, case: EvalCase) -> str:
    """Why a whole-brief question's answer came from the wrong place."""
    if case.kind == "section":
        got = dict.fromkeys(s or LEAD for s in cited_sections(answer))
        return (
            f"cited {', '.join(got) or 'nothing'}; needs {case.section} first and in at "
            "least half of the citations"
        )
    what = f"the brief's {case.field_name}" if case.kind == "field" else "the brief's title"
    return f"the answer does not give {what}"


def _failures(records: Sequence[Record]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        answer = r.answer
        if answer is None:
            continue
        if r.case.unanswerable:
            failed, why = not answer.refused, "answered an unanswerable question"
        elif answer.refused:
            failed, why = True, "refused an answerable question"
        elif r.case.kind is not None:
            failed, why = not right_source(answer, r.case), _wrong_source(answer, r.case)
        else:
            failed, why = not any(r.cited_relevant), "no citation holds the gold evidence"
        if failed:
            out.append(
                {
                    "id": r.case.id,
                    "question": r.case.question,
                    "why": why,
                    "expected": list(r.case.answers) or ["(refusal)"],
                    "got": answer.text,
                    "citations": [
                        {"n": c.n, "quote": c.quote, "support": c.support} for c in answer.citations
                    ],
                    "evidence_retrieved_at": next(
                        (i + 1 for i, good in enumerate(r.relevant) if good), None
                    ),
                }
            )
    return out


__all__ = [
    "BRIEF_FIELDS",
    "LEAD",
    "METRICS",
    "EvalCase",
    "EvalReport",
    "Record",
    "answer_metrics",
    "breakdown",
    "compare_with_saved",
    "contains_answer",
    "count_words",
    "first_sentence",
    "first_sentence_holds_gold",
    "free_text_answers",
    "hit_at",
    "holds_evidence",
    "load_dataset",
    "load_saved_rows",
    "matches_evidence",
    "ndcg",
    "normalize_answer",
    "outcome_of",
    "percentile",
    "question_rows",
    "question_values",
    "reciprocal_rank",
    "right_source",
    "run_evaluation",
    "score_records",
    "set_name",
    "token_f1",
]
