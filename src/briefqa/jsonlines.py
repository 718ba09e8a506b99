"""JSON-lines files that several writers append to: the feedback log, the runs log, a
question set grown by reviewers.

:func:`read_records` reads one back, skipping what is not a record (a torn last line, a
hand edit), so that one bad line never hides the others.

:func:`append_record` adds one whole line or nothing: under ``flock`` (other processes
append to the same file), after a newline if the file's last line lacks one (a hand edit,
or a writer killed mid-line), written in full and synced, and cut back to where it was if
the disk fails — readers parse line by line, so a half line would cost them the next one
too.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from .errors import StoreError, full_disk


def append_record(path: Path, record: Any, what: str) -> None:
    """Append ``record`` as one JSON line to ``path`` (created, with its folder, if
    missing); ``what`` names the file in errors.

    Raises:
        DiskFull: the disk is full; the file is as it was.
        StoreError: the file cannot be written; it is as it was.
    """
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b", buffering=0) as f:  # readable: the last byte is checked
            fcntl.flock(f, fcntl.LOCK_EX)
            end = os.lseek(f.fileno(), 0, os.SEEK_END)
            if end and os.pread(f.fileno(), 1, end - 1) != b"\n":
                data = b"\n" + data
            try:
                rest = memoryview(data)
                while rest:
                    rest = rest[f.write(rest) or 0 :]
                os.fsync(f.fileno())
            except OSError:
                os.ftruncate(f.fileno(), end)
                raise
    except OSError as exc:
        raise full_disk(str(path), exc) or StoreError(f"cannot write {what} {path}: {exc}") from exc


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of the file at ``path``, one a line, in order; [] when it does
    not exist. Lines that are not a JSON object are skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def plain(value: Any) -> Any:
    """``value`` as JSON keeps it: text, numbers, booleans and None as they are,
    anything else (a path, an enum) as its text."""
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


__all__ = ["append_record", "plain", "read_records"]
