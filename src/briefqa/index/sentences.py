"""Sentence vectors of every chunk, kept beside the index (``data_dir/sentences.sqlite3``,
or PostgreSQL's ``sentence_vectors`` for workers on several hosts).

Ingest gets them for free from the forward pass that embeds each chunk (see
:meth:`SentenceTransformerEmbedder.embed_with_spans`); answering reads them for the few
retrieved chunks instead of encoding their sentences again, which was most of the time
of a question. They are stored as float16, keyed by the content-derived chunk id, so a
row can never describe another text than its chunk's. Missing rows (an index built
before, or by an embedder without spans) just mean the sentences are encoded on demand.
Each row carries the CRC-32 of its bytes: a damaged row is skipped when read (encoded on
demand instead) and named by :meth:`SentenceVectors.damaged` for ``briefqa check``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np

from ..database import InDatabase, Statements
from ..errors import UnknownSchema
from .databases import QuestionMarks, UnknownFile, columns, open_wal, writing
from .embeddings import Vectors

log = logging.getLogger("briefqa.index.sentences")


class SentenceVectors:
    """chunk id → (sentences, dim) array, safe to share across threads and processes.

    The SQL is written once for both databases; :class:`SQLiteSentenceVectors` (the data
    dir's file) and :class:`PostgresSentenceVectors` open the transactions.
    """

    #: The table the vectors live in.
    table = "vectors"

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Statements]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection (nothing for a pool, which is the process's)."""

    def put(self, chunk_ids: Sequence[str], arrays: Sequence[Vectors]) -> None:
        rows = []
        for cid, a in zip(chunk_ids, arrays, strict=True):
            data = a.astype(np.float16).tobytes()
            rows.append((cid, int(a.shape[1]) if a.ndim == 2 else 0, data, zlib.crc32(data)))
        with self._transaction() as db:
            db.executemany(
                f"INSERT INTO {self.table} (chunk_id, dim, data, crc) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (chunk_id) DO UPDATE SET dim = excluded.dim,"
                " data = excluded.data, crc = excluded.crc",
                rows,
            )

    def get(self, chunk_ids: Sequence[str]) -> dict[str, Vectors]:
        if not chunk_ids:
            return {}
        marks = ",".join(["%s"] * len(chunk_ids))
        try:
            with self._transaction(write=False) as db:
                rows = db.execute(
                    f"SELECT chunk_id, dim, data, crc FROM {self.table}"
                    f" WHERE chunk_id IN ({marks})",
                    list(chunk_ids),
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            # Derived data: answers encode the sentences instead (`briefqa check
            # --rebuild` makes the file again).
            log.warning("sentence vectors unreadable (%s): encoded on demand", exc)
            return {}
        out = {}
        for cid, dim, data, crc in rows:
            data = None if data is None else bytes(data)
            if not _intact(dim, data, crc):
                log.warning("damaged sentence vectors of chunk %s: encoded again", cid)
                continue
            if dim and data is not None:
                out[cid] = np.frombuffer(data, dtype=np.float16).reshape(-1, dim).astype(np.float32)
        return out

    def damaged(self) -> list[str]:
        """Chunk ids whose stored vectors no longer match their checksum or shape."""
        with self._transaction(write=False) as db:
            rows = db.execute(f"SELECT chunk_id, dim, data, crc FROM {self.table}").fetchall()
        return sorted(
            cid
            for cid, dim, data, crc in rows
            if not _intact(dim, None if data is None else bytes(data), crc)
        )

    def ids(self) -> set[str]:
        """Every chunk id that has sentence vectors."""
        with self._transaction(write=False) as db:
            return {row[0] for row in db.execute(f"SELECT chunk_id FROM {self.table}").fetchall()}

    def delete(self, chunk_ids: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                f"DELETE FROM {self.table} WHERE chunk_id = %s", [(c,) for c in chunk_ids]
            )


class SQLiteSentenceVectors(SentenceVectors):
    """The vectors in the data dir's SQLite file (WAL)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = open_wal(path, _schema_current, _create_schema, version=1, tables=_TABLES)
        except UnknownFile as exc:
            raise UnknownSchema(
                f"the sentence vectors {path} are not a file this briefqa can read: {exc}. "
                "They hold only derived data: `briefqa check --repair` sets the file "
                "aside and makes it again"
            ) from exc
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Statements]:
        with self._lock, writing(self._db, mode="IMMEDIATE" if write else "DEFERRED") as db:
            yield QuestionMarks(db)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresSentenceVectors(InDatabase, SentenceVectors):
    """The vectors in PostgreSQL (``BRIEFQA_DATABASE_URL``), shared by every worker."""

    table = "sentence_vectors"


_TABLES = {"vectors": {"chunk_id", "dim", "data"}}


def _schema_current(db: sqlite3.Connection) -> bool:
    return "crc" in columns(db, "vectors")


def _create_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS vectors "
        "(chunk_id TEXT PRIMARY KEY, dim INTEGER, data BLOB, crc INTEGER)"
    )
    if "crc" not in columns(db, "vectors"):  # a file from before rows carried checksums
        db.execute("ALTER TABLE vectors ADD COLUMN crc INTEGER")


def _intact(dim: int, data: bytes | None, crc: int | None) -> bool:
    """A row's bytes match its checksum (rows from before checksums: their shape)."""
    if data is None:
        return False
    if crc is not None and zlib.crc32(data) != crc:
        return False
    return not dim or len(data) % (2 * dim) == 0
