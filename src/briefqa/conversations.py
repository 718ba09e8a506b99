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
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from .answer.chain import check_text
from .errors import ConversationNotFound, InvalidQuestion, UnknownSchema
from .index.databases import UnknownFile, columns, open_wal, writing
from .schema import ANONYMOUS, Answer, Conversation, Rating, Turn

__all__ = ["ANONYMOUS", "ConversationStore", "SQLiteConversations", "title_of"]

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


class SQLiteConversations:
    """Conversations in one SQLite file (WAL), shared by the threads and processes of
    one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = open_wal(path, _schema_current, _create_schema, version=1, tables=_TABLES)
        except UnknownFile as exc:
            raise UnknownSchema(f"the conversations file {path} cannot be read: {exc}") from exc
        self._lock = threading.Lock()

    def start(self, user: str, answer: Answer) -> Conversation:
        # Random, not derived from the content: the id is also the share link, which
        # must not be guessable from a question someone might ask.
        conversation_id = secrets.token_urlsafe(16)
        now = time.time()
        with self._lock, writing(self._db) as db:
            db.execute(
                "INSERT INTO conversations (id, user, title, created, updated, shared) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                (conversation_id, check_user(user), title_of(answer.question), now, now),
            )
            _insert_turn(db, conversation_id, 0, answer, now)
        return self._one(user, conversation_id, own=True)

    def add(self, user: str, conversation_id: str, answer: Answer) -> Turn:
        now = time.time()
        with self._lock, writing(self._db) as db:
            self._owned(db, user, conversation_id)
            (number,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation_id,)
            ).fetchone()
            _insert_turn(db, conversation_id, number, answer, now)
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return Turn(number, answer, iso_time(now))

    def rate(self, user: str, conversation_id: str, number: int, rating: Rating | None) -> None:
        check_rating(rating)
        with self._lock, writing(self._db) as db:
            self._owned(db, user, conversation_id)
            changed = db.execute(
                "UPDATE turns SET rating = ? WHERE conversation = ? AND number = ?",
                (rating, conversation_id, number),
            ).rowcount
            if not changed:
                raise ConversationNotFound(
                    conversation_id, f"conversation {conversation_id!r} has no turn {number}"
                )

    def list(self, user: str) -> list[Conversation]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.user, c.title, c.created, c.updated, c.shared, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.user = ? ORDER BY c.updated DESC, c.id",
                (check_user(user),),
            ).fetchall()
        return [from_row(row) for row in rows]

    def get(self, user: str, conversation_id: str) -> Conversation:
        return self._one(user, conversation_id, own=False)

    def rename(self, user: str, conversation_id: str, title: str) -> Conversation:
        title = clean_title(title)
        with self._lock, writing(self._db) as db:
            self._owned(db, user, conversation_id)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
        return self._one(user, conversation_id, own=True)

    def share(self, user: str, conversation_id: str, shared: bool = True) -> Conversation:
        with self._lock, writing(self._db) as db:
            self._owned(db, user, conversation_id)
            db.execute(
                "UPDATE conversations SET shared = ? WHERE id = ?", (int(shared), conversation_id)
            )
        return self._one(user, conversation_id, own=True)

    def delete(self, user: str, conversation_id: str) -> None:
        with self._lock, writing(self._db) as db:
            self._owned(db, user, conversation_id)
            db.execute("DELETE FROM turns WHERE conversation = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def every(self) -> Iterator[Conversation]:
        with self._lock:
            ids = self._db.execute("SELECT id, user FROM conversations ORDER BY created").fetchall()
        for cid, user in ids:
            yield self._one(user, cid, own=True)

    def restore(self, conversation: Conversation) -> bool:
        with self._lock, writing(self._db) as db:
            stored = db.execute(
                "INSERT OR IGNORE INTO conversations (id, user, title, created, updated, shared) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (conversation.id, check_user(conversation.user), conversation.title,
                 epoch(conversation.created), epoch(conversation.updated),
                 int(conversation.shared)),
            ).rowcount  # fmt: skip
            if not stored:
                return False
            for turn in conversation.turns:
                _insert_turn(db, conversation.id, turn.number, turn.answer,
                             epoch(turn.asked_at), turn.rating)  # fmt: skip
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _owned(db: sqlite3.Connection, user: str, conversation_id: str) -> None:
        row = db.execute(
            "SELECT 1 FROM conversations WHERE id = ? AND user = ?",
            (conversation_id, check_user(user)),
        ).fetchone()
        if row is None:
            raise _missing(conversation_id)

    def _one(self, user: str, conversation_id: str, *, own: bool) -> Conversation:
        """The conversation with its turns, if ``user`` owns it (or, unless ``own``, if
        its owner shared it)."""
        # One read transaction: a delete by another process between the two reads must
        # not leave a conversation without turns.
        with self._lock, writing(self._db, mode="DEFERRED"):
            row = self._db.execute(
                "SELECT id, user, title, created, updated, shared, 0 "
                "FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            turns = self._db.execute(
                "SELECT number, question, answer, created, rating FROM turns "
                "WHERE conversation = ? ORDER BY number",
                (conversation_id,),
            ).fetchall()
        if row is None or (row[1] != check_user(user) and (own or not row[5])):
            raise _missing(conversation_id)
        kept = tuple(
            Turn(number, Answer.from_dict(json.loads(data), question), iso_time(at), rating)
            for number, question, data, at, rating in turns
        )
        found = from_row(row)
        return Conversation(**{**found.__dict__, "turns": kept, "size": len(kept)})


def _missing(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(conversation_id)


def _insert_turn(
    db: sqlite3.Connection,
    conversation_id: str,
    number: int,
    answer: Answer,
    at: float,
    rating: Rating | None = None,
) -> None:
    db.execute(
        "INSERT INTO turns (conversation, number, question, answer, created, rating) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (conversation_id, number, answer.question, json.dumps(answer.to_dict()), at, rating),
    )


def from_row(row: tuple[str, str, str, float, float, int, int]) -> Conversation:
    cid, user, title, created, updated, shared, size = row
    return Conversation(
        cid, user, title, iso_time(created), iso_time(updated), bool(shared), (), size
    )


_TABLES = {
    "conversations": {"id", "user", "title", "created", "updated", "shared"},
    "turns": {"conversation", "number", "question", "answer", "created", "rating"},
}


def _schema_current(db: sqlite3.Connection) -> bool:
    return all(columns(db, table) for table in _TABLES)


def _create_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, user TEXT NOT NULL, "
        "title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, "
        "shared INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (user, updated)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS turns (conversation TEXT NOT NULL, number INTEGER NOT NULL, "
        "question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL, rating TEXT, "
        "PRIMARY KEY (conversation, number))"
    )
