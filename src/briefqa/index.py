"""The index of one data directory: the manifest, the vector store and the sentence
vectors, which always change together.

:class:`Index` holds the three (each opened on first use, so listing briefs never opens
Chroma), the lock that lets one writer at a time change them, the flush that deletes
what an interrupted write left pending (manifest.py tells the protocol), and the stamps
that keep an index from being read or extended with other settings than built it.
Ingestion (ingest.py) and checks (integrity.py) write through it.
"""

from __future__ import annotations

import fcntl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .copies import CopyIndex, fingerprint
from .errors import ConfigError, IndexLocked
from .manifest import Copy, Manifest
from .sentences import SentenceVectors
from .settings import Settings
from .store import OwnedStore, VectorStore, store_from_settings


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's ingest lock, or raise :class:`IndexLocked` at once.

    An OS file lock (flock) is released by the kernel when its process dies, so a run
    killed mid-way never leaves a lock that blocks the next one. Two holders in one
    process exclude each other too: :meth:`Index.ingest_lock` queues its threads first.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexLocked(
                f"another briefqa process is ingesting into {data_dir}; wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Index:
    """The manifest, vector store and sentence vectors of ``data_dir`` (thread-safe).

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
        # Threads of one process queue for the index; other processes get IndexLocked.
        self._write_lock = threading.RLock()
        self._writing = False  # the thread holding _write_lock holds the file lock too

    # ------------------------------------------------------------------ parts

    @property
    def manifest(self) -> Manifest:
        """Which briefs the index holds, from which files, with which chunk ids."""
        with self._build_lock:
            if self._manifest is None:
                self._manifest = Manifest(self.data_dir / "manifest.sqlite3")
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
                self._sentences = SentenceVectors(self.data_dir / "sentences.sqlite3")
            return self._sentences

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
            if self._sentences is not None:
                self._sentences.close()
                self._sentences = None

    # --------------------------------------------------------------- writing

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the index for writing: threads of this process wait their turn, a thread
        that holds it may take it again, and another process gets :class:`IndexLocked`.

        Raises:
            IndexLocked: another process is ingesting into the same data directory.
        """
        with self._write_lock:
            if self._writing:
                yield
                return
            with ingest_lock(self.data_dir):
                self._writing = True
                try:
                    yield
                finally:
                    self._writing = False

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
            self.store.delete(doomed)
            self.sentences.delete(doomed)
            manifest.clear_pending(pending)
        return len(pending)

    def remove_brief(self, doc_id: str) -> bool:
        """Remove a brief and its chunks; False if no brief has this id.

        Raises:
            IndexLocked: another process is ingesting into the same data directory.
        """
        with self.ingest_lock():
            if self.manifest.remove_brief(doc_id) is None:
                return False
            self.flush_pending()
            return True

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
        share the data_dir too. The collection carries the id of the manifest that fills
        it; an index with another manifest is refused before it reads or writes."""
        store = self.store
        if not isinstance(store, OwnedStore):  # a store without stamps (tests, custom)
            return
        index_id = self.manifest.get_meta("index_id")
        stamped = store.owner()
        if index_id is None and record:
            index_id = uuid.uuid4().hex
            self.manifest.set_meta("index_id", index_id)
        if stamped is None and index_id is not None and record:
            stamped = store.claim(index_id)
        if stamped is not None and stamped != index_id:
            raise ConfigError(
                f"the Chroma collection {self.settings.collection!r} belongs to another "
                f"briefqa index (manifest {stamped}), not to {self.data_dir}; workers that "
                "share a Chroma server must share one BRIEFQA_DATA_DIR, or use another "
                "BRIEFQA_COLLECTION"
            )
