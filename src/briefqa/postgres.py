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
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from .conversations import (
    check_rating,
    check_user,
    clean_title,
    epoch,
    from_row,
    iso_time,
    title_of,
)
from .errors import ConfigError, ConversationNotFound, InvalidQuestion, StoreError, UnknownSchema
from .errors import redact as _redact
from .schema import Answer, Conversation, Rating, Turn

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresConversations", "PostgresFeedback", "connect", "migrate"]

T = TypeVar("T")

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
            # digest: the event's content, so that copying a feedback file twice keeps
            # each event once.
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


def connect(url: str, *, timeout: float = 10.0) -> ConnectionPool[Any]:
    """This process's pool for ``url`` (one per URL, opened on first use), its schema
    migrated.

    Raises:
        ConfigError: psycopg is not installed (the ``postgres`` extra).
        StoreError: the server cannot be reached within ``timeout`` seconds, or refused
            the login (the message names the host, never the password).
        UnknownSchema: a newer briefqa has migrated the database.
    """
    with _pools_lock:
        pool = _pools.get(url)
        if pool is not None:
            return pool
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(
                "BRIEFQA_DATABASE_URL needs psycopg: pip install 'briefqa[postgres]'"
            ) from None
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
        _pools[url] = pool
        return pool


def close_pools() -> None:
    """Close every pool this process opened (tests, and a clean shutdown)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


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


class PostgresConversations:
    """Conversations in PostgreSQL, shared by every worker that has the same URL."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._pool = connect(url, timeout=timeout)

    @contextmanager
    def _transaction(self) -> Iterator[Connection[Any]]:
        """One transaction; a lost or refused connection becomes a :class:`StoreError`
        naming the database (the pool replaces the connection for the next call)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except (ConversationNotFound, InvalidQuestion):
            raise
        except Exception as exc:
            error = _store_error(self.url, exc)
            if error is exc:
                raise
            raise error from None

    def _run(self, work: Callable[[Connection[Any]], T]) -> T:
        with self._transaction() as conn:
            return work(conn)

    def start(self, user: str, answer: Answer) -> Conversation:
        # Random, not derived from the content: the id is also the share link.
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()

        def work(conn: Connection[Any]) -> None:
            conn.execute(
                "INSERT INTO conversations (id, username, title, created, updated, shared) "
                "VALUES (%s, %s, %s, %s, %s, FALSE)",
                (conversation_id, check_user(user), title_of(answer.question), now, now),
            )
            _insert_turn(conn, conversation_id, 0, answer, now)

        self._run(work)
        return self._one(user, conversation_id, own=True)

    def add(self, user: str, conversation_id: str, answer: Answer) -> Turn:
        now = time.time()

        def work(conn: Connection[Any]) -> int:
            # The row lock orders two workers appending to one conversation.
            _owned(conn, user, conversation_id, lock=True)
            (number,) = conn.execute(
                "SELECT COUNT(*) FROM conversation_turns WHERE conversation = %s",
                (conversation_id,),
            ).fetchone() or (0,)
            _insert_turn(conn, conversation_id, int(number), answer, now)
            conn.execute(
                "UPDATE conversations SET updated = %s WHERE id = %s", (now, conversation_id)
            )
            return int(number)

        return Turn(self._run(work), answer, iso_time(now))

    def rate(self, user: str, conversation_id: str, number: int, rating: Rating | None) -> None:
        check_rating(rating)

        def work(conn: Connection[Any]) -> None:
            _owned(conn, user, conversation_id)
            changed = conn.execute(
                "UPDATE conversation_turns SET rating = %s WHERE conversation = %s AND number = %s",
                (rating, conversation_id, number),
            ).rowcount
            if not changed:
                raise ConversationNotFound(
                    conversation_id, f"conversation {conversation_id!r} has no turn {number}"
                )

        self._run(work)

    def list(self, user: str) -> list[Conversation]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT c.id, c.username, c.title, c.created, c.updated, c.shared, "
                "(SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.username = %s ORDER BY c.updated DESC, c.id",
                (check_user(user),),
            ).fetchall()
        )
        return [from_row(row) for row in rows]

    def get(self, user: str, conversation_id: str) -> Conversation:
        return self._one(user, conversation_id, own=False)

    def rename(self, user: str, conversation_id: str, title: str) -> Conversation:
        title = clean_title(title)
        self._change(user, conversation_id, "UPDATE conversations SET title = %s WHERE id = %s",
                     (title, conversation_id))  # fmt: skip
        return self._one(user, conversation_id, own=True)

    def share(self, user: str, conversation_id: str, shared: bool = True) -> Conversation:
        self._change(user, conversation_id, "UPDATE conversations SET shared = %s WHERE id = %s",
                     (bool(shared), conversation_id))  # fmt: skip
        return self._one(user, conversation_id, own=True)

    def delete(self, user: str, conversation_id: str) -> None:
        # The turns go with it (ON DELETE CASCADE).
        self._change(user, conversation_id, "DELETE FROM conversations WHERE id = %s",
                     (conversation_id,))  # fmt: skip

    def _change(
        self, user: str, conversation_id: str, statement: str, values: tuple[Any, ...]
    ) -> None:
        """Run ``statement`` on one of the user's own conversations."""
        with self._transaction() as conn:
            _owned(conn, user, conversation_id)
            conn.execute(statement, values)

    def every(self) -> Iterator[Conversation]:
        """Every user's conversations with their turns (for copying them elsewhere)."""
        ids = self._run(
            lambda conn: conn.execute(
                "SELECT id, username FROM conversations ORDER BY created"
            ).fetchall()
        )
        for cid, user in ids:
            yield self._one(user, cid, own=True)

    def restore(self, conversation: Conversation) -> bool:
        """Store ``conversation`` as it is (its id, user, times and turns), unless one with
        its id is stored already; whether it was stored."""

        def work(conn: Connection[Any]) -> bool:
            stored = conn.execute(
                "INSERT INTO conversations (id, username, title, created, updated, shared) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (conversation.id, conversation.user, conversation.title,
                 epoch(conversation.created), epoch(conversation.updated),
                 conversation.shared),
            ).rowcount  # fmt: skip
            if not stored:
                return False
            for turn in conversation.turns:
                _insert_turn(conn, conversation.id, turn.number, turn.answer,
                             epoch(turn.asked_at), turn.rating)  # fmt: skip
            return True

        return self._run(work)

    def close(self) -> None:
        """Nothing to release: the pool is the process's, shared by every engine."""

    def _one(self, user: str, conversation_id: str, *, own: bool) -> Conversation:
        def work(conn: Connection[Any]) -> tuple[Any, list[Any]]:
            row = conn.execute(
                "SELECT id, username, title, created, updated, shared, 0 "
                "FROM conversations WHERE id = %s",
                (conversation_id,),
            ).fetchone()
            turns = conn.execute(
                "SELECT number, question, answer, created, rating FROM conversation_turns "
                "WHERE conversation = %s ORDER BY number",
                (conversation_id,),
            ).fetchall()
            return row, turns

        row, turns = self._run(work)
        if row is None or (row[1] != check_user(user) and (own or not row[5])):
            raise ConversationNotFound(conversation_id)
        kept = tuple(
            Turn(number, Answer.from_dict(data, question), iso_time(at), rating)
            for number, question, data, at, rating in turns
        )
        found = from_row(row)
        return Conversation(**{**found.__dict__, "turns": kept, "size": len(kept)})


