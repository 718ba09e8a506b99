"""The engine behind every front end: :class:`BriefQA`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from .answering import Answerer, History
from .embeddings import Embedder, embedder_from_settings
from .errors import ConfigError, NotFound
from .ingest import Progress, flush_pending, ingest_lock, run_ingest
from .manifest import Manifest
from .retrieval import CrossEncoderReranker, Retriever
from .schema import Answer, BriefInfo, Filters, Hit, IngestReport
from .settings import Settings, load_settings
from .store import VectorStore, store_from_settings


class BriefQA:
    """Q&A over a collection of policy briefs.

    Args:
        data_dir: where the index and manifest live; overrides ``settings.data_dir``.
        settings: configuration; read from the environment and ``briefqa.toml`` if omitted.
        embedder: an embedding model to use instead of the configured one (tests, reuse).
        store: a vector store to use instead of the configured Chroma.
        chat_model: a LangChain chat model to answer with instead of ``settings.llm``.

    Heavy parts (the embedding model, the Chroma client) load on first use, so listing
    documents is instant.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        chat_model: Any | None = None,
    ) -> None:
        settings = settings if settings is not None else load_settings()
        if data_dir is not None:
            settings = settings.with_overrides(data_dir=Path(data_dir))
        self.settings = settings
        self.data_dir = Path(settings.data_dir).expanduser().resolve()
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ConfigError(f"data_dir {self.data_dir} exists and is not a directory")
        self._embedder = embedder
        self._store = store
        self._manifest: Manifest | None = None
        self._answerer: Answerer | None = None
        self._chat_model = chat_model
        # The web UI and REST API share one engine across threads: build each heavy
        # part once.
        self._build_lock = threading.RLock()

    # ------------------------------------------------------------------ parts

    @property
    def embedder(self) -> Embedder:
        with self._build_lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    @property
    def store(self) -> VectorStore:
        with self._build_lock:
            if self._store is None:
                self._store = store_from_settings(self.settings, self.data_dir)
            return self._store

    @property
    def manifest(self) -> Manifest:
        with self._build_lock:
            if self._manifest is None:
                self._manifest = Manifest(self.data_dir / "manifest.sqlite3")
            return self._manifest

    @property
    def answerer(self) -> Answerer:
        with self._build_lock:
            return self._build_answerer()

    def _build_answerer(self) -> Answerer:
        if self._answerer is None:
            self._check_model(record=False)
            reranker = (
                CrossEncoderReranker(self.settings.reranker_model, self.settings.embedding_device)
                if self.settings.reranker_model
                else None
            )
            retriever = Retriever(self.store, self.embedder, self.manifest, reranker=reranker)
            generator = None
            if self.settings.llm != "extractive" or self._chat_model is not None:
                from .llm import build_generator

                generator = build_generator(self.settings, self._chat_model)
            self._answerer = Answerer(retriever, self.embedder, self.settings, generator)
        return self._answerer

    # -------------------------------------------------------------- questions

    def ask(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer a question from the briefs, with verified citations.

        ``history`` holds earlier turns, as (question, answer) pairs or
        ``{"role", "content"}`` messages; a follow-up is rewritten into a standalone
        question first. When the briefs do not cover the question, the answer says so,
        ``refused`` is true and ``nearest`` lists the closest passages.

        Raises:
            InvalidQuestion: the question is empty or too long.
        """
        return self.answerer.ask(question, history, filters)

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, yielding text pieces as they come and the final Answer last."""
        return self.answerer.stream(question, history, filters)

    def retrieve(self, question: str, k: int = 5, filters: Filters | None = None) -> list[Hit]:
        """The ``k`` passages most relevant to ``question`` (dense + BM25, fused)."""
        return self.answerer.retriever.retrieve(
            question, k=k, filters=filters, mmr=self.settings.mmr
        )

    # ---------------------------------------------------------------- briefs

    def ingest(
        self,
        paths: Iterable[str | Path] | str | Path,
        prune: bool = False,
        *,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index briefs from files and folders, incrementally.

        Unchanged files are skipped without embedding; changed ones replace their
        chunks; with ``prune``, briefs whose files are gone are removed. Bad files are
        reported in :attr:`IngestReport.errors` and do not stop the others.

        Raises:
            IndexLocked: another process is ingesting into the same data directory.
            ConfigError: the index was built with a different embedding model.
            StoreError: the vector store failed.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        with ingest_lock(self.data_dir):
            self._check_model(record=True)
            return run_ingest(
                paths,
                manifest=self.manifest,
                store=self.store,
                embedder=lambda: self.embedder,
                settings=self.settings,
                prune=prune,
                progress=progress,
            )

    def documents(self) -> list[BriefInfo]:
        """Every indexed brief, newest first."""
        return self.manifest.briefs()

    def remove(self, doc_id: str) -> None:
        """Remove a brief and its chunks from the index.

        Raises:
            NotFound: no brief has this id.
        """
        with ingest_lock(self.data_dir):
            if self.manifest.remove_brief(doc_id) is None:
                raise NotFound(doc_id)
            flush_pending(self.manifest, self.store)

    # --------------------------------------------------------------- helpers

    def _check_model(self, *, record: bool) -> None:
        """The index must be queried and extended with what built it: the same embedding
        model, and (when adding to it) the same chunking, so chunks never mix sizes.

        ``record`` (on ingest) stores these for a new index and checks the chunking too.
        """
        # Compare names without loading the model: an unchanged re-ingest stays instant.
        name = self._embedder.name if self._embedder is not None else self.settings.embedding_model
        chunking = f"{self.settings.chunk_tokens}/{self.settings.chunk_overlap_tokens}"
        wanted = {"embedding_model": name}
        if record:
            wanted["chunking"] = chunking
        for key, value in wanted.items():
            recorded = self.manifest.get_meta(key)
            if recorded is None:
                if record:
                    self.manifest.set_meta(key, value)
            elif recorded != value:
                what = "embedding model" if key == "embedding_model" else "chunk_tokens/overlap"
                raise ConfigError(
                    f"the index in {self.data_dir} was built with {what} {recorded!r}, "
                    f"not {value!r}; use another data_dir, or the same settings"
                )

    def close(self) -> None:
        """Release the manifest's database connection; the engine reopens what it needs
        if used again."""
        with self._build_lock:
            self._answerer = None  # it holds the manifest being closed
            if self._manifest is not None:
                self._manifest.close()
                self._manifest = None

    def __enter__(self) -> BriefQA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
