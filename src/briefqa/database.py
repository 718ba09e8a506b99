"""PostgreSQL (``BRIEFQA_DATABASE_URL``): the connection pool, the versioned schema and
the writers' lock that let workers on several hosts share one index and one set of
staff's state.

What lives there: the index's manifest, sentence vectors and uploaded files
(:mod:`briefqa.index`), staff's conversations and feedback (:mod:`briefqa.postgres`).
Each keeps the same contract as its SQLite file, its SQL written once with ``%s``
placeholders over :class:`Statements`.

Connections come from one pool per process (psycopg 3, ``psycopg_pool``). The schema is
versioned in ``briefqa_schema`` (one row per part, its version): :func:`migrate` applies
what is missing under an advisory lock, so workers starting together do not collide, and
refuses a database a newer briefqa has written.

Requires the ``postgres`` extra: ``pip install 'briefqa[postgres]'``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from .errors import BriefQAError, ConfigError, IndexLocked, StoreError, UnknownSchema
from .errors import redact as _redact

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = [
    "MIGRATIONS",
    "InDatabase",
    "Statements",
    "close_pools",
    "connect",
    "connection",
    "fence",
    "migrate",
    "set_aside",
    "statements",
    "still_held",
    "writer_turn",
]


class Statements(Protocol):
    """One open transaction: SQL with ``%s`` placeholders, in the dialect SQLite and
    PostgreSQL share (``INSERT … ON CONFLICT``)."""

    def execute(self, sql: str, values: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        """Run ``sql`` once for each row; the cursor's ``rowcount`` is their total."""
        ...


#: Each part's schema, by version: the statements that bring version n-1 to n.
MIGRATIONS: dict[str, list[list[str]]] = {
    "conversations": [
        [
            "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, "
            "username TEXT NOT NULL, title TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, "
            "updated DOUBLE PRECISION NOT NULL, shared BOOLEAN NOT NULL DEFAULT FALSE)",
            "CREATE INDEX IF NOT EXISTS conversations_by_user "
            "ON conversations (username, updated DESC)",
            "CREATE TABLE IF NOT EXISTS conversation_turns (conversation TEXT NOT NULL "
            "REFERENCES conversations (id) ON DELETE CASCADE, number INTEGER NOT NULL, "
            "question TEXT NOT NULL, answer JSONB NOT NULL, created DOUBLE PRECISION NOT NULL, "
            "rating TEXT, PRIMARY KEY (conversation, number))",
        ],
    ],
    "feedback": [
        [
            # digest: the event's id (its line and content for events of before ids),
            # so that copying a feedback file twice keeps each event once.
            "CREATE TABLE IF NOT EXISTS feedback_events (id BIGSERIAL PRIMARY KEY, "
            "digest TEXT NOT NULL UNIQUE, event JSONB NOT NULL, "
            "recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        ],
    ],
    "index": [
        [
            # The manifest (briefqa.index.manifest): the same tables as its SQLite file,
            # without foreign keys, which SQLite never enforced on them either.
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS briefs (doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, "
            "number TEXT, date TEXT, format TEXT NOT NULL, sha256 TEXT NOT NULL, "
            "sections TEXT NOT NULL, chunk_ids TEXT NOT NULL, ingested_at TEXT NOT NULL, "
            "authors TEXT NOT NULL DEFAULT '[]', author_roles TEXT NOT NULL DEFAULT '[]')",
            "CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, doc_id TEXT NOT NULL, "
            "sha256 TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS sources_doc ON sources (doc_id)",
            "CREATE TABLE IF NOT EXISTS pending (chunk_id TEXT PRIMARY KEY)",
            "CREATE TABLE IF NOT EXISTS copies (doc_id TEXT PRIMARY KEY, signature BYTEA NOT NULL, "
            "origin TEXT NOT NULL, length INTEGER NOT NULL)",
            # The sentence vectors (briefqa.index.sentences).
            "CREATE TABLE IF NOT EXISTS sentence_vectors (chunk_id TEXT PRIMARY KEY, "
            "dim INTEGER, data BYTEA, crc BIGINT)",
            # Uploaded files' bytes, by the key the manifest lists them under, so that a
            # worker on any host can read a brief again (repair, new readers).
            "CREATE TABLE IF NOT EXISTS uploads (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
            "data BYTEA NOT NULL, added TIMESTAMPTZ NOT NULL DEFAULT now())",
        ],
    ],
}
# One advisory lock key for every migration of every part (any 64-bit number of ours).
_MIGRATION_LOCK = 0x62726965667161  # "briefqa"

_pools: dict[str, ConnectionPool[Any]] = {}
_pools_lock = threading.Lock()
_opening: dict[str, threading.Lock] = {}
_failed: dict[str, tuple[float, StoreError]] = {}
#: How long a failure to reach a database is answered from memory.
_RETRY_S = 2.0
# TCP keepalives on every connection: a host that vanishes (not a process that dies,
# whose socket closes) releases the writer lock, and a pooled connection to a vanished
# server fails, within about a minute, not the system's 2 hours.
_KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 20, "keepalives_interval": 10,
               "keepalives_count": 3}  # fmt: skip


def connect(url: str, *, timeout: float = 10.0) -> ConnectionPool[Any]:
    """This process's pool for ``url`` (one per URL, opened on first use), its schema
    migrated.

    Raises:
        ConfigError: psycopg is not installed (the ``postgres`` extra).
        StoreError: the server cannot be reached within ``timeout`` seconds, or refused
            the login (the message names the host, never the password). For
            :data:`_RETRY_S` after a failure the same error is raised at once: requests
            do not queue behind attempts to reach a server that is down.
        UnknownSchema: a newer briefqa has migrated the database.
    """
    with _pools_lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        lock = _opening.setdefault(url, threading.Lock())
    with lock:  # one attempt per URL at a time; other URLs are not held up
        with _pools_lock:
            pool = _pools.get(url)
            failed = _failed.get(url)
        if pool is not None:
            return pool
        if failed is not None and time.monotonic() - failed[0] < _RETRY_S:
            raise failed[1]
        try:
            pool = _open(url, timeout)
        except StoreError as exc:
            with _pools_lock:
                _failed[url] = (time.monotonic(), exc)
            raise
        with _pools_lock:
            _pools[url] = pool
            _failed.pop(url, None)
        return pool


def _open(url: str, timeout: float) -> ConnectionPool[Any]:
    try:
        import psycopg
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise ConfigError(
            "BRIEFQA_DATABASE_URL needs psycopg: pip install 'briefqa[postgres]'"
        ) from None
    with _named(url):
        # One connection first: the pool only says it timed out, this says why (a
        # refused login, an unknown database, a host that does not answer).
        psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=8,
        timeout=timeout,
        open=False,
        name="briefqa",
        kwargs=dict(_KEEPALIVES),
    )
    try:
        pool.open(wait=True, timeout=timeout)
        migrate(pool)
    except BaseException as exc:
        pool.close()
        raise _store_error(url, exc) from None
    return pool


