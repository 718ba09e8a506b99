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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BriefQAError
from .schema import Answer, Chunk, Hit
from .text import normalize

#: Metric key → definition, as printed in the reports.
METRICS: dict[str, str] = {
    "hit@1": "share of answerable questions whose gold evidence is in the top retrieved chunk",
    "hit@3": "… in one of the top 3 chunks",
    "hit@5": "… in one of the top 5 chunks",
    "mrr": "mean reciprocal rank of the first chunk holding the gold evidence (0 if not in top 10)",
    "ndcg@10": "nDCG of the top 10, binary gain = chunk holds gold evidence; ideal = those "
    "chunks ranked first",
    "answer_contained": "share of answered answerable questions whose answer contains a gold "
    "answer (lower-cased, punctuation and articles removed)",
    "token_f1": "SQuAD token F1 of answer vs best gold answer, mean over answered answerable",
    "answer_words": "mean answer length in words",
    "semantic_similarity": "PROXY: MiniLM cosine of answer and best gold answer",
    "citation_precision": "share of citations whose chunk holds the gold evidence",
    "citation_recall": "share of answered answerable questions with a citation to a chunk "
    "holding the gold evidence",
    "supported_share": "share of answer sentences that their citations support (verifier)",
    "refused_unanswerable": "share of unanswerable questions refused",
    "false_refusal": "share of answerable questions refused",
    "latency_p50_ms": "median time of the whole answer (retrieval for baselines)",
    "latency_p95_ms": "95th percentile of the whole answer (retrieval for baselines)",
    "retrieval_p50_ms": "median retrieval time",
    "retrieval_p95_ms": "95th percentile retrieval time",
}
#: Metrics where lower is better (for --fail-under direction and for the report).
LOWER_IS_BETTER = frozenset(
    {"false_refusal", "latency_p50_ms", "latency_p95_ms", "retrieval_p50_ms", "retrieval_p95_ms"}
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


@dataclass(frozen=True)
class EvalCase:
    """One question with its gold labels."""

    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]  # evidence sentences (or the whole evidence text)
    evidence_doc_id: str | None
    unanswerable: bool


def load_dataset(path: str | Path) -> list[EvalCase]:
    """Read a JSONL question set (see the README for its fields and aliases)."""
    cases = []
    path = Path(path)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
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
        cases.append(
            EvalCase(
                id=str(row.get("id", number)),
                question=question,
                answers=tuple(row.get("answers") or ()),
                evidence=tuple(normalize(s) for s in sentences if s and s.strip()),
                evidence_doc_id=row.get("evidence_doc_id"),
                unanswerable=unanswerable,
            )
        )
    if not cases:
        raise BriefQAError(f"{path}: no questions in the dataset")
    return cases


def holds_evidence(text: str, case: EvalCase, doc_name: str | None = None) -> bool:
    """Does a chunk hold the gold evidence (any evidence sentence), or, without evidence
    text, come from the gold document?"""
    if case.evidence:
        flat = normalize(text)
        return any(sentence in flat for sentence in case.evidence)
    return case.evidence_doc_id is not None and doc_name == case.evidence_doc_id


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "questions": self.questions,
            "systems": self.systems,
            "failures": self.failures,
        }


Retrieve = Callable[[str], list[Hit]]


def score_records(records: Sequence[Record], with_answers: bool) -> dict[str, float]:
    """The metric table of one system."""
    answerable = [r for r in records if not r.case.unanswerable]
    out: dict[str, float] = {}
    if answerable:
        for k in (1, 3, 5):
            out[f"hit@{k}"] = _mean(hit_at(r.relevant, k) for r in answerable)
        out["mrr"] = _mean(reciprocal_rank(r.relevant) for r in answerable)
        out["ndcg@10"] = _mean(ndcg(r.relevant) for r in answerable)
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
        citations = [c for r in answered for c in r.cited_relevant]
        if citations:
            out["citation_precision"] = _mean(citations)
        out["citation_recall"] = _mean(any(r.cited_relevant) for r in answered)
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
    answers_ms = [r.answer_ms for r in records]
    out["latency_p50_ms"] = percentile(answers_ms, 50)
    out["latency_p95_ms"] = percentile(answers_ms, 95)
    return {k: round(v, 4) for k, v in out.items()}


