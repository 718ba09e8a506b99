"""Files parsed in a child process, within limits of memory, time and pages.

A brief's file is untrusted input: a 1.5 MB DOCX can inflate to a 190 MB XML tree, a PDF
can hold 10,000 pages, and a parser's bug on a hostile file can crash or hang the process
it runs in. So each file is parsed in a short-lived child process forked from a
preloaded server (``forkserver``: no threads, locks or models of the parent are
inherited), with its address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) capped,
and only the parsed :class:`~briefqa.schema.Brief` comes back. A child that runs out is
killed by the kernel and the file fails with a reason naming the setting to raise; the
caller's memory never holds a parse.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .errors import DocumentError, FileTooLarge, UnsupportedFormat
from .loaders import load_brief
from .schema import Brief

log = logging.getLogger("briefqa.isolation")

_MB = 1024 * 1024
# Modules the fork server imports once, so that a child starts with the readers loaded.
_PRELOAD = ["briefqa.loaders", "briefqa.pdf", "briefqa.pdf_glyphs", "briefqa.word"]


@dataclass(frozen=True)
class ParseLimits:
    """What parsing one file may use: memory in MB (0: parse in this process, with no
    memory or time limit), CPU seconds, and pages of a PDF."""

    memory_mb: int = 1024
    seconds: int = 120
    max_pages: int = 2000

    @classmethod
    def of(cls, settings: Any) -> ParseLimits:
        return cls(settings.parse_memory_mb, settings.parse_seconds, settings.parse_max_pages)


def read_brief(path: str | Path, limits: ParseLimits) -> Brief:
    """:func:`~briefqa.loaders.load_brief` within ``limits``.

    Raises:
        UnsupportedFormat: the suffix has no reader.
        DocumentError: the file cannot be parsed, or not within the limits.
    """
    path = Path(path)
    if limits.memory_mb <= 0:
        return load_brief(path, max_pages=limits.max_pages)
    context = _context()
    if context is None:
        return load_brief(path, max_pages=limits.max_pages)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_parse, args=(str(path), limits, sender), daemon=True)
    child.start()
    sender.close()
    try:
        # CPU time is the kernel's to enforce; the wall clock guards against a child that
        # waits on something instead of computing.
        answer = receiver.recv() if receiver.poll(limits.seconds * 2 + 30) else None
    except EOFError:  # it died before answering
        answer = None
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
    if answer is None:
        raise DocumentError(path, _death(child.exitcode, limits))
    status, payload = answer
    if status == "brief":
        assert isinstance(payload, Brief)
        return payload
    if status == "memory":
        raise DocumentError(path, _over_memory(limits))
    kind, reason = payload
    raise _ERRORS.get(kind, DocumentError)(path, reason)


def _parse(path: str, limits: ParseLimits, sender: Connection) -> None:
    """The child: cap its own memory and CPU, parse, send the brief or why not."""
    memory = limits.memory_mb * _MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.seconds, limits.seconds + 1))
    try:
        answer: tuple[str, Any] = ("brief", load_brief(path, max_pages=limits.max_pages))
    except DocumentError as exc:
        # A native parser refused an allocation reports it its own way (libxml2: "unknown
        # error"); the address space having reached the cap says what happened.
        if _peak_bytes() >= 0.95 * memory:
            answer = ("memory", None)
        else:
            answer = ("error", (type(exc).__name__, exc.reason))
    except MemoryError:
        answer = ("memory", None)
    try:
        sender.send(answer)
    except MemoryError:  # the brief itself is too large to send
        sender.send(("memory", None))
    finally:
        sender.close()


def _peak_bytes() -> int:
    """This process's largest address space so far (Linux; 0 where unknown)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    return 0


def _death(exitcode: int | None, limits: ParseLimits) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (
            f"parsing took more than {limits.seconds} s of CPU time; the file is refused "
            "(BRIEFQA_PARSE_SECONDS raises the limit)"
        )
    if exitcode is None:
        return f"parsing did not finish in {limits.seconds * 2 + 30} s; the file is refused"
    # A crash in a native parser, often an allocation refused by the memory limit.
    return (
        f"the parser stopped on this file (exit {exitcode}): a damaged or hostile file, or "
        f"one that needs more than {limits.memory_mb} MB (BRIEFQA_PARSE_MEMORY_MB)"
    )


def _over_memory(limits: ParseLimits) -> str:
    return (
        f"parsing needs more than {limits.memory_mb} MB of memory; the file is refused "
        "(BRIEFQA_PARSE_MEMORY_MB raises the limit)"
    )


_ERRORS: dict[str, type[DocumentError]] = {
    "UnsupportedFormat": UnsupportedFormat,
    "FileTooLarge": FileTooLarge,
}
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _context() -> Any:
    """The fork-server context, set up once; None where this platform has none."""
    with _LOCK:
        if "context" not in _STATE:
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(_PRELOAD)
            except ValueError:  # no fork server here (not POSIX)
                log.warning("no fork server on this platform: files are parsed in-process")
                context = None
            _STATE["context"] = context
        return _STATE["context"]