def _owned(conn: Connection[Any], user: str, conversation_id: str, *, lock: bool = False) -> None:
    row = conn.execute(
        "SELECT 1 FROM conversations WHERE id = %s AND username = %s"
        + (" FOR UPDATE" if lock else ""),
        (conversation_id, check_user(user)),
    ).fetchone()
    if row is None:
        raise ConversationNotFound(conversation_id)


def _insert_turn(
    conn: Connection[Any],
    conversation_id: str,
    number: int,
    answer: Answer,
    at: float,
    rating: Rating | None = None,
) -> None:
    conn.execute(
        "INSERT INTO conversation_turns (conversation, number, question, answer, created, rating) "
        "VALUES (%s, %s, %s, %s::jsonb, %s, %s)",
        (conversation_id, number, answer.question, json.dumps(answer.to_dict()), at, rating),
    )


class PostgresFeedback:
    """Feedback events in PostgreSQL, in the order they were recorded (the
    :class:`~briefqa.feedback.FeedbackEvents` of every worker with the same URL)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._pool = connect(url, timeout=timeout)

    def append(self, event: dict[str, Any]) -> None:
        self.copy([event])

    def copy(self, events: Iterable[dict[str, Any]]) -> int:
        """Append ``events``, each unless an event of the same content is stored; how
        many were new."""
        rows = []
        for event in events:
            text = json.dumps(event, sort_keys=True, ensure_ascii=False)
            rows.append((hashlib.sha256(text.encode()).hexdigest(), text))
        if not rows:
            return 0
        try:
            with self._pool.connection() as conn, conn.transaction():
                added = 0
                for row in rows:
                    added += conn.execute(
                        "INSERT INTO feedback_events (digest, event) VALUES (%s, %s::jsonb) "
                        "ON CONFLICT (digest) DO NOTHING",
                        row,
                    ).rowcount
                return added
        except Exception as exc:
            raise _store_error(self.url, exc) from None

    def events(self) -> Iterator[dict[str, Any]]:
        try:
            with self._pool.connection() as conn:
                found = conn.execute("SELECT event FROM feedback_events ORDER BY id").fetchall()
        except Exception as exc:
            raise _store_error(self.url, exc) from None
        return (row[0] for row in found)
