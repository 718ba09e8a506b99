"""Staff's conversations, kept per user so that a chat survives a reload, a restart and
the next morning, and can be shared read-only with colleagues.

Every turn is stored as it is answered: the question, the answer as it was given (its
citations carry their quotes, so an answer stays readable after its brief is removed)
and the user's rating. A user sees only their own conversations; one they share may be
opened, not changed, by any logged-in user who has its link.

:class:`ConversationStore` is the small interface the engine and the surfaces use;
:class:`SQLiteConversations` keeps it in the data dir (``conversations.sqlite3``), next
to the manifest.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .answer.chain import check_text
from .database import Statements
from .errors import ConversationNotFound, InvalidQuestion, StoreError, UnknownSchema
from .index.databases import QuestionMarks, UnknownFile, columns, open_wal, writing
from .index.integrity import diagnose
from .schema import ANONYMOUS, Answer, Conversation, Rating, Turn

__all__ = [
    "ANONYMOUS",
    "ConversationStore",
    "SQLConversations",
    "SQLiteConversations",
    "title_of",
]

#: The longest title a conversation may be given, in characters.
MAX_TITLE = 200
# A title made from the first question stops at a word near this many characters.
_TITLE_CHARS = 80


class ConversationStore(Protocol):
    """Where conversations live. Every call names the user it acts for; a conversation
    of another user is :class:`~briefqa.NotFound` to them (its existence is not told)."""

    def start(self, user: str, answer: Answer) -> Conversation:
        """A new conversation whose first turn is ``answer``, titled by its question."""
        ...

    def add(self, user: str, conversation_id: str, answer: Answer) -> Turn:
        """Append ``answer`` as the conversation's next turn."""
        ...

    def rate(self, user: str, conversation_id: str, number: int, rating: Rating | None) -> None:
        """Keep the user's rating of turn ``number`` (None takes it back)."""
        ...

    def list(self, user: str) -> list[Conversation]:
        """The user's conversations, the most recently continued first, without turns."""
        ...

    def get(self, user: str, conversation_id: str) -> Conversation:
        """One of the user's conversations, or one shared by another user, with its turns."""
        ...

    def rename(self, user: str, conversation_id: str, title: str) -> Conversation:
        """Give the conversation a title of the user's choosing."""
        ...

    def share(self, user: str, conversation_id: str, shared: bool = True) -> Conversation:
        """Let other logged-in users open the conversation read-only (or stop that)."""
        ...

    def delete(self, user: str, conversation_id: str) -> None:
        """Delete the conversation and its turns."""
        ...

    def every(self) -> Iterator[Conversation]:
        """Every user's conversations with their turns, oldest first (for copying)."""
        ...

    def restore(self, conversation: Conversation) -> bool:
        """Store ``conversation`` as it is (id, user, times, turns, ratings) unless its id
        is stored already; whether it was stored."""
        ...

    def close(self) -> None: ...


def title_of(question: str) -> str:
    """A conversation's title from its first question: the question, cut at a word
    boundary near :data:`_TITLE_CHARS` characters."""
    text = " ".join(question.split())
    if len(text) <= _TITLE_CHARS:
        return text
    cut = text[:_TITLE_CHARS].rsplit(" ", 1)[0] or text[:_TITLE_CHARS]
    return cut.rstrip(" ,;:") + "…"


def json_text(value: Any) -> str:
    """``value`` as JSON that both SQLite and PostgreSQL's jsonb store: jsonb refuses NUL
    characters and NaN, which a brief's text or a score could carry."""
    return json.dumps(_storable(value), ensure_ascii=False, allow_nan=False)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def check_user(user: str) -> str:
    if not user or not user.strip():
        raise InvalidQuestion("a conversation belongs to a user: the user name is empty")
    return user


def clean_title(title: str) -> str:
    """A title a user typed, cleaned, or :class:`~briefqa.InvalidQuestion` naming what is
    wrong with it."""
    title = check_text(title, MAX_TITLE, "the conversation's title", may_be_empty=True,
                       setting=None)  # fmt: skip
    if not title:
        raise InvalidQuestion("the conversation's title is empty: type a title")
    return title


