"""The engine behind every front end: :class:`BriefQA`, a facade over the index
(:mod:`briefqa.index.directory`), ingestion (:mod:`briefqa.index.ingest`), checks
(:mod:`briefqa.index.integrity`) and answering (:mod:`briefqa.answer.chain`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from .answer.chain import Answerer, History, check_text, writer_from_settings
from .answer.overview import Overview
from .answer.reader import Reader
from .answer.refusal import Evidence
from .answer.retrieval import CrossEncoderReranker, Retriever
from .answer.writing import Writer
from .errors import BriefQAError, NotFound
from .feedback import FeedbackLog
from .index.directory import Index
from .index.embeddings import CachedEmbedder, Embedder, Vectors, embedder_from_settings
from .index.ingest import Progress, add_upload, run_ingest
from .index.integrity import check_index, rebuild_files
from .index.store import VectorStore
from .schema import Answer, BriefInfo, Chunk, Filters, Hit, IndexCheck, IngestReport, Reading
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from .langchain_retriever import BriefRetriever


class BriefQA:
    """Q&A over a collection of policy briefs.

    Args:
        data_dir: where the index and manifest live; overrides ``settings.data_dir``.
        settings: configuration; read from the environment and ``briefqa.toml`` if omitted.
        embedder: an embedding model to use instead of the configured one (tests, reuse).
        store: a vector store to use instead of the configured Chroma.
        writer: a :class:`~briefqa.answer.writing.Writer` instead of the one ``settings.llm``
            names, e.g. ``ChatWriter(settings, model)`` over your LangChain chat model.
        reader: a :class:`~briefqa.answer.reader.Reader` instead of the one ``settings.reader``
            names (the packaged reading model by default).

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
        writer: Writer | None = None,
        reader: Reader | None = None,
    ) -> None:
        settings = settings if settings is not None else load_settings()
        if data_dir is not None:
            settings = settings.with_overrides(data_dir=Path(data_dir))
        self.settings = settings
        self.data_dir = Path(settings.data_dir).expanduser().resolve()
        #: The manifest, vector store and sentence vectors, opened on first use.
        self.index = Index(
            self.data_dir,
            settings,
            store=store,
            embedding_model=embedder.name if embedder is not None else None,
        )
        self._embedder = embedder
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        self._writer = writer
        self._reader = reader
        self._feedback = FeedbackLog(self.data_dir / "feedback.jsonl")
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
    def retriever(self) -> Retriever:
        """The one retriever of this engine (dense, BM25, reranking), shared by answers,
        searches and the refresh that ends every write."""
        with self._build_lock:
            if self._retriever is None:
                index = self.index
                reranker = (
                    CrossEncoderReranker(
                        self.settings.reranker_model, self.settings.embedding_device
                    )
                    if self.settings.reranker_model
                    else None
                )
                self._retriever = Retriever(
                    index.store,
                    self._get_embedder,  # loaded by the first dense search, not a refresh
                    index.manifest,
                    reranker=reranker,
                    cache_dir=self._bm25_dir,
                )
            return self._retriever

    @property
    def answerer(self) -> Answerer:
        with self._build_lock:
            if self._answerer is None:
                self._answerer = self._build_answerer()
            return self._answerer

    def _build_answerer(self) -> Answerer:
        index = self.index
        index.check_compatible(record=False)
        retriever = self.retriever
        embedder = CachedEmbedder(self.embedder)
        given = self._writer
        settings = self.settings

        # Called by the first answer: a search-only use (MCP search_briefs, as_retriever)
        # never loads an answer model.
        def writer() -> Writer:
            return given if given is not None else writer_from_settings(settings, embedder)

        mmr = self.settings.mmr

        def search(question: str, k: int, filters: Filters | None) -> list[Hit]:
            return retriever.retrieve(question, k=k, filters=filters, mmr=mmr)

        overview = Overview(index.manifest, index.store, search)
        from .answer.reader import reader_from_settings

        return Answerer(
            retriever,
            embedder,
            self.settings,
            writer,
            overview,
            sentences=index.sentences,
            reader=self._reader
            if self._reader is not None
            else reader_from_settings(self.settings),
        )

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

    def summary(self, doc_id: str) -> Answer:
        """A brief's summary: its lead (abstract) paragraph and the first sentence of
        each paragraph of its conclusions, every sentence cited.

        Raises:
            NotFound: no brief has this id.
        """
        return self.answerer.summary(self.brief(doc_id))

    def retrieve(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        *,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    ) -> list[Hit]:
        """The ``k`` passages most relevant to ``question``: dense and BM25 fused by rank
        and reordered by the reading model (``settings.reader``), or dense or BM25 alone
        (``mode``, for comparisons).

        Raises:
            InvalidQuestion: the question is empty, too long or not valid Unicode.
        """
        question = check_text(question, self.settings.max_question_chars)
        if mode == "hybrid":
            return self.answerer.search(question, k, filters)
        return self.retriever.retrieve(
            question, k=k, filters=filters, mmr=self.settings.mmr, mode=mode
        )

    def read(
        self, question: str, hits: Sequence[Hit] | None = None, filters: Filters | None = None
    ) -> list[Reading]:
        """The sentences the reading model reads for ``question`` in ``hits`` (by default
        the passages :meth:`retrieve` finds), each with its probability of answering,
        the likeliest first; empty with ``reader=off``."""
        question = check_text(question, self.settings.max_question_chars)
        answerer = self.answerer
        if hits is None:
            readings = answerer.readings(question, filters)[1]
        else:
            readings = answerer.read(question, self.embedder.embed([question])[0], hits)
        return readings.readings() if readings is not None else []

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of ``texts`` from the index's embedding model, one row each."""
        return self.embedder.embed(texts)

    def evidence(self, question: str, hits: Sequence[Hit] | None = None) -> Evidence:
        """The refusal gate's signals for ``question`` over ``hits`` (by default the
        passages :meth:`retrieve` finds), as :meth:`ask` computes them."""
        question = check_text(question, self.settings.max_question_chars)
        return self.answerer.evidence(question, hits)

    def as_retriever(
        self, k: int = 5, filters: Filters | None = None, *, refuse: bool = True
    ) -> BriefRetriever:
        """A LangChain retriever of the ``k`` best passages, as ``Document`` objects with
        briefqa's chunk metadata; with ``refuse``, nothing for a question the refusal gate
        would refuse (see :mod:`briefqa.langchain_retriever`)."""
        from .langchain_retriever import BriefRetriever

        return BriefRetriever(qa=self, k=k, filters=filters, refuse=refuse)

    def as_runnable(self, filters: Filters | None = None) -> Runnable[Any, Answer]:
        """A LangChain runnable from a question (or ``{"question", "history"}``) to
        its :class:`Answer`, as :meth:`ask` gives it."""
        from .langchain_retriever import answer_runnable

        return answer_runnable(self, filters)

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
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
            ConfigError: the index was built with a different embedding model.
            StoreError: the vector store failed.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        report = run_ingest(
            paths, self.index, embedder=self._get_embedder, prune=prune, progress=progress
        )
        if report.added or report.updated or report.removed:
            self._refresh()
        return report

    def check(self, repair: bool = False) -> IndexCheck:
        """Compare the manifest with the vector store and the files beside them.

        Reports missing, orphaned, duplicated and damaged chunks, ids an interrupted
        ingest left pending, and stray side files (see :mod:`briefqa.index.integrity`). With
        ``repair``, missing and damaged chunks are embedded again from their briefs'
        files, and orphans and strays are deleted; the returned check is of the state
        after the repair.

        Raises:
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
            ConfigError: the index belongs to other settings or another manifest.
            StoreError: the vector store failed.
        """
        return check_index(self.index, embedder=self._get_embedder, repair=repair)

    def add(self, filename: str, data: bytes) -> BriefInfo:
        """Keep an uploaded brief under ``data_dir/uploads`` and index it.

        Only the file name's last component is used, cleaned of anything but letters,
        digits and ``. _ - ( )``, and the file lands in a folder named by the hash of its
        bytes, so an upload can never write outside the data directory, and two different
        files with the same name are both kept. Uploading the same bytes again (even at
        the same moment) indexes them once.

        Raises:
            FileTooLarge: the file exceeds ``max_upload_mb``.
            UnsupportedFormat: the name's suffix has no reader.
            DocumentError: the file cannot be parsed; nothing is kept.
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
        """
        doc_id = add_upload(self.index, filename, data, embedder=self._get_embedder)
        self._refresh()
        return self.brief(doc_id)

    def documents(self) -> list[BriefInfo]:
        """Every indexed brief, newest first."""
        return self.index.manifest.briefs()

    def brief(self, doc_id: str) -> BriefInfo:
        """What the index holds about one brief.

        Raises:
            NotFound: no brief has this id.
        """
        info = self.index.manifest.brief(doc_id)
        if info is None:
            raise NotFound(doc_id)
        return info

    def passages(self, doc_id: str) -> list[Chunk]:
        """A brief's indexed passages in text order (they overlap by whole sentences).

        Raises:
            NotFound: no brief has this id.
        """
        self.brief(doc_id)
        chunks = self.index.store.get(self.index.manifest.chunk_ids(doc_id))
        return sorted(chunks, key=lambda c: c.start)

    def feedback(
        self, answer: Answer, rating: Literal["like", "dislike"] | None, comment: str = ""
    ) -> dict[str, Any]:
        """Record a user's verdict on an answer in ``data_dir/feedback.jsonl``.

        Each call appends one event; events about the same answer share ``answer_id``
        (derived from the question and the answer text), so an evaluator can group a
        rating with a later comment and turn the pair into an eval case. Returns the
        record written.

        Raises:
            InvalidQuestion: the question, the answer or the comment is too long or not
                valid Unicode (naming which).
        """
        limit = self.settings.max_question_chars
        check_text(answer.question, limit, "the feedback's question", may_be_empty=True)
        # An answer quotes at most a few passages; a megabyte of it is not one of ours.
        check_text(answer.text, 100 * limit, "the feedback's answer", may_be_empty=True)
        check_text(comment, 4000, "the feedback's comment", may_be_empty=True)
        return self._feedback.record(answer, rating, comment)

    def health(self) -> dict[str, str]:
        """Each part answers need, "ok" or what is wrong with it: the manifest (SQLite),
        the vector store (Chroma), the embedding model and the reading model."""
        probes: dict[str, Callable[[], object]] = {
            "manifest": self.index.manifest.briefs,
            "vector_store": self.index.store.count,
            "embedding_model": lambda: self.embedder.embed(["health"]),
        }
        if self.settings.reader != "off":
            probes["reading_model"] = lambda: self.read("health", hits=[])
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

    def warm_up(self) -> None:
        """Load the embedding model and build the retrieval indexes now, so the first
        question is as fast as the rest (servers call this before accepting requests)."""
        answerer = self.answerer
        self.retriever.idf()
        self.embedder.embed(["warm-up"])
        if answerer.reader is not None:
            answerer.reader.score("warm-up", ["warm-up"])

    def remove(self, doc_id: str) -> None:
        """Remove a brief and its chunks from the index.

        Raises:
            NotFound: no brief has this id.
        """
        if not self.index.remove_brief(doc_id):
            raise NotFound(doc_id)
        self._refresh()

    def _refresh(self) -> None:
        # Every write ends so: the lexical index follows now, while the caller expects
        # to wait, not at the next question; saved, it is what a server starting on this
        # data dir maps.
        self.retriever.refresh()

    def rebuild(self) -> tuple[IngestReport, IndexCheck]:
        """Start the index again from the briefs' files, when its manifest is damaged
        (``briefqa check --rebuild``): the manifest, sentence vectors and saved BM25 index
        are set aside as ``*.damaged-<time>`` and the Chroma collection is dropped, then
        every upload and the corpus folder are ingested again. Returns that ingest's
        report and a check of the result.

        Raises:
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
        """
        with self.index.ingest_lock():
            with self._build_lock:
                self._answerer = self._retriever = None
                self.index.close()
                self.index.forget_store()
            sources = rebuild_files(self.data_dir, self.settings)
            report = self.ingest(sources) if sources else IngestReport()
        return report, self.check()

    def close(self) -> None:
        """Release the manifest's database connection; the engine reopens what it needs
        if used again."""
        with self._build_lock:
            self._answerer = self._retriever = None  # they hold the manifest being closed
            self.index.close()

    @property
    def _bm25_dir(self) -> Path:
        return self.data_dir / "bm25"

    def _get_embedder(self) -> Embedder:
        return self.embedder

    def __enter__(self) -> BriefQA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
