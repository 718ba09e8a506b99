"""Uploaded files' bytes in PostgreSQL, for workers on several hosts.

On one host an upload is a file under ``data_dir/uploads/<hash>/<name>``, listed in the
manifest by its path. With ``BRIEFQA_DATABASE_URL`` every worker has a data dir of its
own, so the bytes are kept in the database too, listed as ``upload:<hash>/<name>``; a
worker that must read a brief again (a repair, readers that changed) copies the file
into its own data dir first (:meth:`briefqa.index.directory.Index.file`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

from ..database import InDatabase

#: How the manifest names an upload whose bytes are kept in the database.
UPLOAD_KEY = "upload:"


def upload_copy(data_dir: Path, key: str) -> Path:
    """Where this worker keeps its copy of the upload listed as ``key``."""
    return data_dir / "uploads" / key.removeprefix(UPLOAD_KEY)


class PostgresUploads(InDatabase):
    """Uploaded files' bytes by their manifest key, shared by every worker."""

    def keep(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` (the same bytes kept again change nothing: the key
        holds the hash of its bytes)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO uploads (path, sha256, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (path) DO NOTHING",
                (key, hashlib.sha256(data).hexdigest(), data),
            )

    def has(self, key: str) -> bool:
        with self._transaction(write=False) as db:
            return (
                db.execute("SELECT 1 FROM uploads WHERE path = %s", (key,)).fetchone() is not None
            )

    def keys(self) -> set[str]:
        with self._transaction(write=False) as db:
            return {row[0] for row in db.execute("SELECT path FROM uploads").fetchall()}

    def drop(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM uploads WHERE path = %s", (key,))

    def fetch(self, key: str, target: Path) -> Path | None:
        """Write the bytes kept under ``key`` to ``target`` (whole, or not at all);
        ``target``, or None when the database has no such upload."""
        with self._transaction(write=False) as db:
            row = db.execute("SELECT data FROM uploads WHERE path = %s", (key,)).fetchone()
        if row is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        # Per process and thread, then renamed: a reader never sees half a file.
        partial = target.parent / f".{os.getpid()}-{threading.get_ident()}{target.suffix}"
        try:
            partial.write_bytes(bytes(row[0]))
            os.replace(partial, target)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()
        return target
