"""Users' verdicts on answers, appended to ``data_dir/feedback.jsonl`` for evaluators."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from .answer.chain import check_text
from .errors import StoreError, full_disk
from .schema import Answer


class FeedbackLog:
    """An append-only JSON-lines file of feedback events, shared by threads and workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self,
        answer: Answer,
        rating: Literal["like", "dislike"] | None,
        comment: str = "",
        max_question_chars: int = 2000,
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
        check_text(answer.text, 100 * limit, "the feedback's answer", may_be_empty=True)
        check_text(comment, 4000, "the feedback's comment", may_be_empty=True)
        answer_id = hashlib.sha256(f"{answer.question}\x00{answer.text}".encode()).hexdigest()[:16]
        record = {
            "answer_id": answer_id,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rating": rating,
            "comment": comment.strip()[:4000],
            "question": answer.question,
            "standalone_question": answer.standalone_question,
            "answer": answer.text,
            "refused": answer.refused,
            "outcome": answer.outcome,
            "kind": answer.kind,
            "citations": [c.to_dict() for c in answer.citations],
            "unsupported": list(answer.unsupported),
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.path, "ab", buffering=0) as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # other workers append to the same file
                end = os.lseek(f.fileno(), 0, os.SEEK_END)
                try:
                    rest = memoryview(line)
                    while rest:
                        rest = rest[f.write(rest) or 0 :]
                    os.fsync(f.fileno())
                except OSError:
                    os.ftruncate(f.fileno(), end)  # never half a line: readers parse each
                    raise
        except OSError as exc:
            raise full_disk(str(self.path), exc) or StoreError(
                f"cannot write feedback to {self.path}: {exc}"
            ) from exc
        return record
