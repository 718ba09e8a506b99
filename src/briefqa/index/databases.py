"""Opening the data dir's SQLite files (the manifest, the sentence vectors) when several
processes may open them at the same moment.

Two workers started together on an empty data dir both create the same file. SQLite's
busy timeout does not cover every collision there: switching a new file to WAL, and a
``CREATE TABLE IF NOT EXISTS`` that read the schema before the other process wrote it,
fail at once with "database is locked" instead of waiting. So the schema is written
only when it is missing, inside ``BEGIN IMMEDIATE`` (which waits for the write lock),
and every busy answer during the opening is retried until the timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

BUSY_TIMEOUT_S = 30.0


class StillLocked(sqlite3.OperationalError):
    """The file stayed locked by another process for the whole timeout."""


class UnknownFile(sqlite3.DatabaseError):
    """The file is a SQLite database this code did not write: a newer briefqa's (its
    schema version is higher) or another program's (its tables differ)."""


def open_wal(
    path: Path,
    is_current: Callable[[sqlite3.Connection], bool],
    create: Callable[[sqlite3.Connection], None],
    *,
    version: int,
    tables: dict[str, set[str]],
    timeout: float = BUSY_TIMEOUT_S,
) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode, its schema in place.

    ``create`` writes the schema (idempotently); it runs, in one write transaction,
    only when ``is_current`` says the file lacks part of it. ``version`` is the schema
    version this code writes (SQLite's ``user_version``); ``tables`` the columns each
    table had from the start, which a file of ours never lacks.

    Raises :class:`UnknownFile` for a file of a later version or with other tables,
    :class:`StillLocked` after ``timeout`` seconds of other processes' locks,
    :class:`OSError` when the file cannot be opened at all, or the ``sqlite3`` error of
    a file that is not a database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Autocommit: every read outside a transaction sees what other processes have
        # committed. Writers wait for each other rather than fail at once (SQLite's
        # default is 5 s).
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
    except sqlite3.Error as exc:  # a folder in the way, no permission: not damage
        raise OSError(f"cannot open {path}: {exc}") from exc
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found > version:
                raise UnknownFile(
                    f"it was written by a newer briefqa (schema version {found}; this "
                    f"one reads up to {version})"
                )
            for table, needed in tables.items():
                have = columns(db, table)
                if have and not needed <= have:
                    raise UnknownFile(
                        f"its table {table!r} lacks the columns "
                        f"{', '.join(sorted(needed - have))}: another program wrote it"
                    )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if found < version or not is_current(db):
                with writing(db):
                    create(db)
                    db.execute(f"PRAGMA user_version={int(version)}")
            return db
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                db.close()
                raise
            if time.monotonic() > deadline:
                db.close()
                raise StillLocked(str(exc)) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        except BaseException:
            db.close()
            raise


@contextmanager
def writing(
    db: sqlite3.Connection, mode: Literal["IMMEDIATE", "DEFERRED"] = "IMMEDIATE"
) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection, taken at once (waiting for
    other writers) and rolled back on any error; ``mode="DEFERRED"``: a transaction that
    only reads, one consistent view of the file."""
    db.execute(f"BEGIN {mode}")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # SQLite has already rolled back after some errors (a full disk among them);
        # a second ROLLBACK would raise and hide the cause.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    """The columns a table has (empty when it does not exist)."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def names(db: sqlite3.Connection) -> set[str]:
    """The tables and indexes a file has."""
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master")}


class QuestionMarks:
    """A SQLite connection as :class:`briefqa.database.Statements`: SQLite's ``?`` for the
    ``%s`` of SQL written once for both databases (which therefore holds no literal
    ``%s``: values always travel as parameters)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, values: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql.replace("%s", "?"), values)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> sqlite3.Cursor:
        return self.db.executemany(sql.replace("%s", "?"), rows)
