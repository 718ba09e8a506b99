"""Files parsed in a child process, within limits of memory, time and pages.

A brief's file is untrusted input: a 1.5 MB DOCX can inflate to a 190 MB XML tree, a PDF
can hold 10,000 pages, and a parser's bug on a hostile file can crash or hang the process
it runs in. So each file is parsed in a short-lived child process with its address space
(``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) capped, and only the parsed
:class:`~briefqa.schema.Brief` comes back, as JSON. A child that runs out is killed by
the kernel and the file fails with a reason naming the setting to raise; the caller's
memory never holds a parse.

The children are forked by one parser process (:func:`_serve`, its own Python) that has
the readers imported and nothing else: no threads, locks, models or secrets of the
caller are inherited (forking a threaded server could deadlock on a lock another thread
held), and, unlike multiprocessing's fork server, it never imports the caller's main
script again.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import DocumentError, FileTooLarge, UnsupportedFormat
from ..readers import load_brief
from ..schema import Block, Brief

_MB = 1024 * 1024


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

    @property
    def wall_seconds(self) -> float:
        """How long a child may run at all: CPU time is the kernel's to enforce, this
        guards against one that waits on something instead of computing."""
        return self.seconds * 2 + 30


def read_brief(path: str | Path, limits: ParseLimits) -> Brief:
    """:func:`~briefqa.readers.load_brief` within ``limits``.

    Raises:
        UnsupportedFormat: the suffix has no reader.
        DocumentError: the file cannot be parsed, or not within the limits.
    """
    path = Path(path)
    if limits.memory_mb <= 0:
        return load_brief(path, max_pages=limits.max_pages)
    answer = _WORKER.parse(str(path.resolve()), limits)
    status = answer["status"]
    if status == "brief":
        return dataclasses.replace(_brief_from(answer["brief"]), source=str(path))
    if status == "memory":
        raise DocumentError(
            path,
            f"parsing needs more than {limits.memory_mb} MB of memory; the file is refused "
            "(BRIEFQA_PARSE_MEMORY_MB raises the limit)",
        )
    if status == "error":
        kind = {"UnsupportedFormat": UnsupportedFormat, "FileTooLarge": FileTooLarge}
        raise kind.get(answer["kind"], DocumentError)(path, answer["reason"])
    raise DocumentError(path, _death(answer.get("exitcode"), limits))


def _death(exitcode: int | None, limits: ParseLimits) -> str:
    if exitcode == -signal.SIGXCPU:
        return (
            f"parsing took more than {limits.seconds} s of CPU time; the file is refused "
            "(BRIEFQA_PARSE_SECONDS raises the limit)"
        )
    if exitcode == -signal.SIGKILL:
        return f"parsing did not finish in {limits.wall_seconds:g} s; the file is refused"
    # A crash in a native parser, often an allocation refused under the memory cap.
    return (
        f"the parser stopped on this file (exit {exitcode}): a damaged or hostile file, or "
        f"one that needs more than {limits.memory_mb} MB (BRIEFQA_PARSE_MEMORY_MB)"
    )


def _brief_from(data: dict[str, Any]) -> Brief:
    data = dict(data)
    data["blocks"] = tuple(Block(**block) for block in data["blocks"])
    for name in ("sections", "authors", "author_roles"):
        data[name] = tuple(data[name])
    return Brief(**data)


# --------------------------------------------------------------- the caller's side


class _Worker:
    """The parser process, started on first use and again if it dies; one file at a
    time (parsing is CPU-bound, and ingests read their files in turn anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def parse(self, path: str, limits: ParseLimits) -> dict[str, Any]:
        request = {"path": path, **dataclasses.asdict(limits)}
        with self._lock:
            for attempt in range(2):
                process = self._running()
                assert process.stdin is not None and process.stdout is not None
                try:
                    _write(process.stdin, request)
                    return _read(process.stdout)
                except (OSError, EOFError):
                    # The parser process itself died (killed from outside): once more
                    # with a fresh one, then the file is what fails.
                    self.close()
                    if attempt:
                        return {"status": "died", "exitcode": None}
        raise AssertionError("unreachable")

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            # Secrets stay behind: the parser needs none of the caller's settings.
            env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
            # This very package, wherever the caller imported it from.
            here = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from briefqa.index.isolation import _serve; _serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                close_fds=True,
            )
        return self._process

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_WORKER = _Worker()
atexit.register(_WORKER.close)


def _write(stream: IO[bytes], message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> dict[str, Any]:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the parser process closed its pipe")
    (size,) = struct.unpack(">Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the parser process closed its pipe")
    message: dict[str, Any] = json.loads(data)
    return message


# ---------------------------------------------------------------- the parser process


def _serve() -> None:
    """Answer parse requests from stdin on stdout until stdin closes."""
    # The readers are imported once, here; each child starts with them loaded.
    from ..readers import pdf, pdf_glyphs, word  # noqa: F401

    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the replies
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        limits = ParseLimits(request["memory_mb"], request["seconds"], request["max_pages"])
        _write(replies, _fork_and_parse(request["path"], limits))


def _fork_and_parse(path: str, limits: ParseLimits) -> dict[str, Any]:
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: cap itself, parse, write the answer, leave
        os.close(readable)
        code = 0
        try:
            answer = _parse_capped(path, limits)
            data = json.dumps(answer).encode()
        except BaseException:
            data, code = b"", 1
        with os.fdopen(writable, "wb") as out:
            out.write(data)
        os._exit(code)
    os.close(writable)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limits.wall_seconds
    with os.fdopen(readable, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    exitcode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    if exitcode != 0 or not chunks:
        return {"status": "died", "exitcode": exitcode}
    parsed: dict[str, Any] = json.loads(b"".join(chunks))
    return parsed


def _parse_capped(path: str, limits: ParseLimits) -> dict[str, Any]:
    memory = limits.memory_mb * _MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.seconds, limits.seconds + 1))
    try:
        brief = load_brief(path, max_pages=limits.max_pages)
    except DocumentError as exc:
        # A native parser refused an allocation reports it its own way (libxml2: "unknown
        # error"); the address space having reached the cap says what happened.
        if _peak_bytes() >= 0.95 * memory:
            return {"status": "memory"}
        return {"status": "error", "kind": type(exc).__name__, "reason": exc.reason}
    except MemoryError:
        return {"status": "memory"}
    return {"status": "brief", "brief": dataclasses.asdict(brief)}


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
