"""The briefs of one data directory: adding, removing, listing and checking them.

:class:`Library` is the half of the engine that writes: every write (``ingest``, ``add``,
``remove``) ends with the same refresh of the one retriever, so the next search finds
what was written, by its words too. :class:`~briefqa.engine.BriefQA` adds the questions
on top of it; an ingest worker needs only this half.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from .answer.reader import Reader
from .answer.writing import Writer
from .assembly import Parts
from .errors import BriefQAError, NotFound
from .index.directory import Index
from .index.embeddings import Embedder
from .index.ingest import Progress, add_upload, run_ingest
from .index.integrity import check_index, rebuild_files
from .index.store import VectorStore
from .schema import BriefInfo, Chunk, IndexCheck, IngestReport
from .settings import Settings, load_settings


class Library:
    """The briefs of one data directory (see :class:`~briefqa.engine.BriefQA` for the
    arguments). The manifest, the vector store and the models open on first use, so
    listing briefs is instant."""

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
        #: The embedding model, the retriever and the answerer, built on first use.
        self.parts = Parts(self.index, settings, embedder=embedder, writer=writer, reader=reader)

    def ingest(
        self,
        paths: Iterable[str | Path] | str | Path,
        prune: bool = False,
        *,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index briefs from files and folders, incrementally.

        Unchanged files are skipped without embedding; changed ones replace their
        chunks; with ``prune``, briefs whose files are gone are removed (with the index in
        a database, only files under ``paths``: another host's are not this one's to
        judge). Bad files are
        reported in :attr:`IngestReport.errors` and do not stop the others.

        Raises:
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
            ConfigError: the index was built with a different embedding model.
            StoreError: the vector store failed.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        report = run_ingest(
            paths, self.index, embedder=self.parts.get_embedder, prune=prune, progress=progress
        )
        if report.added or report.updated or report.removed:
            self.parts.refresh()
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
        return check_index(self.index, embedder=self.parts.get_embedder, repair=repair)

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
        doc_id = add_upload(self.index, filename, data, embedder=self.parts.get_embedder)
        self.parts.refresh()
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

    def remove(self, doc_id: str) -> None:
        """Remove a brief and its chunks from the index.

        Raises:
            NotFound: no brief has this id.
        """
        if not self.index.remove_brief(doc_id):
            raise NotFound(doc_id)
        self.parts.refresh()

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
            listed: set[str] | None
            try:
                counted = self.index.manifest.generation() + 1
                listed = {source.path for source in self.index.manifest.sources()}
            except (BriefQAError, sqlite3.DatabaseError, ValueError):  # it is damaged
                counted, listed = int(time.time()), None
            with self.parts.lock:
                self.parts.reset()
                self.index.close()
                self.index.forget_store()
            sources = rebuild_files(self.data_dir, self.settings, listed)
            # The count goes on, not from 0: every worker's BM25 index and catalogue are
            # kept by generation, and must not take the new index for one they know.
            self.index.manifest.set_meta("generation", str(counted))
            report = self.ingest(sources) if sources else IngestReport()
        return report, self.check()

    def close(self) -> None:
        """Release the manifest's database connection; the engine reopens what it needs
        if used again."""
        with self.parts.lock:
            self.parts.reset()
            self.index.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
