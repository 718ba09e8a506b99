"""The manifest: which briefs are indexed, from which files, with which chunk ids.

It lives in a SQLite file in the data directory (:class:`SQLiteManifest`), or in
PostgreSQL for workers on several hosts (:class:`PostgresManifest`), so every change is
a transaction.
Together with the ``pending`` table it makes ingestion crash-safe: chunk ids are
recorded as pending *before* they are written to the vector store and cleared in the
same transaction that commits their brief, and the ids of a replaced or removed brief
become pending until they are deleted from the store. After a crash, whatever is still
pending is deleted on the next run, so the store never keeps orphans.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..database import InDatabase, Statements, fence
from ..errors import DataDamaged, StoreError, UnknownSchema
from ..schema import Brief, BriefInfo
from .databases import (
    BUSY_TIMEOUT_S,
    QuestionMarks,
    StillLocked,
    UnknownFile,
    columns,
    names,
    open_wal,
    writing,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS briefs (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    number TEXT,
    date TEXT,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sections TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES briefs(doc_id),
    sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_doc ON sources(doc_id);
CREATE TABLE IF NOT EXISTS pending (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS copies (
    doc_id TEXT PRIMARY KEY REFERENCES briefs(doc_id),
    signature BLOB NOT NULL,
    origin TEXT NOT NULL,
    length INTEGER NOT NULL
);
"""
#: The manifest's schema version (SQLite's user_version); a newer one is refused.
SCHEMA_VERSION = 1
# The columns each table had from the first release: a manifest lacking one was written
# by another program.
_TABLES = {
    "meta": {"key", "value"},
    "briefs": {"doc_id", "title", "format", "sha256", "sections", "chunk_ids"},
    "sources": {"path", "doc_id", "sha256"},
    "pending": {"chunk_id"},
}
# Columns added after the first release; an older manifest gains them when opened.
_ADDED_COLUMNS = {
    "briefs": {
        "authors": "TEXT NOT NULL DEFAULT '[]'",
        "author_roles": "TEXT NOT NULL DEFAULT '[]'",
    }
}


def _schema_current(db: sqlite3.Connection) -> bool:
    have = names(db)
    if not {"meta", "briefs", "sources", "sources_doc", "pending", "copies"} <= have:
        return False
    return all(set(added) <= columns(db, table) for table, added in _ADDED_COLUMNS.items())


def _create_schema(db: sqlite3.Connection) -> None:
    """Create the tables, and give an older manifest the columns added since."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    for table, added in _ADDED_COLUMNS.items():
        have = columns(db, table)
        for name, spec in added.items():
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {spec}")


@dataclass(frozen=True)
class Copy:
    """A stored brief's fingerprint, the file its text was read from, and what decides
    whether another copy's text is preferred (:func:`briefqa.index.copies.preference`)."""

    doc_id: str
    signature: bytes
    origin: str
    format: str
    length: int


@dataclass(frozen=True)
class Source:
    """A file that was ingested, the brief it produced and the hash of its bytes."""

    path: str
    doc_id: str
    sha256: str


# Generations pinned by :meth:`Manifest.pinned`, by manifest (each thread and task has
# its own context).
_PINNED: ContextVar[dict[int, int]] = ContextVar("briefqa_pinned_generation", default={})  # noqa: B039

# Every table's columns, in the order :meth:`Manifest.dump` gives them.
_COLUMNS = {
    "meta": ("key", "value"),
    "briefs": (
        "doc_id", "title", "number", "date", "format", "sha256", "sections", "chunk_ids",
        "ingested_at", "authors", "author_roles",
    ),
    "sources": ("path", "doc_id", "sha256"),
    "pending": ("chunk_id",),
    "copies": ("doc_id", "signature", "origin", "length"),
}  # fmt: skip

#: The index's tables in PostgreSQL (the uploads' bytes aside), which ``briefqa check
#: --rebuild`` sets aside.
INDEX_TABLES = (*_COLUMNS, "sentence_vectors")