def close_pools() -> None:
    """Close every pool this process opened (tests, and a clean shutdown)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
        _failed.clear()


def migrate(pool: ConnectionPool[Any]) -> dict[str, int]:
    """Bring every part's schema to this briefqa's version; the versions after.

    Raises:
        UnknownSchema: a part is at a version this briefqa does not know (a newer one
            wrote it); nothing is changed then.
    """
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS briefqa_schema (part TEXT PRIMARY KEY, "
            "version INTEGER NOT NULL, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        found = dict(conn.execute("SELECT part, version FROM briefqa_schema").fetchall())
        for part, steps in MIGRATIONS.items():
            have = int(found.get(part, 0))
            if have > len(steps):
                raise UnknownSchema(
                    f"the database's {part} are at schema version {have}, written by a newer "
                    f"briefqa (this one knows up to {len(steps)}): upgrade briefqa"
                )
            if have == 0:
                _refuse_others(conn, part, steps)
            _apply(conn, steps[have:])
            conn.execute(
                "INSERT INTO briefqa_schema (part, version) VALUES (%s, %s) ON CONFLICT (part) "
                "DO UPDATE SET version = EXCLUDED.version, migrated_at = now() "
                "WHERE briefqa_schema.version <> EXCLUDED.version",
                (part, len(steps)),
            )
            found[part] = len(steps)
    return {part: int(v) for part, v in found.items()}


def _apply(conn: Connection[Any], steps: list[list[str]]) -> None:
    for step in steps:
        for statement in step:
            conn.execute(statement)


def _refuse_others(conn: Connection[Any], part: str, steps: list[list[str]]) -> None:
    """Before a part's tables are first made: a table of that name there already is
    another program's (``CREATE TABLE IF NOT EXISTS`` would take it silently)."""
    names = [m.group(1) for step in steps for st in step
             if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", st))]  # fmt: skip
    taken = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s) ORDER BY table_name",
        (names,),
    ).fetchall()
    if taken:
        raise UnknownSchema(
            f"the database already has the table(s) {', '.join(t for (t,) in taken)}, which "
            f"briefqa's {part} would use and did not make: give briefqa a database of its own"
        )


