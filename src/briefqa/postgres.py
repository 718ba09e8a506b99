"""State shared by workers on several hosts, in PostgreSQL (``BRIEFQA_DATABASE_URL``).

Today that is staff's conversations (:class:`PostgresConversations`, the same contract as
:class:`~briefqa.conversations.SQLiteConversations`) and their feedback
(:class:`PostgresFeedback`, in place of ``feedback.jsonl``): with them in the database,
any worker can continue a chat another worker began, and evaluators read every
worker's feedback in one place.

Connections come from one pool per process (psycopg 3, ``psycopg_pool``). The schema is
versioned in ``briefqa_schema`` (one row per part, its version): :func:`migrate` applies
what is missing under an advisory lock, so workers starting together do not collide, and
refuses a database a newer briefqa has written.

Requires the ``postgres`` extra: ``pip install 'briefqa[postgres]'``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from .conversations import SQLConversations, Statements, json_text
from .errors import BriefQAError, ConfigError, StoreError, UnknownSchema
from .errors import redact as _redact

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresConversations", "PostgresFeedback", "connect", "migrate"]

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
}
# One advisory lock key for every migration of every part (any 64-bit number of ours).
_MIGRATION_LOCK = 0x62726965667161  # "briefqa"

_pools: dict[str, ConnectionPool[Any]] = {}
_pools_lock = threading.Lock()
_opening: dict[str, threading.Lock] = {}
_failed: dict[str, tuple[float, StoreError]] = {}
#: How long a failure to reach a database is answered from memory.
_RETRY_S = 2.0


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
    try:
        # One connection first: the pool only says it timed out, this says why (a
        # refused login, an unknown database, a host that does not answer).
        psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
    except Exception as exc:
        raise _store_error(url, exc) from None
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=8,
        timeout=timeout,
        open=False,
        # A server restarted under a worker: a dead connection is noticed and replaced.
        check=ConnectionPool.check_connection,
        name="briefqa",
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
            for statements in steps[have:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO briefqa_schema (part, version) VALUES (%s, %s) ON CONFLICT (part) "
                "DO UPDATE SET version = EXCLUDED.version, migrated_at = now() "
                "WHERE briefqa_schema.version <> EXCLUDED.version",
                (part, len(steps)),
            )
            found[part] = len(steps)
    return {part: int(v) for part, v in found.items()}


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
def _connection(url: str, timeout: float, *, read_only: bool = False) -> Iterator[Connection[Any]]:
    """One transaction on a connection of the process's pool for ``url``; a lost or
    refused connection becomes a :class:`StoreError` naming the database (the pool
    replaces the connection for the next call). ``read_only``: one snapshot for all its
    reads (PostgreSQL's default takes a new one for each statement)."""
    try:
        with connect(url, timeout=timeout).connection() as conn, conn.transaction():
            if read_only:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn
    except BriefQAError:
        raise
    except Exception as exc:
        raise _store_error(url, exc) from None


class PostgresConversations(SQLConversations):
    """Conversations in PostgreSQL, shared by every worker that has the same URL."""

    lock_row = " FOR UPDATE"
    json_value = "%s::jsonb"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        connect(url, timeout=timeout)  # reachable, and its schema current, from the start

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Statements]:
        # A read in one snapshot: a delete between two reads would otherwise show a
        # conversation without its turns.
        with _connection(self.url, self.timeout, read_only=not write) as conn:
            yield cast(Statements, conn)


class PostgresFeedback:
    """Feedback events in PostgreSQL, in the order they were recorded (the
    :class:`~briefqa.feedback.FeedbackEvents` of every worker with the same URL)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        connect(url, timeout=timeout)

    def append(self, event: dict[str, Any]) -> None:
        self.copy([event])

    def copy(self, events: Iterable[dict[str, Any]]) -> int:
        """Append ``events``, each unless it is stored already; how many were new. An
        event is known by its ``event_id``; one from a file of before ids, by its line
        and content (two equal clicks in one second are two events)."""
        rows = []
        for line, event in enumerate(events):
            text = json_text(event)
            key = (
                event.get("event_id")
                or f"line {line}: " + hashlib.sha256(text.encode()).hexdigest()
            )
            rows.append((str(key), text))
        if not rows:
            return 0
        added = 0
        with _connection(self.url, self.timeout) as conn:
            for row in rows:
                added += conn.execute(
                    "INSERT INTO feedback_events (digest, event) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (digest) DO NOTHING",
                    row,
                ).rowcount
        return added

    def events(self) -> Iterator[dict[str, Any]]:
        with _connection(self.url, self.timeout, read_only=True) as conn:
            found = conn.execute("SELECT event FROM feedback_events ORDER BY id").fetchall()
        return (row[0] for row in found)
