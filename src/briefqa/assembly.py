"""How the engine's parts are built: each once, on first use, shared by every thread.

:class:`~briefqa.engine.BriefQA` is the facade users call; :class:`Parts` is what stands
behind it: the embedding model, the one :class:`~briefqa.answer.retrieval.Retriever`
(dense, BM25, reranking) and the :class:`~briefqa.answer.chain.Answerer` that uses it.
A search builds the retriever and never the answer writer, so a search-only use (MCP
``search_briefs``, ``as_retriever``) with ``llm=llamacpp`` loads no language model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .answer.chain import Answerer, writer_from_settings
from .answer.overview import Overview
from .answer.reader import Reader, reader_from_settings
from .answer.retrieval import CrossEncoderReranker, Retriever
from .answer.writing import Writer
from .errors import BriefQAError
from .index.directory import Index
from .index.embeddings import CachedEmbedder, Embedder, embedder_from_settings
from .schema import Filters, Hit
from .settings import Settings


class Parts:
    """The heavy parts over one :class:`~briefqa.index.directory.Index`, built lazily.

    ``embedder``, ``writer`` and ``reader`` replace the configured ones when given.
    """

    def __init__(
        self,
        index: Index,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        writer: Writer | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.index = index
        self.settings = settings
        self._embedder = embedder
        self._writer = writer
        self._reader = reader
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        # The web UI and REST API share one engine across threads: build each part once.
        self.lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self.lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    def get_embedder(self) -> Embedder:
        """The embedding model, for those that load it only when they first embed."""
        return self.embedder

    @property
    def retriever(self) -> Retriever:
        with self.lock:
            if self._retriever is None:
                settings = self.settings
                reranker = (
                    CrossEncoderReranker(settings.reranker_model, settings.embedding_device)
                    if settings.reranker_model
                    else None
                )
                self._retriever = Retriever(
                    self.index.store,
                    self.get_embedder,  # loaded by the first dense search, not a refresh
                    self.index.manifest,
                    reranker=reranker,
                    cache_dir=self.index.data_dir / "bm25",
                )
            return self._retriever

    @property
    def answerer(self) -> Answerer:
        with self.lock:
            if self._answerer is None:
                self._answerer = self._build_answerer()
            return self._answerer

    def _build_answerer(self) -> Answerer:
        index, settings, given = self.index, self.settings, self._writer
        index.check_compatible(record=False)
        retriever = self.retriever
        embedder = CachedEmbedder(self.embedder)

        # Called by the first answer, not here: see the module's docstring.
        def writer() -> Writer:
            return given if given is not None else writer_from_settings(settings, embedder)

        def search(question: str, k: int, filters: Filters | None) -> list[Hit]:
            return retriever.retrieve(question, k=k, filters=filters, mmr=settings.mmr)

        return Answerer(
            retriever,
            embedder,
            settings,
            writer,
            Overview(index.manifest, index.store, search),
            sentences=index.sentences,
            reader=self._reader if self._reader is not None else reader_from_settings(settings),
        )

    def refresh(self) -> None:
        """What ends every write: the lexical index follows now, while the caller expects
        to wait, not at the next question; saved, it is what a server starting on this
        data dir maps."""
        self.retriever.refresh()

    def reset(self) -> None:
        """Drop the retriever and the answerer (they hold the manifest being closed or
        rebuilt); the next use builds them again."""
        with self.lock:
            self._answerer = self._retriever = None

    def warm_up(self) -> None:
        """Load every model and build the retrieval indexes now."""
        answerer = self.answerer
        self.retriever.idf()
        self.embedder.embed(["warm-up"])
        if answerer.reader is not None:
            answerer.reader.score("warm-up", ["warm-up"])

    def health(self, read: Callable[[], object]) -> dict[str, str]:
        """Each part answers need, "ok" or what is wrong with it; ``read`` probes the
        reading model (skipped with ``reader=off``)."""
        probes: dict[str, Callable[[], object]] = {
            "manifest": self.index.manifest.briefs,
            "vector_store": self.index.store.count,
            "embedding_model": lambda: self.embedder.embed(["health"]),
        }
        if self.settings.reader != "off":
            probes["reading_model"] = read
        checks: dict[str, str] = {}
        for name, probe in probes.items():
            try:
                probe()
                checks[name] = "ok"
            except BriefQAError as exc:
                checks[name] = str(exc)
            except Exception as exc:  # a health check reports any failure, never raises
                # The type only: a raw message may hold a URL with its password.
                checks[name] = f"failed ({type(exc).__name__})"
        return checks