@contextmanager
def _named(url: str) -> Iterator[None]:
    """A failure of the database as :class:`StoreError` naming it (never its password);
    briefqa's own errors and the caller's pass as they are."""
    try:
        yield
    except BriefQAError:
        raise
    except Exception as exc:
        mapped = _store_error(url, exc)
        if mapped is exc:  # not the database's: the caller's own error, as it was
            raise
        raise mapped from None


def _store_error(url: str, exc: BaseException) -> BaseException:
    """``exc`` as the briefqa error a caller reads (a database failure: :class:`StoreError`)."""
    if isinstance(exc, UnknownSchema | ConfigError | StoreError):
        return exc
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, psycopg.Error | PoolTimeout):
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return StoreError(f"the database {_where(url)} failed: {_redact(detail, [_password(url)])}")
    return exc


def _where(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "(an unreadable BRIEFQA_DATABASE_URL)"
    host, port, name = (
        parts.get("host") or "localhost",
        parts.get("port") or 5432,
        parts.get("dbname") or "",
    )
    return f"{name!r} at {host}:{port}"


def _password(url: str) -> str | None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return str(conninfo_to_dict(url).get("password") or "") or None
    except Exception:
        return None


@contextmanager
def connection(url: str, timeout: float, *, read_only: bool = False) -> Iterator[Connection[Any]]:
    """One transaction on a connection of the process's pool for ``url``; a lost or
    refused connection becomes a :class:`StoreError` naming the database (the pool
    replaces the connection for the next call). ``read_only``: one snapshot for all its
    reads (PostgreSQL's default takes a new one for each statement)."""
    from psycopg import IsolationLevel, OperationalError

    with _named(url):
        pool = connect(url, timeout=timeout)
        for attempt in range(2):
            with pool.connection() as conn, ExitStack() as stack:
                # Said in the BEGIN psycopg sends, not in a statement (a round trip) of
                # its own.
                conn.isolation_level = IsolationLevel.REPEATABLE_READ if read_only else None
                conn.read_only = read_only or None
                try:
                    stack.enter_context(conn.transaction())
                except OperationalError:
                    if attempt:
                        raise
                    # A connection the server dropped (it restarted): so were the pool's
                    # other idle ones; they are replaced, and the call tried once more.
                    pool.check()
                    continue
                yield conn
                return


def set_aside(
    url: str, part: str, tables: Sequence[str], stamp: str, *, timeout: float = 10.0
) -> None:
    """Rename ``tables`` of ``part`` (and their indexes) ``<name>_damaged_<stamp>`` and
    create them again empty, in one transaction: nothing of them is deleted."""
    suffix = "_damaged_" + "".join(c for c in stamp.lower() if c.isalnum())
    with connection(url, timeout) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s)",
            (list(tables),),
        ).fetchall()
        for (name,) in indexes:
            conn.execute(f"ALTER INDEX {name} RENAME TO {name}{suffix}")
        for table in tables:
            conn.execute(f"ALTER TABLE IF EXISTS {table} RENAME TO {table}{suffix}")
        _apply(conn, MIGRATIONS[part])


class _Rows:
    """A psycopg connection as :class:`Statements`."""

    def __init__(self, conn: Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, values: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, values)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        if not rows:
            return _NoRows()  # psycopg's unused cursor says -1
        cursor = self.conn.cursor()
        cursor.executemany(sql, rows)
        return cursor


class _NoRows:
    rowcount = 0


@contextmanager
def statements(url: str, timeout: float, *, read_only: bool = False) -> Iterator[Statements]:
    """:func:`connection`'s transaction as :class:`Statements`."""
    with connection(url, timeout, read_only=read_only) as conn:
        yield _Rows(conn)


class InDatabase:
    """A store whose rows live in the PostgreSQL database at ``url``: reachable, and its
    schema current, from the start; each call one transaction of the process's pool."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        connect(url, timeout=timeout)

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Statements]:
        # A read in one snapshot: a write between two of its statements stays unseen.
        return statements(self.url, self.timeout, read_only=not write)

    def close(self) -> None:
        """Nothing to release: the pool is the process's."""


# ------------------------------------------------------------- the writers' lock

# The writer's lock and the queue of those waiting for it (advisory lock keys of ours).
_WRITER_LOCK = 0x62726965667177  # "briefqw"
_QUEUE_LOCK = 0x62726965667171  # "briefqq"
_POLL_S = 0.05
# The lock's session must outlive a role's timeouts: a statement_timeout would cancel
# give_way's wait for the lock, an idle_session_timeout (PostgreSQL 14+) end the lock.
_LOCK_SESSION = (
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_session_timeout = 0",
)
# The backend holding the writer lock for the code running in this context, by URL (see
# fence()): per writer, not per process, and carried into the threads it hands work to
# (contextvars.copy_context), so that a writer that lost the lock is not vouched for by
# another thread's.
_holders: ContextVar[dict[str, int]] = ContextVar("briefqa_writer", default={})  # noqa: B039