#: What to do about a damaged manifest (the command is `briefqa check --rebuild`).
REBUILD = (
    "restore it from a backup, or rebuild the index from the briefs' files (uploads and "
    "BRIEFQA_CORPUS_DIR): `briefqa check --rebuild`"
)


class Manifest:
    """Transactional record of the index's contents (safe to share across threads).

    The SQL is written once, with ``%s`` placeholders, in the dialect SQLite and
    PostgreSQL share; :class:`SQLiteManifest` (the data dir's file) and
    :class:`PostgresManifest` (workers on several hosts) open the transactions.
    """

    def _read(self) -> AbstractContextManager[Statements]:
        """A transaction that only reads: one state, even while another process commits."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Statements]:
        """A write transaction (writers wait for each other), rolled back on any error."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection (nothing for a pool, which is the process's)."""

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --------------------------------------------------------------- reading

    def source(self, path: str) -> Source | None:
        with self._read() as db:
            row = db.execute(
                "SELECT path, doc_id, sha256 FROM sources WHERE path = %s", (path,)
            ).fetchone()
        return None if row is None else Source(*row)

    def sources(self) -> list[Source]:
        with self._read() as db:
            rows = db.execute("SELECT path, doc_id, sha256 FROM sources ORDER BY path").fetchall()
        return [Source(*row) for row in rows]

    def sources_of(self, doc_id: str) -> list[Source]:
        """The files a brief was read from."""
        with self._read() as db:
            rows = db.execute(
                "SELECT path, doc_id, sha256 FROM sources WHERE doc_id = %s ORDER BY path",
                (doc_id,),
            ).fetchall()
        return [Source(*row) for row in rows]

    def has_brief(self, doc_id: str) -> bool:
        with self._read() as db:
            found = db.execute("SELECT 1 FROM briefs WHERE doc_id = %s", (doc_id,)).fetchone()
        return found is not None

    def briefs(self) -> list[BriefInfo]:
        return self._infos("", ())

    def brief(self, doc_id: str) -> BriefInfo | None:
        infos = self._infos(" WHERE doc_id = %s", (doc_id,))
        return infos[0] if infos else None

    def _infos(self, where: str, args: tuple[str, ...]) -> list[BriefInfo]:
        with self._read() as db:
            rows = db.execute(
                "SELECT doc_id, title, number, date, format, sha256, sections, chunk_ids,"
                f" ingested_at, authors, author_roles FROM briefs{where}"
                # Undated briefs last in both databases (SQLite sorts NULL first).
                " ORDER BY date IS NULL, date DESC, title",
                args,
            ).fetchall()
            paths: dict[str, list[str]] = {}
            sources = f"SELECT path, doc_id FROM sources{where} ORDER BY path"
            for path, doc_id in db.execute(sources, args).fetchall():
                paths.setdefault(doc_id, []).append(path)
        return [
            BriefInfo(
                doc_id=r[0],
                title=r[1],
                number=r[2],
                date=r[3],
                format=r[4],
                sha256=r[5],
                sections=tuple(json.loads(r[6])),
                chunks=len(json.loads(r[7])),
                sources=tuple(paths.get(r[0], ())),
                ingested_at=r[8],
                authors=tuple(json.loads(r[9])),
                author_roles=tuple(json.loads(r[10])),
            )
            for r in rows
        ]

    def copies(self) -> list[Copy]:
        """The fingerprint of every brief that has one (see :mod:`briefqa.index.copies`)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT c.doc_id, c.signature, c.origin, b.format, c.length"
                " FROM copies c JOIN briefs b ON b.doc_id = c.doc_id"
            ).fetchall()
        return [Copy(r[0], bytes(r[1]), r[2], r[3], r[4]) for r in rows]

    def record_copy(self, copy: Copy) -> None:
        """Keep the fingerprint of a brief indexed before fingerprints were recorded."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM briefs WHERE doc_id = %s", (copy.doc_id,)).fetchone():
                _keep_copy(db, copy.doc_id, copy.signature, copy.origin, copy.length)

    def fill_metadata(
        self, doc_id: str, *, number: str | None, date: str | None, authors: Sequence[str]
    ) -> None:
        """Give a brief the number, date and authors it lacks (another copy's)."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE briefs SET number = COALESCE(number, %s), date = COALESCE(date, %s),"
                " authors = CASE WHEN authors = '[]' THEN %s ELSE authors END WHERE doc_id = %s",
                (number, date, json.dumps(list(authors)), doc_id),
            ).rowcount
            if changed:
                _bump(db)

    def chunk_ids(self, doc_id: str | None = None) -> list[str]:
        """Chunk ids of one brief, or of every brief."""
        with self._read() as db:
            if doc_id is None:
                rows = db.execute("SELECT chunk_ids FROM briefs").fetchall()
            else:
                rows = db.execute(
                    "SELECT chunk_ids FROM briefs WHERE doc_id = %s", (doc_id,)
                ).fetchall()
        return [cid for (ids,) in rows for cid in json.loads(ids)]

    def chunk_owners(self) -> dict[str, list[str]]:
        """chunk id → the briefs that list it, once per listing (a sound index lists
        each chunk exactly once)."""
        owners: dict[str, list[str]] = {}
        with self._read() as db:
            rows = db.execute("SELECT doc_id, chunk_ids FROM briefs").fetchall()
        for doc_id, ids in rows:
            for cid in json.loads(ids):
                owners.setdefault(cid, []).append(doc_id)
        return owners

    def generation(self) -> int:
        """A counter bumped whenever the set of indexed chunks changes.

        Readers that cache derived data (the BM25 index, the briefs' catalogue) compare it
        to know when to rebuild. Inside :meth:`pinned` it is read once.
        """
        pinned = _PINNED.get().get(id(self))
        if pinned is not None:
            return pinned
        value = self.get_meta("generation")
        return int(value) if value is not None else 0

    @contextmanager
    def pinned(self) -> Iterator[int]:
        """One generation for the block (one question): the BM25 index and the briefs'
        catalogue it uses are of one state, read once instead of at each use (a round
        trip each when the manifest is in PostgreSQL)."""
        pins = _PINNED.get()
        if id(self) in pins:
            yield pins[id(self)]
            return
        generation = self.generation()
        token = _PINNED.set({**pins, id(self): generation})
        try:
            yield generation
        finally:
            _PINNED.reset(token)

    def pending(self) -> list[str]:
        with self._read() as db:
            return [row[0] for row in db.execute("SELECT chunk_id FROM pending").fetchall()]

    # --------------------------------------------------------------- writing

    def add_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            _add_pending(db, chunk_ids)

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        """Forget pending ids once they are deleted from the store.

        This bumps the generation again: the bump that dropped their brief came *before*
        the store deletion, so a BM25 index another worker built in between still holds
        the deleted chunks, and must be rebuilt.
        """
        with self._transaction() as db:
            rows = [(c,) for c in chunk_ids]
            if db.executemany("DELETE FROM pending WHERE chunk_id = %s", rows).rowcount:
                _bump(db)

    def commit(
        self,
        items: Sequence[tuple[Brief, Sequence[str], Sequence[Source]]],
        fingerprints: Mapping[str, bytes] | None = None,
    ) -> list[str]:
        """Record briefs whose chunks are now in the store, with the files they came from
        and (by doc id) their fingerprints.

        A file that pointed at another brief is re-pointed; a brief left without files is
        dropped. Returns the chunk ids that are now orphaned (pending deletion).
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        fingerprints = fingerprints or {}
        with self._transaction() as db:
            for brief, chunk_ids, _ in items:
                db.execute(
                    "INSERT INTO briefs (doc_id, title, number, date, format, sha256, sections,"
                    " chunk_ids, ingested_at, authors, author_roles)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (doc_id) DO UPDATE SET title = excluded.title,"
                    " number = excluded.number, date = excluded.date, format = excluded.format,"
                    " sha256 = excluded.sha256, sections = excluded.sections,"
                    " chunk_ids = excluded.chunk_ids, ingested_at = excluded.ingested_at,"
                    " authors = excluded.authors, author_roles = excluded.author_roles",
                    (
                        brief.doc_id,
                        brief.title,
                        brief.number,
                        brief.date,
                        brief.format,
                        brief.sha256,
                        json.dumps(list(brief.sections)),
                        json.dumps(list(chunk_ids)),
                        now,
                        json.dumps(list(brief.authors)),
                        json.dumps(list(brief.author_roles)),
                    ),
                )
                if brief.doc_id in fingerprints:
                    signature = fingerprints[brief.doc_id]
                    _keep_copy(db, brief.doc_id, signature, brief.source, len(brief.text))
                db.executemany("DELETE FROM pending WHERE chunk_id = %s", [(c,) for c in chunk_ids])
            _bump(db)
            orphaned: list[str] = []
            for _, _, sources in items:
                for source in sources:
                    orphaned += _point(db, source)
        return orphaned

    def dedupe_chunk_ids(self) -> int:
        """Keep each chunk id once, in the brief its id was derived from (ids start with
        their brief's id); returns how many listings were removed."""
        removed = 0
        with self._transaction() as db:
            for doc_id, ids in db.execute("SELECT doc_id, chunk_ids FROM briefs").fetchall():
                listed: list[str] = json.loads(ids)
                kept = [cid for cid in dict.fromkeys(listed) if cid.startswith(f"{doc_id}-")]
                if len(kept) != len(listed):
                    removed += len(listed) - len(kept)
                    db.execute(
                        "UPDATE briefs SET chunk_ids = %s WHERE doc_id = %s",
                        (json.dumps(kept), doc_id),
                    )
            if removed:
                _bump(db)
        return removed

    def point(self, source: Source) -> list[str]:
        """Record that ``source.path`` holds an already indexed brief."""
        with self._transaction() as db:
            return _point(db, source)

    def remove_source(self, path: str) -> tuple[str | None, list[str]]:
        """Forget a file. Returns the brief dropped with it (if any) and its orphaned ids."""
        with self._transaction() as db:
            row = db.execute("SELECT doc_id FROM sources WHERE path = %s", (path,)).fetchone()
            if row is None:
                return None, []
            db.execute("DELETE FROM sources WHERE path = %s", (path,))
            orphaned = _drop_if_unreferenced(db, row[0])
            return (row[0] if orphaned is not None else None), orphaned or []

    def remove_brief(self, doc_id: str) -> list[str] | None:
        """Drop a brief and its files. Returns its orphaned ids, or None if unknown."""
        with self._transaction() as db:
            db.execute("DELETE FROM sources WHERE doc_id = %s", (doc_id,))
            return _drop_if_unreferenced(db, doc_id)

    # -------------------------------------------------------------- copying

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in one snapshot (to copy the manifest elsewhere)."""
        with self._read() as db:
            return {
                table: [tuple(row) for row in db.execute(
                    f"SELECT {', '.join(names)} FROM {table}").fetchall()]
                for table, names in _COLUMNS.items()
            }  # fmt: skip

    def load(self, tables: Mapping[str, Sequence[tuple[Any, ...]]]) -> int:
        """Add rows :meth:`dump` gave, each unless its key is here already; how many
        briefs were added. The generation moves on, so every worker sees them."""
        with self._transaction() as db:
            before = len(db.execute("SELECT doc_id FROM briefs").fetchall())
            for table, names in _COLUMNS.items():
                marks = ", ".join(["%s"] * len(names))
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
                    " ON CONFLICT DO NOTHING",
                    [
                        row
                        for row in tables.get(table, ())
                        if table != "meta" or row[0] != "generation"
                    ],
                )
            added = len(db.execute("SELECT doc_id FROM briefs").fetchall()) - before
            _bump(db)
        return added


class SQLiteManifest(Manifest):
    """The manifest in the data dir's SQLite file (WAL), shared by the threads and
    processes of one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = open_wal(
                path, _schema_current, _create_schema, version=SCHEMA_VERSION, tables=_TABLES
            )
        except UnknownFile as exc:
            raise UnknownSchema(
                f"the manifest {path} is not one this briefqa can read: {exc}. Use the "
                "briefqa that wrote it, or set the file aside and rebuild the index from "
                "the briefs' files (uploads and BRIEFQA_CORPUS_DIR): `briefqa check --rebuild`"
            ) from exc
        except StillLocked as exc:
            raise StoreError(
                f"the manifest {path} stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:g} s ({exc}); try again"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot open the manifest {path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise DataDamaged(f"the manifest {path} is unreadable ({exc}); {REBUILD}") from exc
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _read(self) -> Iterator[Statements]:
        with self._lock, writing(self._db, mode="DEFERRED") as db:
            yield QuestionMarks(db)

    @contextmanager
    def _transaction(self) -> Iterator[Statements]:
        with self._lock, writing(self._db) as db:
            yield QuestionMarks(db)


class PostgresManifest(InDatabase, Manifest):
    """The manifest in PostgreSQL (``BRIEFQA_DATABASE_URL``), shared by every worker on
    every host that has the same URL."""

    def _read(self) -> AbstractContextManager[Statements]:
        return super()._transaction(write=False)

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Statements]:
        with super()._transaction(write=write) as db:
            if write:
                fence(db, self.url)  # the writer lock is still this writer's
            yield db


def _keep_copy(db: Statements, doc_id: str, signature: bytes, origin: str, length: int) -> None:
    db.execute(
        "INSERT INTO copies (doc_id, signature, origin, length) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (doc_id) DO UPDATE SET signature = excluded.signature,"
        " origin = excluded.origin, length = excluded.length",
        (doc_id, signature, origin, length),
    )


def _add_pending(db: Statements, chunk_ids: Iterable[str]) -> None:
    db.executemany(
        "INSERT INTO pending (chunk_id) VALUES (%s) ON CONFLICT (chunk_id) DO NOTHING",
        [(c,) for c in chunk_ids],
    )


def _point(db: Statements, source: Source) -> list[str]:
    old = db.execute("SELECT doc_id FROM sources WHERE path = %s", (source.path,)).fetchone()
    db.execute(
        "INSERT INTO sources (path, doc_id, sha256) VALUES (%s, %s, %s)"
        " ON CONFLICT (path) DO UPDATE SET doc_id = excluded.doc_id, sha256 = excluded.sha256",
        (source.path, source.doc_id, source.sha256),
    )
    if old is None or old[0] == source.doc_id:
        return []
    return _drop_if_unreferenced(db, old[0]) or []


def _drop_if_unreferenced(db: Statements, doc_id: str) -> list[str] | None:
    if db.execute("SELECT 1 FROM sources WHERE doc_id = %s", (doc_id,)).fetchone():
        return None
    row = db.execute("SELECT chunk_ids FROM briefs WHERE doc_id = %s", (doc_id,)).fetchone()
    if row is None:
        return None
    ids: list[str] = json.loads(row[0])
    db.execute("DELETE FROM copies WHERE doc_id = %s", (doc_id,))
    db.execute("DELETE FROM briefs WHERE doc_id = %s", (doc_id,))
    _bump(db)
    _add_pending(db, ids)
    return ids


def _bump(db: Statements) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT (key)"
        " DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
    )
