"""Staff's state in PostgreSQL (``BRIEFQA_DATABASE_URL``): their conversations
(:class:`PostgresConversations`, the same contract as
:class:`~briefqa.conversations.SQLiteConversations`) and their feedback
(:class:`PostgresFeedback`, in place of ``feedback.jsonl``). With them in the database,
any worker can continue a chat another worker began, and evaluators read every worker's
feedback in one place. The pool and the schema are :mod:`briefqa.database`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from .conversations import SQLConversations, json_text
from .database import InDatabase

__all__ = ["PostgresConversations", "PostgresFeedback"]


class PostgresConversations(InDatabase, SQLConversations):
    """Conversations in PostgreSQL, shared by every worker that has the same URL (a read
    in one snapshot: a delete between two reads never shows a conversation without its
    turns)."""

    lock_row = " FOR UPDATE"
    json_value = "%s::jsonb"


class PostgresFeedback(InDatabase):
    """Feedback events in PostgreSQL, in the order they were recorded (the
    :class:`~briefqa.feedback.FeedbackEvents` of every worker with the same URL)."""

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
        with self._transaction() as db:
            for row in rows:
                added += db.execute(
                    "INSERT INTO feedback_events (digest, event) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (digest) DO NOTHING",
                    row,
                ).rowcount
        return added

    def events(self) -> Iterator[dict[str, Any]]:
        with self._transaction(write=False) as db:
            found = db.execute("SELECT event FROM feedback_events ORDER BY id").fetchall()
        return (row[0] for row in found)
