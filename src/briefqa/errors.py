"""The one error tree of briefqa.

Every error raised on purpose by briefqa derives from :class:`BriefQAError`, so a
caller can catch the whole family with one ``except``::

    BriefQAError
    ├── ConfigError          settings that cannot work (bad value, missing extra)
    ├── DocumentError        a brief that cannot be read or holds no text
    │   ├── UnsupportedFormat   a file type we have no loader for
    │   └── FileTooLarge        an upload over the size limit
    ├── EmbeddingError       the embedding model failed to load or to encode
    ├── ModelError           the answer model (an LLM server) failed or is out of reach
    ├── StoreError           the vector store (Chroma) failed or is out of reach
    │   ├── DataDamaged         a data file is damaged (named, with the command that fixes it)
    │   ├── UnknownSchema       a data file from a newer briefqa or another program
    │   └── DiskFull            the disk holding the data is full
    ├── IndexLocked          another writer held the index for all of lock_wait_s
    ├── InvalidQuestion      an empty, over-long or otherwise unusable question
    └── NotFound             a brief id that is not in the index

Messages say what went wrong and what to do about it; they never contain secrets.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from pathlib import PurePath


class BriefQAError(Exception):
    """Base class of every error briefqa raises on purpose."""


class ConfigError(BriefQAError, ValueError):
    """A setting has a value briefqa cannot work with, or an optional extra is missing."""


class DocumentError(BriefQAError):
    """A brief could not be read, parsed, or holds no usable text.

    ``path`` names the file and ``reason`` says why, in words a user can act on.
    """

    def __init__(self, path: str | PurePath, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnsupportedFormat(DocumentError):
    """The file's extension has no loader (see ``briefqa.SUPPORTED_SUFFIXES``)."""


class FileTooLarge(DocumentError):
    """An uploaded file is larger than ``max_upload_mb`` allows."""


class EmbeddingError(BriefQAError):
    """The embedding model could not be loaded or failed to encode text."""


class ModelError(BriefQAError):
    """The answer model failed: its server is down, refused the key, or timed out."""


class StoreError(BriefQAError):
    """The vector store failed, or a Chroma server could not be reached."""


class DataDamaged(StoreError):
    """A file of the data directory is damaged; the message names it and the command
    that fixes it (``briefqa`` exits with 3)."""


class UnknownSchema(StoreError):
    """A data file was written by a newer briefqa or by another program; the message
    names it and what to do (``briefqa`` exits with 5)."""


class DiskFull(StoreError):
    """The disk holding the data directory is full (``briefqa`` exits with 4)."""


def full_disk(place: str, exc: BaseException) -> DiskFull | None:
    """The :class:`DiskFull` error for ``exc`` met writing to ``place``, when it says the
    disk is full (an ``ENOSPC`` OSError, SQLite's "database or disk is full", or either
    as text from Chroma); None otherwise."""
    text = str(exc).lower()
    if not (
        (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
        or "disk is full" in text
        or "no space left" in text
    ):
        return None
    return DiskFull(
        f"the disk holding {place} is full ({exc}): free some space and run the command "
        "again; nothing written before is lost (`briefqa check` then says whether "
        "anything needs `--repair`)"
    )


class IndexLocked(BriefQAError):
    """Another writer (a process, or another thread of this one) held the ingest lock on
    this data directory for all of ``lock_wait_s``."""


class InvalidQuestion(BriefQAError, ValueError):
    """The question is empty or too long; the message says which."""


class NotFound(BriefQAError):
    """No brief with the given id is in the index."""

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        super().__init__(f"no brief with id {doc_id!r} is indexed; `briefqa docs` lists the ids")


class ConversationNotFound(NotFound):
    """No conversation with the given id is the user's, or shared with them (which of
    the two is not told: another user's private conversation does not exist to them)."""

    def __init__(self, conversation_id: str, detail: str = "") -> None:
        self.doc_id = conversation_id
        BriefQAError.__init__(
            self,
            detail or f"no conversation {conversation_id!r} is yours or shared with you",
        )


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s]*@")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with user:password parts of URLs and the given secrets masked, for
    messages and logs that may quote a backend's own error."""
    text = _URL_CREDENTIALS.sub("***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