def check_rating(rating: object) -> Rating | None:
    if rating not in ("like", "dislike", None):
        raise InvalidQuestion(f"a rating is 'like', 'dislike' or none, not {rating!r}")
    return rating


def iso_time(at: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(float(at), UTC).isoformat(timespec="seconds")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class SQLConversations:
    """The contract, written once over SQL both SQLite and PostgreSQL speak; a subclass
    opens the transactions (:meth:`_transaction`)."""

    #: Added to the ownership check of an append: PostgreSQL's row lock orders two
    #: workers appending to one conversation (SQLite's write transaction already does).
    lock_row = ""
    #: How a JSON document is written (PostgreSQL casts it to jsonb).
    json_value = "%s"

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[Statements]:
        raise NotImplementedError

    def start(self, user: str, answer: Answer) -> Conversation:
        # Random, not derived from the content: the id is also the share link, which
        # must not be guessable from a question someone might ask.
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO conversations (id, username, title, created, updated, shared) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (conversation_id, check_user(user), title_of(answer.question), now, now, False),
            )
            self._insert_turn(db, conversation_id, 0, answer, now)
        return self._one(user, conversation_id, own=True)

    def add(self, user: str, conversation_id: str, answer: Answer) -> Turn:
        now = time.time()
        with self._transaction() as db:
            self._owned(db, user, conversation_id, lock=True)
            # The next number after the last (a restored conversation may have gaps).
            (number,) = db.execute(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM conversation_turns "
                "WHERE conversation = %s",
                (conversation_id,),
            ).fetchone()
            self._insert_turn(db, conversation_id, int(number), answer, now)
            db.execute(
                "UPDATE conversations SET updated = %s WHERE id = %s", (now, conversation_id)
            )
        return Turn(int(number), answer, iso_time(now))

    def rate(self, user: str, conversation_id: str, number: int, rating: Rating | None) -> None:
        check_rating(rating)
        with self._transaction() as db:
            self._owned(db, user, conversation_id)
            changed = db.execute(
                "UPDATE conversation_turns SET rating = %s WHERE conversation = %s AND number = %s",
                (rating, conversation_id, number),
            ).rowcount
            if not changed:
                raise ConversationNotFound(
                    conversation_id, f"conversation {conversation_id!r} has no turn {number}"
                )

    def list(self, user: str) -> list[Conversation]:
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT c.id, c.username, c.title, c.created, c.updated, c.shared, "
                "(SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.username = %s ORDER BY c.updated DESC, c.id",
                (check_user(user),),
            ).fetchall()
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
        with self._transaction() as db:
            self._owned(db, user, conversation_id)
            db.execute("DELETE FROM conversation_turns WHERE conversation = %s", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = %s", (conversation_id,))

    def every(self) -> Iterator[Conversation]:
        with self._transaction(write=False) as db:
            ids = db.execute("SELECT id, username FROM conversations ORDER BY created").fetchall()
        for cid, user in ids:
            yield self._one(user, cid, own=True)

    def restore(self, conversation: Conversation) -> bool:
        with self._transaction() as db:
            stored = db.execute(
                "INSERT INTO conversations (id, username, title, created, updated, shared) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (conversation.id, check_user(conversation.user), conversation.title,
                 epoch(conversation.created), epoch(conversation.updated),
                 bool(conversation.shared)),
            ).rowcount  # fmt: skip
            if not stored:
                return False
            for turn in conversation.turns:
                self._insert_turn(db, conversation.id, turn.number, turn.answer,
                                  epoch(turn.asked_at), turn.rating)  # fmt: skip
        return True

    def close(self) -> None:
        """Release the connection (nothing for a pool, which is the process's)."""

    # ------------------------------------------------------------------ helpers

    def _change(
        self, user: str, conversation_id: str, statement: str, values: tuple[Any, ...]
    ) -> None:
        """Run ``statement`` on one of the user's own conversations."""
        with self._transaction() as db:
            self._owned(db, user, conversation_id)
            db.execute(statement, values)

    def _owned(
        self, db: Statements, user: str, conversation_id: str, *, lock: bool = False
    ) -> None:
        row = db.execute(
            "SELECT 1 FROM conversations WHERE id = %s AND username = %s"
            + (self.lock_row if lock else ""),
            (conversation_id, check_user(user)),
        ).fetchone()
        if row is None:
            raise ConversationNotFound(conversation_id)

    def _insert_turn(
        self,
        db: Statements,
        conversation_id: str,
        number: int,
        answer: Answer,
        at: float,
        rating: Rating | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO conversation_turns (conversation, number, question, answer, created, "
            f"rating) VALUES (%s, %s, %s, {self.json_value}, %s, %s)",
            (conversation_id, number, answer.question, json_text(answer.to_dict()), at, rating),
        )

    def _one(self, user: str, conversation_id: str, *, own: bool) -> Conversation:
        """The conversation with its turns, if ``user`` owns it (or, unless ``own``, if
        its owner shared it)."""
        # One transaction: a delete between the two reads must not leave a conversation
        # without turns.
        with self._transaction(write=False) as db:
            row = db.execute(
                "SELECT id, username, title, created, updated, shared, 0 "
                "FROM conversations WHERE id = %s",
                (conversation_id,),
            ).fetchone()
            turns = db.execute(
                "SELECT number, question, answer, created, rating FROM conversation_turns "
                "WHERE conversation = %s ORDER BY number",
                (conversation_id,),
            ).fetchall()
        if row is None or (row[1] != check_user(user) and (own or not row[5])):
            raise ConversationNotFound(conversation_id)
        kept = tuple(
            Turn(int(number), Answer.from_dict(_document(data), question), iso_time(at), rating)
            for number, question, data, at, rating in turns
        )
        return replace(from_row(row), turns=kept, size=len(kept))


class SQLiteConversations(SQLConversations):
    """Conversations in one SQLite file (WAL), shared by the threads and processes of
    one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = open_wal(path, _schema_current, _create_schema, version=1, tables=_TABLES)
        except UnknownFile as exc:
            raise UnknownSchema(f"the conversations file {path} cannot be read: {exc}") from exc
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc) from exc
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Statements]:
        # Writers wait for each other (IMMEDIATE); a read sees one state of the file.
        try:
            with self._lock, writing(self._db, mode="IMMEDIATE" if write else "DEFERRED") as db:
                yield QuestionMarks(db)
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: BaseException) -> StoreError:
        """A failure of the file as the store's error (as PostgreSQL's are): a full disk
        or a damaged file named with what to do (:func:`~briefqa.diagnose`), else a
        :class:`StoreError` naming the file; callers need not know SQLite's errors."""
        return diagnose(self.path.parent, exc) or StoreError(
            f"the conversations file {self.path} failed: {exc}"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _document(data: str | dict[str, Any]) -> dict[str, Any]:
    # SQLite keeps the answer as text; PostgreSQL's jsonb comes back parsed.
    return json.loads(data) if isinstance(data, str) else data


def from_row(row: tuple[Any, ...]) -> Conversation:
    """A listed conversation from (id, user, title, created, updated, shared, turns)."""
    cid, user, title, created, updated, shared, size = row
    created, updated = iso_time(created), iso_time(updated)
    return Conversation(cid, user, title, created, updated, bool(shared), (), int(size))


_TABLES = {
    "conversations": {"id", "username", "title", "created", "updated", "shared"},
    "conversation_turns": {"conversation", "number", "question", "answer", "created", "rating"},
}


def _schema_current(db: sqlite3.Connection) -> bool:
    return all(columns(db, table) for table in _TABLES)


def _create_schema(db: sqlite3.Connection) -> None:
    # The same tables as PostgreSQL's (briefqa.postgres.MIGRATIONS), in SQLite's types.
    db.execute(
        "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, username TEXT NOT NULL, "
        "title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, "
        "shared INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (username, updated)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS conversation_turns (conversation TEXT NOT NULL, "
        "number INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, "
        "created REAL NOT NULL, rating TEXT, PRIMARY KEY (conversation, number))"
    )
