"""Embedding models behind one small interface.

An :class:`Embedder` turns texts into L2-normalised vectors and counts the word pieces
its model reads, so that the chunker can guarantee no chunk is silently truncated.
What some models can do besides is declared as protocols of its own
(:class:`BatchedEmbedder`, :class:`SpanEmbedder`), which callers check with ``isinstance``.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import EmbeddingError
from ..settings import PACKAGED_EMBEDDING_MODEL, Settings
from .encoding import Vectors as Vectors  # re-exported: where most modules import it
from .encoding import embed_passages, model_cache_dir, resolve_model


@runtime_checkable
class Embedder(Protocol):
    """What briefqa needs from an embedding model."""

    #: Name recorded in the index, so a store is never queried with another model.
    name: str
    #: Most word pieces of content the model reads (special tokens excluded).
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Encode texts into an ``(n, dim)`` float32 array of unit vectors.

        Raises:
            EmbeddingError: the model failed.
        """
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of content in each text, as the model would read them."""
        ...


@runtime_checkable
class BatchedEmbedder(Protocol):
    """An embedder that encodes in batches of a known size; ingest sizes its writes by
    it (several batches a write), and assumes 64 texts for one that does not say."""

    #: Texts per forward pass.
    batch_size: int


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that can embed passages and their sentences in one pass; ingest
    then stores the sentence vectors (sentences.py) at no extra cost."""

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Vectors of ``texts`` and, per text, an ``(n, dim)`` array of its ``spans``
        (character ranges, one per sentence).

        Raises:
            EmbeddingError: the model failed.
        """
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded from local files only."""

    def __init__(
        self, model: str = PACKAGED_EMBEDDING_MODEL, *, device: str = "cpu", batch_size: int = 64
    ) -> None:
        path = resolve_model(model)
        # The model is on disk; never let transformers reach for the Hugging Face hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar on every start

        try:
            self._model: Any = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:  # torch/transformers raise many types on a bad model dir
            raise EmbeddingError(f"cannot load embedding model from {path}: {exc}") from exc
        self.name = model
        self.batch_size = batch_size
        tokenizer = self._model.tokenizer
        special = len(tokenizer("")["input_ids"])
        limit: int = self._model.max_seq_length or tokenizer.model_max_length
        self.max_tokens = limit - special
        # Read once: ingest asks for it with every batch. (The method was renamed in
        # sentence-transformers 5; the old name warns.)
        size = getattr(self._model, "get_embedding_dimension", None)
        size = size or self._model.get_sentence_embedding_dimension
        self._dimension = int(size() or 0)
        # Tokenizers from `tokenizers` are not safe to share across threads mid-call.
        self._lock = threading.Lock()
        # Token counting (chunking an upload) gets a tokenizer of its own, so that it
        # does not queue behind every question's forward pass while a server is busy.
        self._counter = copy.deepcopy(tokenizer)
        self._counter_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            with self._lock:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Vectors of passages built from their parts, and of those parts.

        Each span (a sentence) and the text before the first span (a heading) is encoded
        once, however many passages repeat it; a passage's vector is the normalised mean
        of its parts' vectors. Overlapping chunks share sentences, so this encodes fewer
        tokens than encoding whole chunks, and answering later scores those sentences with
        the stored vectors instead of encoding them at question time. On our eval sets it
        retrieves as well as whole-chunk vectors (evals/README.md).
        """
        return embed_passages(self.embed, texts, spans, self.dimension)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._counter_lock:
            encoded = self._counter(
                list(texts),
                add_special_tokens=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
        return [len(ids) for ids in encoded["input_ids"]]

    @property
    def dimension(self) -> int:
        return self._dimension


class CachedEmbedder:
    """An embedder that remembers recent vectors by text (LRU).

    Answering embeds the sentences of retrieved passages, and verification embeds the
    same sentences again; popular passages recur across questions. The cache makes
    each sentence cost one encoding.
    """

    def __init__(self, inner: Embedder, size: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.size = size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted meanwhile by another thread
                    vector = self.inner.embed([text])[0]
                else:
                    self._cache.move_to_end(text)
                rows.append(vector)
        if not rows:
            return self.inner.embed([])
        return np.stack(rows).astype(np.float32, copy=False)

    def remember(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Seed the cache with vectors computed elsewhere (stored at ingest)."""
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                if text not in self._cache:
                    self._cache[text] = vector
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def embedder_from_settings(settings: Settings) -> Embedder:
    """The embedder the settings ask for; each backend is imported only when chosen.

    Both backends give the same vectors under the same model name, so an index built
    with one is queried with the other. ONNX serves ingest too: on the ClapNQ chunks it
    encodes as fast as torch or faster (benchmarks/bench_ingest.py --backend).
    """
    match settings.embedding_backend:
        case "onnx":
            from .onnx_embedder import OnnxEmbedder

            return OnnxEmbedder(
                settings.embedding_model,
                cache_dir=model_cache_dir(settings),
                batch_size=settings.embedding_batch_size,
            )
        case "torch":
            return SentenceTransformerEmbedder(
                settings.embedding_model,
                device=settings.embedding_device,
                batch_size=settings.embedding_batch_size,
            )
