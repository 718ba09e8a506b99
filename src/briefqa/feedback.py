"""Users' verdicts on answers, appended to ``data_dir/feedback.jsonl`` (or, with
``database_url``, to PostgreSQL) for evaluators.

Each event keeps what an evaluator needs to turn it into a test question: the question,
the answer given with its citations, the comment, and the configuration that answered
(:data:`ANSWER_SETTINGS`). :func:`drafts` gathers the events of each answer into one
draft row of a question set (``briefqa feedback export``).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from .answer.chain import check_text
from .jsonlines import append_record, read_records
from .schema import Answer

#: The longest comment kept with a rating, in characters.
MAX_COMMENT = 4000

#: The settings that shape an answer, kept with every feedback event so that a test
#: question made of it can be run on the configuration that produced the answer.
ANSWER_SETTINGS = (
    "embedding_model",
    "chunk_tokens",
    "chunk_overlap_tokens",
    "top_k",
    "mmr",
    "reranker_model",
    "reader",
    "refusal_threshold",
    "confidence_threshold",
    "max_answer_sentences",
    "llm",
    "llm_model",
)


class FeedbackEvents(Protocol):
    """Where feedback events are appended and read back, oldest first."""

    def append(self, event: dict[str, Any]) -> None: ...

    def events(self) -> Iterator[dict[str, Any]]: ...


class FeedbackFile:
    """Events as lines of a JSON-lines file (``data_dir/feedback.jsonl``), appended whole
    by the threads and processes of one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, event: dict[str, Any]) -> None:
        with self._lock:  # threads of this process; append_record's flock, the others
            append_record(self.path, event, "feedback to")

    def events(self) -> Iterator[dict[str, Any]]:
        # Lines that are not events (a torn write) are skipped.
        return (e for e in read_records(self.path) if "answer_id" in e)


class FeedbackLog:
    """Staff's verdicts on answers, checked and appended to ``events`` (a file in the
    data dir, or PostgreSQL: :class:`briefqa.postgres.PostgresFeedback`)."""

    def __init__(self, events: FeedbackEvents) -> None:
        self.store = events

    def record(
        self,
        answer: Answer,
        rating: Literal["like", "dislike"] | None,
        comment: str = "",
        max_question_chars: int = 2000,
        configuration: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append one event about ``answer`` and return it.

        Events about the same answer share ``answer_id`` (derived from the question and
        the answer text), so an evaluator can group a rating with a later comment.

        Raises:
            ValueError: ``rating`` is not "like", "dislike" or None.
            InvalidQuestion: the question (over ``max_question_chars``), the answer or the
                comment is too long or not valid Unicode (naming which).
            DiskFull: the disk is full; the file is as it was.
            StoreError: the file cannot be written.
        """
        if rating not in ("like", "dislike", None):
            raise ValueError(f"rating must be 'like', 'dislike' or None, not {rating!r}")
        limit = max_question_chars
        check_text(answer.question, limit, "the feedback's question", may_be_empty=True)
        # An answer quotes at most a few passages; a megabyte of it is not one of ours.
        check_text(answer.text, 100 * limit, "the feedback's answer", may_be_empty=True,
                   setting=None)  # fmt: skip
        comment = check_text(comment, MAX_COMMENT, "the feedback's comment", may_be_empty=True,
                             setting=None)  # fmt: skip
        answer_id = hashlib.sha256(f"{answer.question}\x00{answer.text}".encode()).hexdigest()[:16]
        record = {
            # Two equal clicks in one second are two events (an id of its own).
            "event_id": uuid.uuid4().hex,
            "answer_id": answer_id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rating": rating,
            "comment": comment.strip(),
            "question": answer.question,
            "standalone_question": answer.standalone_question,
            "answer": answer.text,
            "refused": answer.refused,
            "outcome": answer.outcome,
            "kind": answer.kind,
            "citations": [c.to_dict() for c in answer.citations],
            "unsupported": list(answer.unsupported),
            "configuration": configuration or {},
        }
        self.store.append(record)
        return record


def drafts(
    events: Iterable[dict[str, Any]],
    *,
    since: str | None = None,
    only: Literal["up", "down"] | None = None,
) -> list[dict[str, Any]]:
    """One draft question-set row per rated or commented answer among ``events``, oldest
    first: the question, the answer given, its citations, the comments, the last rating
    and the configuration, with ``status`` "draft" for a reviewer.

    ``since`` (``YYYY-MM-DD``) keeps answers with an event on or after that day; ``only``
    keeps those whose last rating is a like ("up") or a dislike ("down").
    """
    grouped: dict[str, dict[str, Any]] = {}
    for event in events:
        answer_id = str(event["answer_id"])
        row = grouped.setdefault(
            answer_id,
            {
                "id": f"feedback-{answer_id}",
                "status": "draft",
                "question": event.get("question", ""),
                "answer_given": event.get("answer", ""),
                "outcome": event.get("outcome"),
                "citations": event.get("citations", []),
                "comments": [],
                "rating": None,
                "configuration": event.get("configuration", {}),
                "first": event.get("time", ""),
            },
        )
        row["last"] = event.get("time", "")
        if "rating" in event:
            row["rating"] = event["rating"]
        if event.get("comment"):
            row["comments"].append(event["comment"])
    rows = list(grouped.values())
    if since is not None:
        rows = [r for r in rows if r["last"][:10] >= since]
    if only is not None:
        wanted = "like" if only == "up" else "dislike"
        rows = [r for r in rows if r["rating"] == wanted]
    return rows
