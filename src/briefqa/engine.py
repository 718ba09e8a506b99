"""The engine behind every front end: :class:`BriefQA`."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Literal

from .answering import Answerer, History
from .embeddings import CachedEmbedder, Embedder, Vectors, embedder_from_settings
from .errors import ConfigError, DocumentError, FileTooLarge, NotFound
from .ingest import Progress, flush_pending, ingest_lock, run_ingest
from .loaders import brief_format, load_brief
from .manifest import Manifest
from .overview import Overview
from .refusal import Evidence
from .retrieval import CrossEncoderReranker, Retriever
from .schema import Answer, BriefInfo, Filters, Hit, IndexCheck, IngestReport
from .sentences import SentenceVectors
from .settings import Settings, load_settings
from .store import VectorStore, store_from_settings
from .writing import writer_from_settings


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
        self._sentences: SentenceVectors | None = None
        self._answerer: Answerer | None = None
        self._chat_model = chat_model
        # The web UI and REST API share one engine across threads: build each heavy
        # part once.
        self._build_lock = threading.RLock()
        # Threads of one process queue for the index; other processes get IndexLocked.
        self._write_lock = threading.RLock()
        self._feedback_lock = threading.Lock()

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
    def sentences(self) -> SentenceVectors:
        with self._build_lock:
            if self._sentences is None:
                self._sentences = SentenceVectors(self.data_dir / "sentences.sqlite3")
            return self._sentences

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
            retriever = Retriever(
                self.store,
                self.embedder,
                self.manifest,
                reranker=reranker,
                cache_dir=self.data_dir / "bm25",
            )
            embedder = CachedEmbedder(self.embedder)
            writer = writer_from_settings(self.settings, embedder, self._chat_model)
            mmr = self.settings.mmr

            def search(question: str, k: int, filters: Filters | None) -> list[Hit]:
                return retriever.retrieve(question, k=k, filters=filters, mmr=mmr)

            overview = Overview(self.manifest, self.store, search)
            self._answerer = Answerer(
                retriever, embedder, self.settings, writer, overview, sentences=self.sentences
            )
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
        """The ``k`` passages most relevant to ``question``: dense and BM25 fused by rank,
        or one of them alone (``mode``, for comparisons)."""
        return self.answerer.retriever.retrieve(
            question, k=k, filters=filters, mmr=self.settings.mmr, mode=mode
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of ``texts`` from the index's embedding model, one row each."""
        return self.embedder.embed(texts)

    def evidence(self, question: str, hits: Sequence[Hit] | None = None) -> Evidence:
        """The refusal gate's signals for ``question`` over ``hits`` (by default the
        passages :meth:`retrieve` finds), as :meth:`ask` computes them."""
        if hits is None:
            hits = self.retrieve(question, k=self.settings.top_k)
        return self.answerer.evidence(question, hits)

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
        with self._write_lock, ingest_lock(self.data_dir):
            self._check_model(record=True)
            return run_ingest(
                paths,
                manifest=self.manifest,
                store=self.store,
                embedder=lambda: self.embedder,
                settings=self.settings,
                prune=prune,
                progress=progress,
                sentences=self.sentences,
            )

    def check(self, repair: bool = False) -> IndexCheck:
        """Compare the manifest with the vector store and the files beside them.

        Reports missing, orphaned, duplicated and damaged chunks, ids an interrupted
        ingest left pending, and stray side files (see :mod:`briefqa.integrity`). With
        ``repair``, missing and damaged chunks are embedded again from their briefs'
        files, and orphans and strays are deleted; the returned check is of the state
        after the repair.

        Raises:
            IndexLocked: another process is ingesting into the same data directory.
            ConfigError: the index belongs to other settings or another manifest.
            StoreError: the vector store failed.
        """
        from .integrity import check_index

        with self._write_lock, ingest_lock(self.data_dir):
            # A repair embeds: it must chunk like the index was built (record checks that).
            self._check_model(record=repair)
            return check_index(
                self.data_dir,
                self.manifest,
                self.store,
                self.sentences,
                settings=self.settings,
                embedder=lambda: self.embedder,
                repair=repair,
            )

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
        """
        name = safe_filename(filename)
        limit_mb = self.settings.max_upload_mb
        if len(data) > limit_mb * 1024 * 1024:
            raise FileTooLarge(
                name,
                f"the file is {len(data) / 1048576:.1f} MB; the limit is {limit_mb:g} MB "
                "(BRIEFQA_MAX_UPLOAD_MB)",
            )
        brief_format(name)  # an unreadable type is refused before anything is written
        folder = self.data_dir / "uploads" / hashlib.sha256(data).hexdigest()[:16]
        target = folder / name
        known = self.manifest.source(str(target.resolve())) if target.exists() else None
        if known is not None:  # these very bytes, under this name, are indexed already
            return self.brief(known.doc_id)
        # Written aside first, per process and thread: workers sharing the data dir may
        # receive the same upload at once and must not write into each other's file. The
        # name keeps its suffix, which tells the loader the format.
        incoming = self.data_dir / "uploads" / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        partial = incoming / f".{os.getpid()}-{threading.get_ident()}.{name}"
        try:
            partial.write_bytes(data)
            # Parse before queueing for the index: a broken file is refused at once, not
            # after every upload ahead of it has been embedded.
            try:
                load_brief(partial)
            except DocumentError as exc:
                raise type(exc)(name, exc.reason) from None
            with self._write_lock:
                folder.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)  # never a half-written brief under its name
                report = self.ingest([target])
                if report.errors and self.manifest.source(str(target.resolve())) is None:
                    target.unlink(missing_ok=True)
                    _remove_empty(folder)
        finally:
            partial.unlink(missing_ok=True)
        if report.errors:
            raise DocumentError(name, report.errors[0].error)
        source = self.manifest.source(str(target.resolve()))
        assert source is not None
        return self.brief(source.doc_id)

    def documents(self) -> list[BriefInfo]:
        """Every indexed brief, newest first."""
        return self.manifest.briefs()

    def brief(self, doc_id: str) -> BriefInfo:
        """What the index holds about one brief.

        Raises:
            NotFound: no brief has this id.
        """
        info = self.manifest.brief(doc_id)
        if info is None:
            raise NotFound(doc_id)
        return info

    def feedback(
        self, answer: Answer, rating: Literal["like", "dislike"] | None, comment: str = ""
    ) -> dict[str, Any]:
        """Record a user's verdict on an answer in ``data_dir/feedback.jsonl``.

        Each call appends one event; events about the same answer share ``answer_id``
        (derived from the question and the answer text), so an evaluator can group a
        rating with a later comment and turn the pair into an eval case. Returns the
        record written.
        """
        if rating not in ("like", "dislike", None):
            raise ValueError(f"rating must be 'like', 'dislike' or None, not {rating!r}")
        answer_id = hashlib.sha256(f"{answer.question}\x00{answer.text}".encode()).hexdigest()[:16]
        record = {
            "answer_id": answer_id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rating": rating,
            "comment": comment.strip()[:4000],
            "question": answer.question,
            "standalone_question": answer.standalone_question,
            "answer": answer.text,
            "refused": answer.refused,
            "outcome": answer.outcome,
            "kind": answer.kind,
            "citations": [c.to_dict() for c in answer.citations],
            "unsupported": list(answer.unsupported),
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "feedback.jsonl"
        with self._feedback_lock, open(path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # other workers append to the same file
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return record

    def warm_up(self) -> None:
        """Load the embedding model and build the retrieval indexes now, so the first
        question is as fast as the rest (servers call this before accepting requests)."""
        answerer = self.answerer
        answerer.retriever.idf()
        self.embedder.embed(["warm-up"])

    def remove(self, doc_id: str) -> None:
        """Remove a brief and its chunks from the index.

        Raises:
            NotFound: no brief has this id.
        """
        with self._write_lock, ingest_lock(self.data_dir):
            if self.manifest.remove_brief(doc_id) is None:
                raise NotFound(doc_id)
            flush_pending(self.manifest, self.store, self.sentences)

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
        self._check_owner(record=record)
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

    def _check_owner(self, *, record: bool) -> None:
        """One vector collection, one manifest: workers that share a Chroma server must
        share the data_dir too. The collection carries the id of the manifest that fills
        it; an engine with another manifest is refused before it reads or writes."""
        owner = getattr(self.store, "owner", None)
        if owner is None:  # a store without stamps (tests, custom stores)
            return
        index_id = self.manifest.get_meta("index_id")
        stamped = owner()
        if index_id is None and record:
            index_id = uuid.uuid4().hex
            self.manifest.set_meta("index_id", index_id)
        if stamped is None and index_id is not None and record:
            stamped = self.store.claim(index_id)  # type: ignore[attr-defined]
        if stamped is not None and stamped != index_id:
            raise ConfigError(
                f"the Chroma collection {self.settings.collection!r} belongs to another "
                f"briefqa index (manifest {stamped}), not to {self.data_dir}; workers that "
                "share a Chroma server must share one BRIEFQA_DATA_DIR, or use another "
                "BRIEFQA_COLLECTION"
            )

    def close(self) -> None:
        """Release the manifest's database connection; the engine reopens what it needs
        if used again."""
        with self._build_lock:
            self._answerer = None  # it holds the manifest being closed
            if self._manifest is not None:
                self._manifest.close()
                self._manifest = None
            if self._sentences is not None:
                self._sentences.close()
                self._sentences = None

    def __enter__(self) -> BriefQA:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_UNSAFE = re.compile(r"[^\w.() -]+")


def safe_filename(filename: str) -> str:
    """The last path component of ``filename``, cleaned for use as a file name.

    "../../etc/passwd.txt" and "C:\\x\\..\\brief.pdf" become "passwd.txt" and
    "brief.pdf"; a name that cleans to nothing raises :class:`DocumentError`.
    """
    last = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", last).strip(" .")
    if not cleaned or cleaned.startswith("."):
        raise DocumentError(filename[:80] or "(no name)", "the upload has no usable file name")
    # File systems allow 255 bytes a name, and the partial file's name adds a prefix:
    # a long stem is cut, in bytes and at a character boundary; the suffix is kept.
    path = PurePosixPath(cleaned)
    suffix = path.suffix if len(path.suffix) <= 10 else ""
    stem = cleaned[: len(cleaned) - len(suffix)]
    stem = stem.encode()[: 150 - len(suffix.encode())].decode(errors="ignore").rstrip(" .")
    return (stem or "upload") + suffix


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: another upload shares the folder
        folder.rmdir()
