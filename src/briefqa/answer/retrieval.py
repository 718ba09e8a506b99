"""Hybrid retrieval: dense (vector store) + BM25, fused by reciprocal rank.

The BM25 side indexes the chunks the manifest lists and follows every change of the
manifest's generation: added chunks are read from the store and indexed, removed ones
dropped, so it never disagrees with the index. Each build is saved
under ``data_dir/bm25/gen-N`` and memory-mapped by every engine (and worker process)
that meets the same generation, so a restart or a second worker does not rebuild it.
Optional MMR adds diversity; an optional cross-encoder reranks the fused candidates.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ..errors import ConfigError
from ..index.bm25 import LexicalIndex
from ..index.embeddings import Embedder
from ..index.manifest import Manifest
from ..index.store import VectorStore
from ..memory import release_free_memory
from ..schema import Chunk, Filters, Hit
from ..text import content_terms

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
    index: LexicalIndex | None  # None: no chunks


class Retriever:
    """Finds the chunks most relevant to a question."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Callable[[], Embedder],
        manifest: Manifest,
        *,
        reranker: Reranker | None = None,
        candidates: int = 30,
        cache_dir: Path | None = None,
    ) -> None:
        """``embedder`` returns the embedding model; it is called by the first dense
        search, so keeping the lexical index current (:meth:`refresh`) loads no model."""
        self.store = store
        self._load_embedder = embedder
        self._embedder: Embedder | None = None
        self.manifest = manifest
        self.reranker = reranker
        self.candidates = candidates
        self.cache_dir = cache_dir
        self._lexical: _Lexical | None = None
        self._lock = threading.Lock()
        self._embedder_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedding model of dense search."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = self._load_embedder()
            return self._embedder

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

    def refresh(self) -> None:
        """Bring the lexical index up to the manifest's generation now, and save it."""
        self._lexical_index()

    def idf(self) -> Callable[[str], float]:
        """Inverse document frequency of a content term over the indexed chunks.

        Terms absent from the index get the highest value: a question about a word no
        brief uses is likely about something the briefs do not cover. The index the
        last search used serves (a weight, not a result: no round trip to the manifest).
        """
        lexical = self._lexical or self._lexical_index()
        index = lexical.index
        total = len(index) if index is not None else 0

        def idf(term: str) -> float:
            frequency = index.document_frequency(term) if index is not None else 0
            return math.log((total + 1) / (frequency + 0.5))

        return idf

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
        index = self._index_listed()
        if index is None or not len(index):  # nothing listed, or none of it stored
            return _Lexical(generation, None)
        lexical = _Lexical(generation, index)
        if self.cache_dir is not None:
            self._save(generation, index)
            # Served from the saved files, mapped, rather than from the arrays just built:
            # only what questions touch stays in memory (65 MB less at 96k chunks).
            lexical = self._load(generation) or lexical
        release_free_memory()  # the chunks' texts and terms read for it
        return lexical

    def _index_listed(self) -> LexicalIndex | None:
        """The index of the chunks the manifest lists: the last index (this engine's, or
        the newest one saved) updated with the chunks added since, which reads only
        those (1.2–1.5 s instead of 12–14 s at 96k chunks); built from the whole store
        when there is none or most chunks are new."""
        listed = set(self.manifest.chunk_ids())
        if not listed:
            return None
        base = self._lexical.index if self._lexical is not None else self._newest_saved()
        known = set() if base is None else set(base.ids)
        new = sorted(listed - known)
        if base is not None and len(new) <= len(listed) // 2:
            added = self._fetch(new)
            return base.updated(
                listed, [(c.chunk_id, c.doc_id, content_terms(c.embedding_text)) for c in added]
            )
        chunks = [c for c in self.store.scan() if c.chunk_id in listed]
        return LexicalIndex.build(
            [c.chunk_id for c in chunks],
            [c.doc_id for c in chunks],
            [content_terms(c.embedding_text) for c in chunks],
        )

    def _fetch(self, chunk_ids: list[str], page: int = 5_000) -> list[Chunk]:
        return [
            c
            for i in range(0, len(chunk_ids), page)
            for c in self.store.get(chunk_ids[i : i + page])
        ]

    def _newest_saved(self) -> LexicalIndex | None:
        """The index saved for the latest generation any engine met, to update from."""
        if self.cache_dir is None:
            return None
        saved = [int(p.name[4:]) for p in self.cache_dir.glob("gen-*") if p.name[4:].isdigit()]
        lexical = self._load(max(saved)) if saved else None
        return lexical.index if lexical is not None else None

    def _save(self, generation: int, index: LexicalIndex) -> None:
        """Write the index where other engines find it; a failure only costs a rebuild."""
        assert self.cache_dir is not None
        target = self.cache_dir / f"gen-{generation}"
        partial = self.cache_dir / f".partial-{os.getpid()}-{threading.get_ident()}"
        try:
            shutil.rmtree(partial, ignore_errors=True)
            index.save(partial)
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
        if not path.is_dir():
            return None
        try:
            return _Lexical(generation, LexicalIndex.load(path))
        except (OSError, ValueError) as exc:
            # Removed meanwhile, damaged, or saved by an older briefqa: rebuilt (and the
            # rebuilt one replaces it).
            damaged = "damaged" in str(exc)
            (log.warning if damaged else log.info)("rebuilding the BM25 index: %s", exc)
            shutil.rmtree(path, ignore_errors=True)
            return None

    def _bm25(self, question: str, k: int, allowed: set[str] | None) -> list[tuple[Chunk, float]]:
        index = self._lexical_index().index
        if index is None:
            return []
        terms = [t for t in content_terms(question) if t in index]
        if not terms:
            return []
        scores = index.scores(terms, allowed)
        best = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
        top = [int(i) for i in best[np.argsort(-scores[best], kind="stable")] if scores[i] > 0]
        # Only the winners' texts are needed: fetch them rather than keep every chunk.
        ids = [index.chunk_id(i) for i in top]
        found = {c.chunk_id: c for c in self.store.get(ids)}
        return [(found[c], float(scores[i])) for c, i in zip(ids, top, strict=True) if c in found]

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