def _sentences(text: str) -> int:
    from .text import sentence_spans

    return len(list(sentence_spans(text)))


def _mean(values: Iterable[float | bool]) -> float:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else 0.0


def naive_chunks(docs: Sequence[tuple[str, str, str]]) -> list[Chunk]:
    """LangChain's RecursiveCharacterTextSplitter(1000, 200) over raw document text."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

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
) -> EvalReport:
    """Run a question set through briefqa (and baselines, on the same corpus).

    With ``docs`` (JSONL of ``{doc_id, title, text}``) or ``corpus`` (a folder of briefs)
    a fresh index is built in a temp dir; otherwise the configured index is used.
    """
    from .engine import BriefQA
    from .settings import Settings

    unknown = set(baselines) - {"naive", "bm25"}
    if unknown:
        raise BriefQAError(f"unknown baseline(s) {sorted(unknown)}; choose from naive, bm25")
    cases = load_dataset(dataset)
    settings = (settings or Settings()).with_overrides(top_k=k)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="briefqa-eval-") as tmp:
        folder = Path(tmp)
        if docs is not None:
            source = _write_docs(Path(docs), folder / "corpus")
        elif corpus is not None:
            source = Path(corpus)
        else:
            source = None
        data_dir = folder / "index" if source is not None else None
        with BriefQA(data_dir, settings=settings, embedder=embedder) as qa:
            if source is not None:
                report = qa.ingest([source])
                if report.failed:
                    raise BriefQAError(f"could not index the eval corpus: {report.errors[:3]}")
            names = {
                b.doc_id: Path(b.sources[0]).stem if b.sources else b.doc_id for b in qa.documents()
            }
            total = len(cases) * (1 + len(baselines))
            done = 0

            def tick() -> None:
                nonlocal done
                done += 1
                if progress:
                    progress(done, total)

            ours = [_run_ours(qa, case, names, tick) for case in cases]
            systems = {"briefqa": score_records(ours, with_answers=True)}
            if "naive" in baselines:
                retrieve = _naive_retriever(qa, folder / "naive")
                systems["naive"] = score_records(
                    [_run_retrieval(retrieve, case, names, tick) for case in cases], False
                )
            if "bm25" in baselines:

                def bm25(question: str) -> list[Hit]:
                    return qa.answerer.retriever.retrieve(question, k=10, mode="lexical")

                systems["bm25"] = score_records(
                    [_run_retrieval(bm25, case, names, tick) for case in cases], False
                )
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
    )


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
        vectors = qa.embedder.embed([answer.text, *case.answers])
        similarity = float(max(vectors[1:] @ vectors[0]))
    tick()
    return Record(case, relevant, retrieval_ms, answer, answer_ms, cited, similarity)


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
    from .loaders import load_brief
    from .store import ChromaStore

    raw = []
    for brief in qa.documents():
        if brief.sources:
            loaded = load_brief(brief.sources[0])
            body = loaded.text.split("\n\n", 1)[-1]  # without the title line
            raw.append((brief.doc_id, loaded.title, body))
    chunks = naive_chunks(raw)
    store = ChromaStore.persistent(path, "naive")
    # Embedded as is: MiniLM silently truncates the longer 1,000-character chunks, which
    # is part of what this baseline shows.
    store.upsert(chunks, qa.embedder.embed([c.text for c in chunks]))

    def retrieve(question: str) -> list[Hit]:
        vector = qa.embedder.embed([question])[0]
        return [Hit.of(c, s, dense=s) for c, s in store.search(vector, 10)]

    return retrieve


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
    "METRICS",
    "EvalCase",
    "EvalReport",
    "Record",
    "contains_answer",
    "hit_at",
    "holds_evidence",
    "load_dataset",
    "ndcg",
    "normalize_answer",
    "percentile",
    "reciprocal_rank",
    "run_evaluation",
    "score_records",
    "token_f1",
]
