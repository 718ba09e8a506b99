"""Hybrid retrieval: dense (vector store) + BM25, fused by reciprocal rank.

The BM25 side is built from the store's own chunks and rebuilt whenever the manifest's
generation changes, so it never disagrees with the vector index. Each build is saved
under ``data_dir/bm25/gen-N`` and memory-mapped by every engine (and worker process)
that meets the same generation, so a restart or a second worker does not rebuild it.
Optional MMR adds diversity; an optional cross-encoder reranks the fused candidates.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from .embeddings import Embedder
from .errors import ConfigError
from .manifest import Manifest
from .schema import Chunk, Filters, Hit
from .store import VectorStore
from .text import content_terms

log = logging.getLogger(__name__)

#: Reciprocal-rank-fusion constant (Cormack et al. 2009); damps the weight of top ranks.
RRF_K = 60


class Reranker(Protocol):
    """Scores (question, passage) pairs; higher is more relevant."""

    def score(self, question: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local directory."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        try:
            self._model: Any = CrossEncoder(path, device=device, local_files_only=True)
        except Exception as exc:
            raise ConfigError(f"cannot load the reranker from {path!r}: {exc}") from exc

    def score(self, question: str, passages: Sequence[str]) -> list[float]:
        scores = self._model.predict([(question, p) for p in passages], show_progress_bar=False)
        return [float(s) for s in scores]


@dataclass
class _Lexical:
    generation: int
    chunk_ids: list[str]  # row order of the index; texts are fetched from the store
    doc_ids: np.ndarray[Any, Any]  # per row, for filters
    index: Any  # bm25s.BM25, memory-mapped when loaded from disk
    document_frequency: dict[str, int]  # its keys are the index's vocabulary


class Retriever:
    """Finds the chunks most relevant to a question."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        manifest: Manifest,
        *,
        reranker: Reranker | None = None,
        candidates: int = 30,
        cache_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.manifest = manifest
        self.reranker = reranker
        self.candidates = candidates
        self.cache_dir = cache_dir
        self._lexical: _Lexical | None = None
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- public

    def retrieve(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        *,
        mmr: float | None = None,
        query_vector: np.ndarray[Any, Any] | None = None,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best chunks for ``question``, best first.

        Args:
            filters: restrict to some briefs or a date range.
            mmr: if set (0–1), re-select for diversity with maximal marginal relevance,
                ``mmr`` weighting relevance against novelty.
            query_vector: the question's embedding, if the caller already has it.
            mode: ``hybrid`` (default), or one retriever alone, for comparisons.
        """
        if k <= 0:
            return []
        allowed = self._allowed(filters)
        if allowed is not None and not allowed:
            return []
        vector = query_vector if query_vector is not None else self.embedder.embed([question])[0]
        pool = max(self.candidates, 3 * k)
        where = {"doc_id": {"$in": sorted(allowed)}} if allowed is not None else None
        dense = self.store.search(vector, pool, where=where) if mode != "lexical" else []
        lexical = self._bm25(question, pool, allowed) if mode != "dense" else []

        fused: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        dense_scores: dict[str, float] = {}
        lexical_scores: dict[str, float] = {}
        for rank, (chunk, similarity) in enumerate(dense):
            fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1 / (RRF_K + rank + 1)
            chunks[chunk.chunk_id] = chunk
            dense_scores[chunk.chunk_id] = similarity
        for rank, (chunk, score) in enumerate(lexical):
            fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1 / (RRF_K + rank + 1)
            chunks.setdefault(chunk.chunk_id, chunk)
            lexical_scores[chunk.chunk_id] = score
        order = sorted(fused, key=fused.__getitem__, reverse=True)

        scores = {cid: fused[cid] * RRF_K / 2 for cid in order}  # 1.0 = first in both lists
        if self.reranker is not None and order:
            top = order[: max(2 * k, 10)]
            reranked = self.reranker.score(question, [chunks[c].text for c in top])
            scores = dict(zip(top, reranked, strict=True))
            order = sorted(top, key=scores.__getitem__, reverse=True)
        if mmr is not None and len(order) > k:
            order = self._mmr(vector, [chunks[c] for c in order[: 3 * k]], k, mmr)
        hits = [
            Hit.of(
                chunks[cid],
                round(scores[cid], 6),
                dense=dense_scores.get(cid),
                lexical=lexical_scores.get(cid),
            )
            for cid in order
        ]
        return _without_repeats(hits, k)

    def idf(self) -> Callable[[str], float]:
        """Inverse document frequency of a content term over the indexed chunks.

        Terms absent from the index get the highest value: a question about a word no
        brief uses is likely about something the briefs do not cover.
        """
        lexical = self._lexical_index()
        total = len(lexical.chunk_ids)
        frequency = lexical.document_frequency
        return lambda term: math.log((total + 1) / (frequency.get(term, 0) + 0.5))

    # ---------------------------------------------------------------- helpers

    def _allowed(self, filters: Filters | None) -> set[str] | None:
        if filters is None or not filters.active:
            return None
        return {b.doc_id for b in self.manifest.briefs() if filters.admits(b)}

    def _lexical_index(self) -> _Lexical:
        generation = self.manifest.generation()
        with self._lock:
            if self._lexical is None or self._lexical.generation != generation:
                self._lexical = self._load(generation) or self._build(generation)
            return self._lexical

    def _build(self, generation: int) -> _Lexical:
        import bm25s

        chunks = sorted(self.store.scan(), key=lambda c: c.chunk_id)
        corpus = [content_terms(c.embedding_text) for c in chunks]
        index = bm25s.BM25()
        if chunks:
            index.index(corpus, show_progress=False)
        frequency = Counter(t for terms in corpus for t in set(terms))
        lexical = _Lexical(
            generation,
            [c.chunk_id for c in chunks],
            np.array([c.doc_id for c in chunks], dtype=object),
            index,
            dict(frequency),
        )
        if self.cache_dir is not None and chunks:
            self._save(lexical)
        return lexical

    def _save(self, lexical: _Lexical) -> None:
        """Write the index where other engines find it; a failure only costs a rebuild."""
        assert self.cache_dir is not None
        target = self.cache_dir / f"gen-{lexical.generation}"
        partial = self.cache_dir / f".partial-{os.getpid()}-{threading.get_ident()}"
        try:
            shutil.rmtree(partial, ignore_errors=True)
            lexical.index.save(str(partial), show_progress=False)
            rows = {
                "chunk_ids": lexical.chunk_ids,
                "doc_ids": list(lexical.doc_ids),
                "document_frequency": lexical.document_frequency,
            }
            (partial / "rows.json").write_text(json.dumps(rows))
            try:
                os.rename(partial, target)  # atomic: readers see all of it or nothing
            except OSError:  # another worker saved this generation first
                shutil.rmtree(partial, ignore_errors=True)
            for old in self.cache_dir.glob("gen-*"):
                if old.name != target.name:
                    shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            log.warning("could not save the BM25 index to %s: %s", target, exc)

    def _load(self, generation: int) -> _Lexical | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / f"gen-{generation}"
        if not (path / "rows.json").exists():
            return None
        import bm25s

        try:
            rows = json.loads((path / "rows.json").read_text())
            index = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
        except (OSError, ValueError) as exc:  # removed meanwhile, or damaged: rebuild
            log.warning("could not load the BM25 index from %s: %s", path, exc)
            return None
        return _Lexical(
            generation,
            rows["chunk_ids"],
            np.array(rows["doc_ids"], dtype=object),
            index,
            rows["document_frequency"],
        )

    def _bm25(self, question: str, k: int, allowed: set[str] | None) -> list[tuple[Chunk, float]]:
        lexical = self._lexical_index()
        terms = [t for t in content_terms(question) if t in lexical.document_frequency]
        if not terms or not lexical.chunk_ids:
            return []
        scores = np.asarray(lexical.index.get_scores(terms), dtype=np.float32)
        if allowed is not None:
            mask = np.fromiter((d in allowed for d in lexical.doc_ids), dtype=bool)
            scores = np.where(mask, scores, 0.0)
        top = [int(i) for i in np.argsort(-scores)[:k] if scores[i] > 0]
        # Only the winners' texts are needed: fetch them rather than keep every chunk.
        found = {c.chunk_id: c for c in self.store.get([lexical.chunk_ids[i] for i in top])}
        return [
            (found[lexical.chunk_ids[i]], float(scores[i]))
            for i in top
            if lexical.chunk_ids[i] in found
        ]

    def _mmr(
        self, query: np.ndarray[Any, Any], pool: list[Chunk], k: int, weight: float
    ) -> list[str]:
        vectors = self.embedder.embed([c.embedding_text for c in pool])
        relevance = vectors @ query
        chosen: list[int] = []
        while len(chosen) < min(k, len(pool)):
            best, best_value = -1, -np.inf
            for i in range(len(pool)):
                if i in chosen:
                    continue
                redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
                value = weight * float(relevance[i]) - (1 - weight) * redundancy
                if value > best_value:
                    best, best_value = i, value
            chosen.append(best)
        return [pool[i].chunk_id for i in chosen]


def _without_repeats(hits: list[Hit], k: int) -> list[Hit]:
    """The first ``k`` hits, each cut to what the better hits of its brief do not show.

    Neighbouring windows share their overlap sentences: shown together, the passages
    would repeat a sentence. A hit that starts or ends inside a better one keeps only its
    own sentences (windows are whole sentences, so the cut falls between two); one that
    adds nothing is left out.
    """
    shown: dict[str, list[tuple[int, int]]] = {}
    kept: list[Hit] = []
    for hit in hits:
        if len(kept) == k:
            break
        spans = shown.setdefault(hit.doc_id, [])
        start, end = hit.start, hit.end
        for a, b in sorted(spans):
            if a <= start < b:
                start = b
            elif start < a < end:
                end = a
        own = hit.text[start - hit.start : end - hit.start]
        if not own.strip():
            continue
        lead = len(own) - len(own.lstrip())
        start, end = start + lead, start + len(own.rstrip())
        spans.append((hit.start, hit.end))
        if (start, end) != (hit.start, hit.end):
            hit = replace(
                hit, text=hit.text[start - hit.start : end - hit.start], start=start, end=end
            )
        kept.append(hit)
    return kept