class _Turn:
    """One writer's hold of the database's writer lock (see :func:`writer_turn`)."""

    def __init__(self, conn: Connection[Any], url: str) -> None:
        self._conn = conn
        self._url = url

    def give_way(self) -> bool:
        """Let the writers waiting now go first, then take the lock back (waiting as long
        as they write). Returns whether anyone was waiting."""
        if _try(self._conn, "pg_try_advisory_lock", _QUEUE_LOCK):  # nobody waits
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (_QUEUE_LOCK,))
            return False
        self._conn.execute("SELECT pg_advisory_unlock(%s)", (_WRITER_LOCK,))
        # Each waiter leaves the queue once it holds the lock (or gives up): when the
        # queue is free, every writer that was waiting has had its turn.
        self._conn.execute("SELECT pg_advisory_lock(%s)", (_QUEUE_LOCK,))
        self._conn.execute("SELECT pg_advisory_unlock(%s)", (_QUEUE_LOCK,))
        self._conn.execute("SELECT pg_advisory_lock(%s)", (_WRITER_LOCK,))
        return True


@contextmanager
def writer_turn(url: str, wait: float, *, timeout: float = 10.0) -> Iterator[_Turn]:
    """Hold the database's writer lock (one writer at a time across every worker on
    every host), waiting up to ``wait`` seconds for another writer, else raise
    :class:`IndexLocked`.

    A session-level advisory lock, held for the whole write on a connection of its own
    (not the pool's: writers waiting their turn must not take the connections the
    writer needs). The server releases it when the connection ends, so a worker killed
    mid-write never leaves a lock behind. Waiters hold the queue lock shared, which a
    long writer checks between briefs (:meth:`_Turn.give_way`), as the data dir's flock
    does.
    """
    import psycopg

    connect(url, timeout=timeout)  # the schema current, a failure named
    with (
        _named(url),
        psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout)), **_KEEPALIVES
        ) as conn,
    ):
        if not _try(conn, "pg_try_advisory_lock", _WRITER_LOCK) and not _queue(conn, wait):
            raise IndexLocked(
                f"another briefqa worker is writing to the index in {_where(url)} "
                f"(waited {wait:g} s, BRIEFQA_LOCK_WAIT_S); try again when it is done"
            )
        for setting in _LOCK_SESSION:
            with contextlib.suppress(psycopg.Error):  # not every server knows each
                conn.execute(setting)
        token = _holders.set({**_holders.get(), url: conn.info.backend_pid})
        try:
            yield _Turn(conn, url)
        finally:
            _holders.reset(token)


def still_held(url: str, *, timeout: float = 10.0) -> None:
    """:func:`fence` in a transaction of its own: before a step outside the database (a
    deletion from Chroma) that a writer which lost the lock must not take."""
    with statements(url, timeout) as db:
        fence(db, url)


def fence(db: Statements, url: str) -> None:
    """In a write transaction of a process that holds the writer lock: check that it still
    does. The writes go through the pool, the lock lives on a connection of its own; if
    that connection ended (the server restarted, a network cut, an administrator), the
    lock is gone and another writer may hold it: the write must stop, not interleave.

    Raises:
        StoreError: the lock was lost; the transaction is rolled back.
    """
    pid = _holders.get().get(url)
    if pid is None:
        return
    held = db.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = %s "
        "AND classid = %s AND objid = %s",
        (pid, _WRITER_LOCK >> 32, _WRITER_LOCK & 0xFFFFFFFF),
    ).fetchone()
    if held is None:
        raise StoreError(
            f"the writers' lock on {_where(url)} was lost (its connection ended): the write "
            "stopped before this step; try again (`briefqa check` names what it left)"
        )


def _try(conn: Connection[Any], function: str, key: int) -> bool:
    row = conn.execute(f"SELECT {function}(%s)", (key,)).fetchone()
    return bool(row and row[0])


def _queue(conn: Connection[Any], wait: float) -> bool:
    """Wait in the queue for the writer lock; whether it was taken in time."""
    if wait <= 0:
        return False
    deadline = time.monotonic() + wait
    while not _try(conn, "pg_try_advisory_lock_shared", _QUEUE_LOCK):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S / 10)
    try:
        while not _try(conn, "pg_try_advisory_lock", _WRITER_LOCK):
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)
        return True
    finally:
        conn.execute("SELECT pg_advisory_unlock_shared(%s)", (_QUEUE_LOCK,))
