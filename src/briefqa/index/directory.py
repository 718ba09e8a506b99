"""The index of one data directory: the manifest, the vector store and the sentence
vectors, which always change together.

:class:`Index` holds the three (each opened on first use, so listing briefs never opens
Chroma), the lock that lets one writer at a time change them, the flush that deletes
what an interrupted write left pending (manifest.py tells the protocol), and the stamps
that keep an index from being read or extended with other settings than built it.
Ingestion (ingest.py) and checks (integrity.py) write through it.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from ..database import still_held, writer_turn
from ..errors import ConfigError, IndexLocked
from ..settings import Settings
from .copies import CopyIndex, fingerprint
from .manifest import Copy, Manifest, PostgresManifest, SQLiteManifest
from .sentences import PostgresSentenceVectors, SentenceVectors, SQLiteSentenceVectors
from .store import OwnedStore, VectorStore, store_from_settings
from .uploads import UPLOAD_KEY, PostgresUploads, upload_copy

_POLL_S = 0.05


@contextmanager
def ingest_lock(data_dir: Path, wait: float = 0.0) -> Iterator[Turn]:
    """Hold the data directory's ingest lock, waiting up to ``wait`` seconds for another
    writer (a process, or another thread's hold) to finish, else raise
    :class:`IndexLocked`.

    An OS file lock (flock) is released by the kernel when its process dies, so a run
    killed mid-way never leaves a lock that blocks the next one. A writer that waits
    says so with a shared lock on ``ingest.queue``, which a long holder checks between
    briefs (:meth:`Turn.give_way`), so a long ingest never starves an upload.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+") as handle:
        if not _take(handle) and not _queue_for(handle, data_dir, wait):
            raise IndexLocked(
                f"another briefqa process is writing to {data_dir} (waited {wait:g} s, "
                "BRIEFQA_LOCK_WAIT_S); try again when it is done"
            )
        try:
            yield Turn(handle, data_dir)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Hold(Protocol):
    """One writer's hold of the index: the data dir's flock (:class:`Turn`) or the
    database's advisory lock (:func:`briefqa.database.writer_turn`)."""

    def give_way(self) -> bool: ...


class Turn:
    """One writer's hold of the ingest lock."""

    def __init__(self, handle: IO[str], data_dir: Path) -> None:
        self._handle = handle
        self._data_dir = data_dir

    def give_way(self) -> bool:
        """Let the writers waiting now go first, then take the lock back (waiting as
        long as they write). Returns whether anyone was waiting."""
        queue_path = self._data_dir / "ingest.queue"
        with open(queue_path, "a+") as queue:
            if _take(queue):  # nobody holds it shared: nobody waits
                fcntl.flock(queue, fcntl.LOCK_UN)
                return False
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            # Each waiter leaves the queue once it holds the lock (or gives up): when
            # the queue is free, every writer that was waiting has had its turn.
            fcntl.flock(queue, fcntl.LOCK_EX)
            fcntl.flock(queue, fcntl.LOCK_UN)
        if not _take(self._handle):
            _queue_for(self._handle, self._data_dir, math.inf)
        return True


def _take(handle: IO[str], mode: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _queue_for(handle: IO[str], data_dir: Path, wait: float) -> bool:
    """Wait in the queue for the lock on ``handle``; whether it was taken in time."""
    if wait <= 0:
        return False
    deadline = time.monotonic() + wait
    with open(data_dir / "ingest.queue", "a+") as queue:
        # Shared: waiters do not exclude each other; a holder's brief exclusive check
        # is all that can make this wait.
        while not _take(queue, fcntl.LOCK_SH):
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S / 10)
        try:
            while not _take(handle):
                if time.monotonic() > deadline:
                    return False
                time.sleep(_POLL_S)
            return True
        finally:
            fcntl.flock(queue, fcntl.LOCK_UN)


class Index:
    """The manifest, vector store and sentence vectors of ``data_dir`` (thread-safe).

    With ``settings.database_url`` the manifest, the sentence vectors and the uploaded
    files live in PostgreSQL and writers take the database's lock: ``data_dir`` is then
    this worker's scratch (Chroma's files unless ``chroma_url`` is set, the saved BM25
    index, copies of uploads being read).

    Args:
        data_dir: where the manifest and side files live (and Chroma, unless on a server).
        settings: the store to open, and the chunking an ingest must match.
        store: a vector store to use instead of the configured Chroma.
        embedding_model: the name of the model that embeds for this index, recorded on
            the first ingest and checked on every later use (by default the configured one).

    Raises:
        ConfigError: ``data_dir`` exists and is not a directory.
    """

    def __init__(
        self,
        data_dir: Path,
        settings: Settings,
        *,
        store: VectorStore | None = None,
        embedding_model: str | None = None,
    ) -> None:
        if data_dir.exists() and not data_dir.is_dir():
            raise ConfigError(f"data_dir {data_dir} exists and is not a directory")
        self.data_dir = data_dir
        self.settings = settings
        self.embedding_model = embedding_model or settings.embedding_model
        self._store = store
        self._manifest: Manifest | None = None
        self._sentences: SentenceVectors | None = None
        # A server shares one index across threads: open each part once.
        self._build_lock = threading.RLock()
        # The hold of each thread that writes (one at a time, across processes too),
        # so that a thread that holds the lock may take it again.
        self._turns: dict[int, Hold] = {}
        self._uploads: PostgresUploads | None = None

    # ------------------------------------------------------------------ parts

    @property
    def manifest(self) -> Manifest:
        """Which briefs the index holds, from which files, with which chunk ids."""
        with self._build_lock:
            if self._manifest is None:
                url = self.settings.database_url
                self._manifest = (
                    PostgresManifest(url)
                    if url
                    else SQLiteManifest(self.data_dir / "manifest.sqlite3")
                )
            return self._manifest

    @property
    def store(self) -> VectorStore:
        """The chunks with their vectors (opened on first use: Chroma is slow to start)."""
        with self._build_lock:
            if self._store is None:
                self._store = store_from_settings(self.settings, self.data_dir)
            return self._store

    @property
    def sentences(self) -> SentenceVectors:
        """The sentence vectors of every chunk, stored at ingest."""
        with self._build_lock:
            if self._sentences is None:
                url = self.settings.database_url
                self._sentences = (
                    PostgresSentenceVectors(url)
                    if url
                    else SQLiteSentenceVectors(self.data_dir / "sentences.sqlite3")
                )
            return self._sentences

    @property
    def uploads(self) -> PostgresUploads | None:
        """The uploaded files' bytes in the database (None: they live in
        ``data_dir/uploads`` only, as files)."""
        with self._build_lock:
            if self._uploads is None and self.settings.database_url:
                self._uploads = PostgresUploads(self.settings.database_url)
            return self._uploads

    # ------------------------------------------------------------------ files

    def key(self, path: Path) -> str:
        """The name the manifest lists a file under: its path, or for an upload kept in
        the database ``upload:<folder>/<name>``, which every worker can read wherever
        its data dir is."""
        if self.uploads is not None:
            uploads = (self.data_dir / "uploads").resolve()
            with contextlib.suppress(ValueError):
                return UPLOAD_KEY + path.resolve().relative_to(uploads).as_posix()
        return str(path)

    def file(self, key: str) -> Path | None:
        """The local file a listed key names (None if there is none): an upload kept in
        the database is copied into this worker's ``data_dir/uploads`` first."""
        if not key.startswith(UPLOAD_KEY):
            path = Path(key)
            return path if path.is_file() else None
        local = upload_copy(self.data_dir, key)
        if self.uploads is None or local.is_file():
            return local if local.is_file() else None
        return self.uploads.fetch(key, local)

    def has_file(self, key: str) -> bool:
        """Whether the file a listed key names still exists (for ``--prune``)."""
        if key.startswith(UPLOAD_KEY) and self.uploads is not None:
            return self.uploads.has(key)
        return Path(key).exists()

    def close_sentences(self) -> None:
        """Close the sentence vectors' database; the next use opens the file afresh
        (after a repair set a damaged one aside)."""
        with self._build_lock:
            if self._sentences is not None:
                self._sentences.close()
                self._sentences = None

    def forget_store(self) -> None:
        """Let go of the vector store, so that the next use opens it afresh (after a
        rebuild set its files aside)."""
        with self._build_lock:
            self._store = None

    def close(self) -> None:
        """Close the manifest's and the sentence vectors' databases; they reopen if used
        again."""
        with self._build_lock:
            if self._manifest is not None:
                self._manifest.close()
                self._manifest = None
            self.close_sentences()

    # --------------------------------------------------------------- writing

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the index for writing: another writer, in this process or another, is
        waited for up to ``settings.lock_wait_s``; a thread that holds it may take it
        again.

        Raises:
            IndexLocked: another writer held the index for the whole wait.
        """
        me = threading.get_ident()
        if me in self._turns:
            yield
            return
        url, wait = self.settings.database_url, self.settings.lock_wait_s
        hold: AbstractContextManager[Hold] = (
            writer_turn(url, wait) if url else ingest_lock(self.data_dir, wait)
        )
        with hold as turn:
            self._turns[me] = turn
            try:
                yield
            finally:
                del self._turns[me]

    def give_way(self) -> bool:
        """Between the briefs of a long write: let the writers waiting now go first, then
        carry on (the calling thread holds the lock). Returns whether anyone waited."""
        return self._turns[threading.get_ident()].give_way()

    def flush_pending(self) -> int:
        """Delete from the store every chunk id the manifest holds as pending, unless a
        brief lists it: rewriting a brief's chunks under their own ids (a repair) makes
        them pending too, and a run killed before its commit must not take them away.
        Returns how many ids were pending. The caller holds the ingest lock."""
        manifest = self.manifest
        pending = manifest.pending()
        if pending:
            listed = set(manifest.chunk_ids())
            doomed = [cid for cid in pending if cid not in listed]
            if self.settings.database_url:  # the ids may be another writer's by now
                still_held(self.settings.database_url)
            self.store.delete(doomed)
            self.sentences.delete(doomed)
            manifest.clear_pending(pending)
        return len(pending)

    def remove_brief(self, doc_id: str) -> bool:
        """Remove a brief and its chunks; False if no brief has this id.

        Raises:
            IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
        """
        with self.ingest_lock():
            files = [s.path for s in self.manifest.sources_of(doc_id)]
            if self.manifest.remove_brief(doc_id) is None:
                return False
            self.flush_pending()
            # Its uploaded files go too: kept, a rebuild would bring the brief back.
            for key in files:
                self._drop_upload(key)
            return True

    def _drop_upload(self, key: str) -> None:
        if key.startswith(UPLOAD_KEY):
            local = upload_copy(self.data_dir, key)
            if self.uploads is not None:
                self.uploads.drop(key)
        else:
            local = Path(key)
            if not local.is_relative_to((self.data_dir / "uploads").resolve()):
                return  # the corpus's files are the institute's, not ours
        local.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another upload shares the folder
            local.parent.rmdir()

    def copies(self) -> tuple[CopyIndex, dict[str, Copy]]:
        """The stored briefs' fingerprints, to find copies of a brief among them.

        Briefs indexed before fingerprints were kept get one from their stored chunks'
        text, recorded for next time. The caller holds the ingest lock.
        """
        manifest = self.manifest
        records = {c.doc_id: c for c in manifest.copies()}
        for info in manifest.briefs():
            if info.doc_id in records or not info.sources:
                continue
            texts = [c.text for c in self.store.get(manifest.chunk_ids(info.doc_id))]
            record = Copy(
                info.doc_id,
                fingerprint(texts).tobytes(),
                info.sources[0],
                info.format,
                sum(map(len, texts)),
            )
            manifest.record_copy(record)
            records[info.doc_id] = record
        found = CopyIndex()
        for record in records.values():
            signature = np.frombuffer(record.signature, dtype=np.uint32)
            found.add(record.doc_id, signature, record.length)
        return found, records

    def copy_into_database(self) -> dict[str, int]:
        """Copy the index this data dir keeps in files (the manifest, the sentence
        vectors, the uploads' bytes) into the database of ``database_url``: its Chroma
        collection stays where it is, and the data dir serves on with the database.
        Rows there already are kept, so it is safe to run again. Returns how many briefs,
        sentence-vector rows and uploads were copied.

        Raises:
            ConfigError: the database holds another index.
        """
        counts = {"briefs_copied": 0, "sentence_rows_copied": 0, "uploads_copied": 0}
        path = self.data_dir / "manifest.sqlite3"
        uploads = self.uploads
        if uploads is None or not path.exists():
            return counts
        source = SQLiteManifest(path)
        try:
            with self.ingest_lock():
                theirs, ours = source.get_meta("index_id"), self.manifest.get_meta("index_id")
                if theirs and ours and theirs != ours:
                    raise ConfigError(
                        f"the database already holds another index (manifest {ours}) than "
                        f"{self.data_dir} (manifest {theirs}); copy into an empty database"
                    )
                tables = source.dump()
                # Uploads are listed by their path here, by a key every host reads there.
                tables["sources"] = [
                    (self.key(Path(p)), doc, sha) for p, doc, sha in tables["sources"]
                ]
                tables["copies"] = [
                    (doc, sig, self.key(Path(origin)), n)
                    for doc, sig, origin, n in tables["copies"]
                ]
                known = uploads.keys()
                for key, _, _ in tables["sources"]:
                    local = self.file(key) if key.startswith(UPLOAD_KEY) else None
                    if local is not None and key not in known:
                        uploads.keep(key, local.read_bytes())
                        counts["uploads_copied"] += 1
                counts["briefs_copied"] = self.manifest.load(tables)
                counts["sentence_rows_copied"] = self._copy_sentences()
        finally:
            source.close()
        return counts

    def _copy_sentences(self, page: int = 500) -> int:
        path = self.data_dir / "sentences.sqlite3"
        if not path.exists():
            return 0
        source = SQLiteSentenceVectors(path)
        try:
            ids = sorted(source.ids() - self.sentences.ids())
            for start in range(0, len(ids), page):
                found = source.get(ids[start : start + page])
                self.sentences.put(list(found), list(found.values()))
        finally:
            source.close()
        return len(ids)

    # ---------------------------------------------------------------- stamps

    def check_compatible(self, *, record: bool) -> None:
        """The index must be queried and extended with what built it: the same embedding
        model, and (when adding to it) the same chunking, so chunks never mix sizes; and
        its store must belong to this manifest.

        ``record`` (before writing) stores these for a new index and checks the chunking
        too.

        Raises:
            ConfigError: the index was built with other settings, or the store belongs
                to another manifest.
        """
        # Compare names without loading the model: an unchanged re-ingest stays instant.
        wanted = {"embedding_model": self.embedding_model}
        if record:
            wanted["chunking"] = (
                f"{self.settings.chunk_tokens}/{self.settings.chunk_overlap_tokens}"
            )
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
        share the manifest too (one data dir, or one database). The collection carries
        the id of the manifest that fills it; an index with another manifest is refused
        before it reads or writes."""
        store = self.store
        if not isinstance(store, OwnedStore):  # a store without stamps (tests, custom)
            return
        index_id = self.manifest.get_meta("index_id")
        stamped = store.owner()
        settings = self.settings
        if stamped is None and index_id and settings.database_url and not settings.chroma_url:
            # The database lists briefs this worker's own Chroma files never held.
            raise ConfigError(
                "the index in BRIEFQA_DATABASE_URL belongs to a Chroma collection this "
                f"worker does not have (its Chroma files in {self.data_dir} hold none): "
                "workers with data dirs of their own must share a Chroma server "
                "(BRIEFQA_CHROMA_URL)"
            )
        if index_id is None and record:
            index_id = uuid.uuid4().hex
            self.manifest.set_meta("index_id", index_id)
        if stamped is None and index_id is not None and record:
            stamped = store.claim(index_id)
        if stamped is not None and stamped != index_id:
            raise ConfigError(
                f"the Chroma collection {self.settings.collection!r} belongs to another "
                f"briefqa index (manifest {stamped}), not to {self.data_dir}; workers that "
                "share a Chroma server must share one BRIEFQA_DATA_DIR (or one "
                "BRIEFQA_DATABASE_URL), or use another BRIEFQA_COLLECTION"
            )
