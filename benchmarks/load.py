"""Load test: concurrent chat sessions against a real ``briefqa serve`` on 127.0.0.1.

Each session behaves like a member of staff: a multi-turn conversation (a question, then
follow-ups that rely on it), now and then a like or dislike with a comment, a look at the
list of briefs, an upload (a new brief of its own that it then asks about and may remove
again, the brief everybody uploads, or a bad file that must be refused with a reason),
and "New chat" before the next conversation.

Most sessions use the web chat the way the browser does: they load the page, keep
Gradio's heartbeat stream open, and send every event through Gradio's queue
(``POST /gradio_api/queue/join``, then the ``/gradio_api/queue/data`` event stream,
protocol ``sse_v3``), so the conversation lives in the server's per-session state exactly
as it does for a browser tab. Every fifth session is a script on the REST API instead
(``/api/v1/ask`` with the history, ``/api/v1/documents``, ``/api/v1/feedback``).

Every response is sorted into one outcome:

    ok               what the request must produce
    rejected         a bad input sent on purpose, refused cleanly with a reason: a 4xx
                     from the REST API; an error or a "failed: <reason>" row in the chat
    unexpected_4xx   a 4xx the request did not deserve
    server_error     a 5xx, or the chat failing in a way nothing provoked
    transport_error  a refused or dropped connection, or no response within the timeout
    invalid          a success whose body is not what the request must produce

Only ok and rejected are acceptable. The server's RSS is sampled every second from
``/proc/<pid>/status``; see :data:`MEMORY_CRITERION` for what "stable" means here.

Usage: ``python benchmarks/load.py [--sessions 50] [--seconds 60] [--name load]``, run in
full by ``make bench``. Writes ``benchmarks/results/<name>.json`` and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from briefqa.evaluation import percentile  # the definition the evals use

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CORPUS = ROOT / "corpus"
SEED_QUESTIONS = ROOT / "evals" / "seed_brief.jsonl"

OUTCOMES = ("ok", "rejected", "unexpected_4xx", "server_error", "transport_error", "invalid")
FAILURES = OUTCOMES[2:]

# Memory is stable when, after warm-up (see :func:`warm_up`), the median RSS of the last
# third of the run exceeds that of the first third by at most 15 % and at most 150 MB.
# The server idles near 0.7 GB (torch, the encoder, Gradio) and serves 50 sessions at
# 0.85-0.95 GB. What legitimately keeps growing after warm-up is bounded and slow: the
# index (every upload adds a brief), the question-vector cache (50k sentences at most),
# Gradio's per-event analytics (10k events at most), allocator arenas of new threads.
# A leak of 150 kB per step would pass 150 MB within the ~1000 steps of a 60 s run.
MEMORY_CRITERION = (
    "after warm-up (every session answered once), last-third median RSS "
    "<= first-third median + min(15 %, 150 MB)"
)
MAX_GROWTH_SHARE = 0.15
MAX_GROWTH_MB = 150.0

FOLLOW_UPS = (
    "Why is that?",
    "Can you tell me more about that?",
    "Which countries are involved?",
    "What does the brief recommend in response?",
    "And how does Poland fit into this?",
    "What happened after that?",
)
HEALTH_QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
SHARED_BRIEF = (
    "arctic-shipping.md",
    b"# Arctic Shipping Routes Open Up\n\n"
    b"The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record year.\n"
    b"Most of the cargo was liquefied natural gas and crude oil bound for Asian ports.\n",
)
# Bad files: (name, bytes, REST status, a word the reason must contain).
BAD_FILES = (
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", 422, "pdf"),
    ("tool.exe", b"MZ\x90\x00", 415, ".exe"),
    ("empty.txt", b"", 422, "empty"),
)
# What a session does between conversations, and how often (weights).
SIDE_TRIPS = (
    ("documents", 15),
    ("upload new", 15),
    ("upload shared", 12),
    ("bad upload", 10),
    ("empty question", 4),
    ("nothing", 44),
)
_SYLLABLES = ("ka", "ro", "mi", "ten", "vel", "dor", "sa", "lun", "bre", "gan", "tho", "pel")


# ------------------------------------------------------------------ recording


class Outcome(Exception):
    """Raised inside a step to record anything but ``ok``."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


@dataclass
class Record:
    """One step: a user action, possibly several HTTP requests (upload, then index)."""

    kind: str
    outcome: str
    seconds: float
    at: float  # seconds since the load started
    session: int
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Asked:
    """What came back for a question."""

    text: str
    cited: bool
    refused: bool
    body: Any = None  # the REST answer, for feedback
    question: str = ""


def _status_outcome(status: int) -> str:
    if status >= 500:
        return "server_error"
    return "unexpected_4xx" if status >= 400 else "invalid"


def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise Outcome(
            _status_outcome(response.status_code),
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}",
        )
    return response


def _place(k: int) -> str:
    """A made-up, unique place name per ``k``: a word BM25 can find and nothing else has."""
    digits = []
    for _ in range(4):
        k, d = divmod(k, len(_SYLLABLES))
        digits.append(_SYLLABLES[d])
    return "".join(digits).capitalize()


def own_brief(session: int, n: int) -> tuple[str, bytes, str, str]:
    """A new brief for session ``session``: file name, bytes, question, expected figure."""
    place = _place(session * 64 + n + 7)
    tonnes = 11 + (session * 7 + n * 13) % 88
    text = (
        f"# Port of {place}: Cargo Review {session}-{n}\n\n"
        f"The port of {place} handled {tonnes} million tonnes of cargo in 2023, a record "
        "year for the port.\n"
        f"A new container terminal at {place} opened in March 2023 and doubled capacity.\n"
        f"Officials at {place} expect traffic to grow once the rail link is finished.\n"
    )
    question = f"How much cargo did the port of {place} handle in 2023?"
    return f"port-{place.lower()}.md", text.encode(), question, f"{tonnes} million"


# ------------------------------------------------------------------- sessions


@dataclass
class Shared:
    """What every session of one run shares."""

    records: list[Record]
    answerable: list[str]
    unanswerable: list[str]
    started: float
    deadline: float
    timeout: float
    think: tuple[float, float]
    gradio: dict[str, tuple[int, int]]  # event name -> (fn_index, trigger_id)
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)


class Session:
    """One member of staff; :class:`ChatSession` and :class:`RestSession` say how they talk."""

    channel = ""
    opening = ""  # the kind of the first step, :meth:`open`

    def __init__(self, number: int, base_url: str, shared: Shared) -> None:
        self.number = number
        self.shared = shared
        self.rng = random.Random(number)
        self.client = httpx.AsyncClient(
            base_url=base_url,
            verify=shared.tls,  # one context for all: building one per client costs ~30 ms
            timeout=httpx.Timeout(shared.timeout, connect=10.0),
            limits=httpx.Limits(max_connections=4),
        )
        self.answers = 0
        self.first_answer_at: float | None = None  # seconds since the load started
        self.cited = 0
        self.uploads = 0
        self.last: tuple[str, Asked] | None = None
        self.extra: dict[str, float] = {}  # measurements of the step in progress

    # ------------------------------------------------- what each channel implements

    async def open(self) -> None:
        """Arrive: load the page, or check the API is up."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.client.aclose()

    async def ask(self, question: str, expect_error: str | None = None) -> Asked:
        """Ask within the conversation so far; ``expect_error``: a word the refusal of a
        bad question sent on purpose must contain."""
        raise NotImplementedError

    async def feedback(self) -> None:
        """Rate the last answer, sometimes with a comment."""
        raise NotImplementedError

    async def new_chat(self) -> None:
        """Forget the conversation."""
        raise NotImplementedError

    async def documents(self) -> None:
        """Look at the list of briefs."""
        raise NotImplementedError

    async def upload(
        self, files: list[tuple[str, bytes]], expect_error: str | None = None
    ) -> list[tuple[bool, str, str]]:
        """(indexed, title or reason, doc id) per file; ``expect_error`` names a bad file's
        reason word when one is sent on purpose."""
        raise NotImplementedError

    async def remove(self, doc_id: str) -> None:
        """Remove a brief this session uploaded."""
        raise NotImplementedError

    # ------------------------------------------------------------- the script

    def time_left(self) -> bool:
        return time.perf_counter() < self.shared.deadline

    async def step(self, kind: str, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run one user action, sort its outcome, record it; None unless it went ok."""
        if not self.time_left():
            return None
        started = time.perf_counter()
        outcome, detail, result = "ok", "", None
        extra = self.extra = {}
        try:
            result = await asyncio.wait_for(action(), self.shared.timeout)
        except Outcome as exc:
            outcome, detail = exc.outcome, exc.detail
        except (httpx.TransportError, TimeoutError) as exc:
            outcome, detail = "transport_error", f"{type(exc).__name__}: {exc}"
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            # A body of the wrong shape.
            outcome, detail = "invalid", f"{type(exc).__name__}: {exc}"
        took = time.perf_counter() - started
        if isinstance(result, Asked):
            detail = result.question
        self.shared.records.append(
            Record(
                f"{self.channel} {kind}",
                outcome,
                took,
                started - self.shared.started,
                self.number,
                detail[:500],
                extra,
            )
        )
        return result if outcome == "ok" else None

    async def think(self) -> None:
        await asyncio.sleep(self.rng.uniform(*self.shared.think))

    async def run(self) -> None:
        """Conversations and side trips until the deadline."""
        await self.step(self.opening, self.open)
        conversations = 0
        while self.time_left():
            await self.conversation(first=conversations == 0)
            if self.last is not None and self.rng.random() < 0.3:
                await self.step("feedback", self.feedback)
            await self.step("new chat", self.new_chat)
            await self.side_trip(first=conversations == 0)
            conversations += 1
            await self.think()

    async def conversation(self, first: bool) -> None:
        shared = self.shared
        # A session's first question is one the brief answers, so "every session got an
        # answer" means something; later ones are sometimes out of scope.
        pool = shared.unanswerable if not first and self.rng.random() < 0.15 else shared.answerable
        self.last = None
        if await self.step("ask", lambda: self.asked(self.rng.choice(pool))) is None:
            return
        # The first conversation is one question, so that in a short run every session
        # still reaches its first side trip.
        for _ in range(0 if first else self.rng.choice((0, 1, 1, 2))):
            await self.think()
            await self.step("follow-up", partial(self.asked, self.rng.choice(FOLLOW_UPS)))

    async def asked(self, question: str) -> Asked:
        answer = await self.ask(question)
        answer.question = question
        self.answers += 1
        if self.first_answer_at is None:
            self.first_answer_at = time.perf_counter() - self.shared.started
        self.cited += answer.cited
        self.last = (question, answer)
        self.extra.update(cited=float(answer.cited), refused=float(answer.refused))
        self.extra["out_of_scope"] = float(question in self.shared.unanswerable)
        return answer

    async def side_trip(self, first: bool) -> None:
        # The first one goes round the sessions, so even a short run covers every kind.
        names, weights = zip(*SIDE_TRIPS, strict=True)
        name = names[self.number % len(names)] if first else self.rng.choices(names, weights)[0]
        if name == "documents":
            await self.step("documents", self.documents)
        elif name == "upload shared":
            await self.step("upload shared", lambda: self.upload_ok([SHARED_BRIEF]))
        elif name == "upload new":
            await self.own_upload()
        elif name == "bad upload":
            await self.step("bad upload", self.bad_upload)
        elif name == "empty question":
            await self.step("empty question", lambda: self.ask("   ", expect_error="empty"))

    async def upload_ok(self, files: list[tuple[str, bytes]]) -> list[tuple[bool, str, str]]:
        results = await self.upload(files)
        for (name, _), (indexed, reason, _) in zip(files, results, strict=True):
            if not indexed:
                raise Outcome("invalid", f"{name} was not indexed: {reason}")
        return results

    async def own_upload(self) -> None:
        name, data, question, figure = own_brief(self.number, self.uploads)
        self.uploads += 1
        results = await self.step("upload new", lambda: self.upload_ok([(name, data)]))
        if results is None:
            return
        doc_id = results[0][2]
        await self.think()

        async def ask_it() -> Asked:
            answer = await self.ask(question)
            self.extra["found"] = float(answer.cited and figure in answer.text)
            return answer

        await self.step("ask new brief", ask_it)
        if self.rng.random() < 0.5:
            await self.step("remove", lambda: self.remove(doc_id))

    async def bad_upload(self) -> None:
        name, data, _, word = self.rng.choice(BAD_FILES)
        batch = [(name, data)]
        if self.rng.random() < 0.3:  # a good file in the same batch must still go in
            good, good_data, _, _ = own_brief(self.number, self.uploads)
            self.uploads += 1
            batch.append((good, good_data))
        results = await self.upload(batch, expect_error=word)
        indexed, reason, _ = results[0]
        if indexed or word not in reason.lower():
            raise Outcome("invalid", f"{name}: expected a refusal naming {word!r}, got {reason!r}")
        if len(results) > 1 and not results[1][0]:
            raise Outcome("invalid", f"the good file beside {name} failed: {results[1][1]}")
        raise Outcome("rejected", f"{name}: {reason}")


class ChatSession(Session):
    """A browser tab on the web chat: Gradio's queue protocol, as the page speaks it."""

    channel = "ui"
    opening = "page"

    def __init__(self, number: int, base_url: str, shared: Shared) -> None:
        super().__init__(number, base_url, shared)
        self.session_hash = uuid.uuid4().hex[:11]
        self.chat: list[Any] = []
        self.heartbeat: asyncio.Task[None] | None = None

    async def open(self) -> None:
        started = time.perf_counter()
        page = _expect(await self.client.get("/"), 200)
        if "gradio_config" not in page.text:
            raise Outcome("invalid", "the page has no Gradio config")
        self.extra["html_ms"] = (time.perf_counter() - started) * 1000
        self.heartbeat = asyncio.create_task(self._heartbeat())
        await self.documents()  # the page's load event fills the briefs lists

    async def _heartbeat(self) -> None:
        # The page holds this stream open for its whole life; when it drops, Gradio
        # forgets the session's state.
        started = time.perf_counter()
        url = f"/gradio_api/heartbeat/{self.session_hash}"
        outcome, detail = "ok", ""
        try:
            async with self.client.stream("GET", url) as stream:
                _expect(stream, 200)
                async for _ in stream.aiter_lines():
                    pass
            outcome, detail = "server_error", "the heartbeat stream ended while the page was open"
        except asyncio.CancelledError:  # the session closes its page: the stream did its job
            raise
        except Outcome as exc:
            outcome, detail = exc.outcome, exc.detail
        except httpx.TransportError as exc:
            outcome, detail = "transport_error", f"{type(exc).__name__}: {exc}"
        finally:
            took, at = time.perf_counter() - started, started - self.shared.started
            record = Record("ui heartbeat", outcome, took, at, self.number, detail[:500])
            self.shared.records.append(record)

    async def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            await asyncio.gather(self.heartbeat, return_exceptions=True)
        await super().close()

    async def event(
        self, name: str, data: list[Any], event_data: Any = None, expect_error: str | None = None
    ) -> list[Any]:
        """One Gradio event through the queue; the outputs of its final message."""
        fn_index, trigger_id = self.shared.gradio[name]
        joined = time.perf_counter()
        body = {"data": data, "event_data": event_data, "fn_index": fn_index,
                "trigger_id": trigger_id, "session_hash": self.session_hash}  # fmt: skip
        response = _expect(await self.client.post("/gradio_api/queue/join", json=body), 200)
        event_id = response.json()["event_id"]
        params = {"session_hash": self.session_hash}
        async with self.client.stream("GET", "/gradio_api/queue/data", params=params) as stream:
            _expect(stream, 200)
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                kind = message.get("msg")
                now = time.perf_counter() - joined
                if kind == "process_starts":
                    self.extra.setdefault("queue_wait_ms", now * 1000)
                elif kind == "process_generating":
                    self.extra.setdefault("first_piece_ms", now * 1000)
                elif kind == "unexpected_error":
                    raise Outcome("server_error", f"{name}: {message.get('message')}")
                elif kind == "process_completed" and message.get("event_id") == event_id:
                    output = message.get("output") or {}
                    if message.get("success"):
                        if expect_error:
                            raise Outcome("invalid", f"{name}: expected an error ({expect_error})")
                        return list(output["data"])
                    error = str(output.get("error") or "")
                    if expect_error and expect_error in error.lower():
                        raise Outcome("rejected", f"{name}: {error}")
                    raise Outcome("server_error", f"{name} failed: {error or output}")
        raise Outcome("server_error", f"{name}: the event stream closed before the result")

    async def ask(self, question: str, expect_error: str | None = None) -> Asked:
        outputs = await self.event(
            # The states (the session's, the browser's open conversation) as a script
            # sends them: None, the server keeps the session.
            "ask",
            [question, self.chat, None, [], "", "", None],
            expect_error=expect_error,
        )
        cleared, chat = outputs[0], outputs[1]
        if cleared != "" or len(chat) != len(self.chat) + 2 or chat[-1]["role"] != "assistant":
            raise Outcome("invalid", f"the chat did not gain a question and an answer: {chat!r}")
        text = _message_text(chat[-1])
        if not text.strip():
            raise Outcome("invalid", "an empty answer")
        self.chat = chat
        return Asked(text, cited='class="bq-cite"' in text, refused="bq-refusal" in text)

    async def feedback(self) -> None:
        liked = self.rng.choice(("Like", "Dislike"))
        index = len(self.chat) - 1
        shown = await self.event(
            "rate",
            [None, None],
            {"index": index, "value": self.chat[-1]["content"], "liked": liked},
        )
        if not shown[0].get("visible"):
            raise Outcome("invalid", "the rating did not reach the answer it was given to")
        if self.rng.random() < 0.5:
            sent = await self.event("send_feedback", ["Checked against the brief.", None])
            if sent[1] != "":
                raise Outcome("invalid", f"the comment box was not cleared: {sent[1]!r}")

    async def new_chat(self) -> None:
        outputs = await self.event("reset", [])
        if outputs[0] != []:
            raise Outcome("invalid", "New chat left messages in the chat")
        self.chat = []

    async def documents(self) -> None:
        outputs = await self.event("refresh", [])
        if not outputs[0]["data"]:
            raise Outcome("invalid", "the briefs table is empty")

    async def upload(
        self, files: list[tuple[str, bytes]], expect_error: str | None = None
    ) -> list[tuple[bool, str, str]]:
        parts = [("files", (name, data)) for name, data in files]
        upload_id = uuid.uuid4().hex[:11]
        sent = await self.client.post("/gradio_api/upload", params={"upload_id": upload_id},
                                      files=parts)  # fmt: skip
        paths = _expect(sent, 200).json()
        payload = [
            {
                "path": path,
                "orig_name": name,
                "size": len(data),
                "meta": {"_type": "gradio.FileData"},
            }
            for path, (name, data) in zip(paths, files, strict=True)
        ]
        # The File component refuses some types itself: an error, not a "failed:" row.
        expect = "invalid file type" if expect_error == ".exe" else None
        outputs = await self.event("add_briefs", [payload], expect_error=expect)
        rows = outputs[0]["data"]
        # The table shows each id's start (its last column); the Remove list, as a user
        # picks from it, holds the whole ids.
        whole = [choice[1] for choice in outputs[4].get("choices", [])]
        titles = {
            row[0]: next((i for i in whole if i.startswith(str(row[-1]))), "")
            for row in outputs[2]["data"]
        }
        results = []
        for _, result in rows:
            indexed = result.startswith("indexed: ")
            title = result.removeprefix("indexed: ").rsplit(" (", 1)[0] if indexed else ""
            results.append((indexed, title if indexed else result, titles.get(title, "")))
        if len(results) != len(files):
            raise Outcome("invalid", f"{len(files)} files sent, {len(results)} results")
        return results

    async def remove(self, doc_id: str) -> None:
        if not doc_id:
            raise Outcome("invalid", "the briefs table did not list the uploaded brief")
        outputs = await self.event("drop", [doc_id])
        if not str(outputs[0]).startswith("Removed"):
            raise Outcome("invalid", f"remove said {outputs[0]!r}")


class RestSession(Session):
    """A script on the REST API, keeping the conversation itself."""

    channel = "rest"
    opening = "healthz"

    def __init__(self, number: int, base_url: str, shared: Shared) -> None:
        super().__init__(number, base_url, shared)
        self.history: list[dict[str, str]] = []

    async def open(self) -> None:
        health = _expect(await self.client.get("/api/v1/healthz"), 200).json()
        if health["status"] != "ok":
            raise Outcome("invalid", f"healthz says {health}")

    async def ask(self, question: str, expect_error: str | None = None) -> Asked:
        body = {"question": question, "history": self.history}
        response = await self.client.post("/api/v1/ask", json=body)
        if expect_error and response.status_code == 422:
            detail = str(response.json().get("detail", ""))
            if expect_error in detail.lower():
                raise Outcome("rejected", f"422 {detail}")
        answer = _expect(response, 200).json()
        if not answer["answer"].strip():
            raise Outcome("invalid", "an empty answer")
        self.history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer["answer"]},
        ]
        cited = bool(answer["citations"]) and not answer["refused"]
        return Asked(answer["answer"], cited=cited, refused=answer["refused"], body=answer)

    async def feedback(self) -> None:
        assert self.last is not None
        question, asked = self.last
        rating = self.rng.choice(("like", "dislike"))
        comment = "Checked against the brief." if self.rng.random() < 0.5 else ""
        body = {"question": question, "answer": asked.body, "rating": rating, "comment": comment}
        record = _expect(await self.client.post("/api/v1/feedback", json=body), 201).json()
        if record["rating"] != rating:
            raise Outcome("invalid", f"feedback stored {record!r}")

    async def new_chat(self) -> None:
        self.history = []

    async def documents(self) -> None:
        if not _expect(await self.client.get("/api/v1/documents"), 200).json():
            raise Outcome("invalid", "no briefs listed")

    async def upload(
        self, files: list[tuple[str, bytes]], expect_error: str | None = None
    ) -> list[tuple[bool, str, str]]:
        parts = [("files", (name, data)) for name, data in files]
        response = await self.client.post("/api/v1/documents", files=parts)
        if expect_error:
            expected = next(status for name, _, status, word in BAD_FILES if word == expect_error)
            if response.status_code != expected:
                raise Outcome(
                    _status_outcome(response.status_code),
                    f"{files[0][0]}: {response.status_code} instead of {expected}: "
                    f"{response.text[:300]}",
                )
            if expect_error not in str(response.json().get("detail", "")).lower():
                raise Outcome("invalid", f"{expected} without the reason: {response.text[:300]}")
        else:
            _expect(response, 201)
        results = response.json()["results"]
        return [
            (
                r["ok"],
                r["brief"]["title"] if r["ok"] else r["error"],
                (r.get("brief") or {}).get("doc_id", ""),
            )
            for r in results
        ]

    async def remove(self, doc_id: str) -> None:
        _expect(await self.client.delete(f"/api/v1/documents/{doc_id}"), 204)

    async def step(self, kind: str, action: Callable[[], Awaitable[Any]]) -> Any:
        # A REST "New chat" is only the client forgetting its history: not a request.
        if kind == "new chat":
            await action()
            return None
        return await super().step(kind, action)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


# -------------------------------------------------------------- measurement


@dataclass
class CpuTimes:
    """CPU seconds used so far by the server, this client and the whole machine."""

    server: float
    client: float
    machine: float

    @classmethod
    def now(cls, pid: int | None) -> CpuTimes:
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        return cls(_process_cpu(pid) if pid else 0.0, _process_cpu(os.getpid()), busy / tick)


def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB, and Threads, from ``/proc/<pid>/status``."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    return values


class Sampler(threading.Thread):
    """The server's RSS and thread count about once a second, in a thread of its own so
    that a busy event loop in this client cannot delay a sample."""

    def __init__(self, pid: int, started: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.started = started
        self.samples: list[list[float]] = []  # [seconds since start, RSS MB, threads]
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            status = proc_status(self.pid)
            at = time.perf_counter() - self.started
            self.samples.append([round(at, 2), round(status["VmRSS"] / 1024, 1), status["Threads"]])
            if self.done.wait(1.0):
                return


async def _loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late this client's event loop wakes up: if it is late, so are its timings."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.25)
        lags.append((time.perf_counter() - before - 0.25) * 1000)


async def _probe(url: str, shared: Shared, stop: asyncio.Event) -> None:
    """``GET /api/v1/healthz`` every 2 s: is a cheap request still served quickly?"""
    async with httpx.AsyncClient(base_url=url, timeout=shared.timeout, verify=shared.tls) as c:
        while not stop.is_set():
            started = time.perf_counter()
            outcome, detail = "ok", ""
            try:
                _expect(await c.get("/api/v1/healthz"), 200)
            except Outcome as exc:
                outcome, detail = exc.outcome, exc.detail
            except httpx.TransportError as exc:
                outcome, detail = "transport_error", f"{type(exc).__name__}: {exc}"
            took = time.perf_counter() - started
            shared.records.append(
                Record("probe healthz", outcome, took, started - shared.started, -1, detail)
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, 2.0 - took))


def memory_summary(samples: list[list[float]], warm_up: float, hwm_mb: float) -> dict[str, Any]:
    """RSS start, end, peak, and the growth from the first to the last third after warm-up."""
    rss = [mb for _, mb, _ in samples]
    # A run too short or too slow for its warm-up still compares its last 6 s or so.
    warm_up = max(0.0, min(warm_up, samples[-1][0] - 6.0))
    window = [mb for at, mb, _ in samples if at >= warm_up]
    third = max(1, len(window) // 3)
    first, last = statistics.median(window[:third]), statistics.median(window[-third:])
    growth = last - first
    allowed = min(MAX_GROWTH_SHARE * first, MAX_GROWTH_MB)
    times = [at for at, _, _ in samples if at >= warm_up]
    slope = _slope(times, window) * 60 if len(window) > 2 else 0.0
    return {
        "criterion": MEMORY_CRITERION,
        "warm_up_s": round(warm_up, 1),
        "start_mb": rss[0],
        "end_mb": rss[-1],
        "peak_mb": round(max(max(rss), hwm_mb), 1),
        "first_third_median_mb": round(first, 1),
        "last_third_median_mb": round(last, 1),
        "growth_mb": round(growth, 1),
        "growth_share": round(growth / first, 4),
        "allowed_growth_mb": round(allowed, 1),
        "slope_mb_per_min": round(slope, 1),
        "threads_start": samples[0][2],
        "threads_peak": max(t for _, _, t in samples),
        "stable": growth <= allowed,
        "samples": samples,
    }


def _slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def gradio_events(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Event name -> (fn_index, trigger_id), read from the page's Gradio config."""
    events: dict[str, tuple[int, int]] = {}
    for dependency in config["dependencies"]:
        name = dependency.get("api_name")
        if name and dependency["targets"]:
            events.setdefault(name, (dependency["id"], dependency["targets"][0][0]))
    needed = {"ask", "rate", "send_feedback", "reset", "refresh", "add_briefs", "drop"}
    if missing := needed - set(events):
        raise RuntimeError(f"the chat has no events named {sorted(missing)}: was ui.py changed?")
    return events


def seed_questions() -> tuple[list[str], list[str]]:
    """The seed brief's questions: those it answers, and those out of its scope."""
    cases = [json.loads(line) for line in SEED_QUESTIONS.read_text().splitlines() if line]
    answerable = [c["question"] for c in cases if not c["unanswerable"]]
    return answerable, [c["question"] for c in cases if c["unanswerable"]]


# -------------------------------------------------------------------- running


def run_load(
    base_url: str,
    sessions: int = 50,
    seconds: float = 60.0,
    *,
    server_pid: int | None = None,
    rest_every: int = 5,
    think: tuple[float, float] = (0.2, 1.0),
    timeout: float = 180.0,
) -> dict[str, Any]:
    """Run ``sessions`` concurrent sessions against ``base_url`` for ``seconds``.

    Every fifth session (``rest_every``) uses the REST API, the others the web chat.
    Sessions start over the first tenth of the run (at most 5 s) and stop starting new
    steps at the deadline; steps in flight finish and count. With ``server_pid`` (a
    process on this machine) the server's RSS and CPU are sampled too.
    """
    return asyncio.run(
        _run_load(base_url, sessions, seconds, server_pid, rest_every, think, timeout)
    )


async def _run_load(
    base_url: str,
    sessions: int,
    seconds: float,
    pid: int | None,
    rest_every: int,
    think: tuple[float, float],
    timeout: float,
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        config = _expect(await client.get("/config"), 200).json()
    answerable, unanswerable = seed_questions()
    records: list[Record] = []
    cpu_before = CpuTimes.now(pid)
    started = time.perf_counter()
    shared = Shared(records, answerable, unanswerable, started, started + seconds, timeout,
                    think, gradio_events(config))  # fmt: skip
    sampler = Sampler(pid, started) if pid else None
    if sampler is not None:
        sampler.start()
    stop = asyncio.Event()
    lags: list[float] = []
    watchers = [asyncio.create_task(_loop_lag(lags, stop)),
                asyncio.create_task(_probe(base_url, shared, stop))]  # fmt: skip
    ramp = min(5.0, seconds / 10)

    async def launch(number: int) -> Session:
        await asyncio.sleep(ramp * number / sessions)
        kind = RestSession if number % rest_every == rest_every - 1 else ChatSession
        session = kind(number, base_url, shared)
        try:
            await session.run()
        finally:
            await session.close()
        return session

    finished = await asyncio.gather(*(launch(n) for n in range(sessions)))
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*watchers)
    if sampler is not None:
        sampler.done.set()
        sampler.join()
    cpu_after = CpuTimes.now(pid)
    result = summarize(records, finished, elapsed)
    result["config"] = {
        "sessions": sessions,
        "chat_sessions": sum(isinstance(s, ChatSession) for s in finished),
        "rest_sessions": sum(isinstance(s, RestSession) for s in finished),
        "seconds": seconds,
        "ramp_s": ramp,
        "think_s": list(think),
        "timeout_s": timeout,
    }
    used = {
        name: (getattr(cpu_after, name) - getattr(cpu_before, name)) / elapsed
        for name in ("server", "client", "machine")
    }
    result["cpu_cores_used"] = {
        "server": round(used["server"], 2) if pid else None,
        "load_client": round(used["client"], 2),
        "other_processes": round(used["machine"] - used["server"] - used["client"], 2)
        if pid
        else None,
        "machine": round(used["machine"], 2),
    }
    result["client_loop_lag_ms"] = {
        "p50": round(percentile(lags, 50), 1),
        "p95": round(percentile(lags, 95), 1),
        "max": round(max(lags, default=0.0), 1),
    }
    if sampler is not None:
        result["memory"] = memory_summary(
            sampler.samples, warm_up(finished, ramp), proc_status(sampler.pid)["VmHWM"] / 1024
        )
    return result


def warm_up(sessions: list[Session], ramp: float) -> float:
    """Seconds until every session has had its first answer (at least the ramp + 2 s).

    By then every kind of request has run at full concurrency: the server's worker
    threads exist and its caches hold the corpus. The RSS it reaches meanwhile is the
    cost of serving, not growth; only what comes after can be a leak.
    """
    firsts = [s.first_answer_at for s in sessions if s.first_answer_at is not None]
    return max([ramp + 2.0, *firsts])


def summarize(records: list[Record], sessions: list[Session], elapsed: float) -> dict[str, Any]:
    """Counts by kind and outcome, latencies, answer quality, per-session figures."""
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_kind[record.kind].append(record)
    kinds = {}
    for kind in sorted(by_kind):
        group = by_kind[kind]
        counts = Counter(r.outcome for r in group)
        timed = [r.seconds * 1000 for r in group if r.outcome != "transport_error"]
        kinds[kind] = {
            "requests": len(group),
            **{outcome: counts[outcome] for outcome in OUTCOMES},
            "p50_ms": round(percentile(timed, 50), 1),
            "p95_ms": round(percentile(timed, 95), 1),
            "max_ms": round(max(timed, default=0.0), 1),
        }
    # Steps are user actions: not the page's heartbeat stream, not the health probe.
    timed_kinds = [k for k in by_kind if not k.endswith("heartbeat") and k != "probe healthz"]
    totals = {o: sum(kinds[k][o] for k in kinds) for o in OUTCOMES}
    steps = sum(kinds[k]["requests"] for k in timed_kinds)

    def asks(*names: str, out_of_scope: float | None = None) -> list[Record]:
        return [
            r
            for r in records
            if r.outcome == "ok"
            and r.kind.split(" ", 1)[1] in names
            and (out_of_scope is None or r.extra.get("out_of_scope") == out_of_scope)
        ]

    def share(group: list[Record], key: str) -> float | None:
        return round(sum(r.extra.get(key, 0.0) for r in group) / len(group), 3) if group else None

    streamed = asks("ask", "follow-up", "ask new brief")
    ui_streamed = [r for r in streamed if r.kind.startswith("ui ")]
    answers = [s.answers for s in sessions]
    failures = [r for r in records if r.outcome in FAILURES]
    rejected = [r for r in records if r.outcome == "rejected"]
    return {
        "elapsed_s": round(elapsed, 1),
        "steps": steps,
        "steps_per_s": round(steps / elapsed, 2),
        "answers": len(streamed),
        "answers_per_s": round(len(streamed) / elapsed, 2),
        "totals": totals,
        "kinds": kinds,
        "quality": {
            "first_question_cited": share(asks("ask", out_of_scope=0.0), "cited"),
            "out_of_scope_refused": share(asks("ask", out_of_scope=1.0), "refused"),
            "follow_up_cited": share(asks("follow-up"), "cited"),
            "new_brief_found": share(asks("ask new brief"), "found"),
            "out_of_scope_answered": sorted(
                {r.detail for r in asks("ask", out_of_scope=1.0) if not r.extra["refused"]}
            ),
        },
        "chat_stream": {
            "queue_wait_p50_ms": _pct(ui_streamed, "queue_wait_ms", 50),
            "queue_wait_p95_ms": _pct(ui_streamed, "queue_wait_ms", 95),
            "first_piece_p50_ms": _pct(ui_streamed, "first_piece_ms", 50),
            "first_piece_p95_ms": _pct(ui_streamed, "first_piece_ms", 95),
        },
        "sessions": {
            "count": len(sessions),
            "answers_min": min(answers, default=0),
            "answers_median": statistics.median(answers) if answers else 0,
            "answers_max": max(answers, default=0),
            "without_an_answer": [s.number for s in sessions if s.answers == 0],
        },
        "failures": [
            {
                "kind": r.kind,
                "outcome": r.outcome,
                "at_s": round(r.at, 1),
                "session": r.session,
                "detail": r.detail,
            }
            for r in failures[:25]
        ],
        "rejections": dict(Counter(f"{r.kind}: {r.detail[:100]}" for r in rejected)),
        "rejected_kinds": sorted({r.kind for r in rejected}),
    }


def _pct(records: list[Record], key: str, q: float) -> float | None:
    values = [r.extra[key] for r in records if key in r.extra]
    return round(percentile(values, q), 1) if values else None


# --------------------------------------------------------------------- server


@dataclass
class Server:
    """A ``briefqa serve`` process started by :func:`serve_fresh`."""

    url: str
    pid: int
    log: Path
    data_dir: Path
    ready_s: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_fresh(work: Path, timeout: float = 180.0) -> Iterator[Server]:
    """``briefqa serve`` on 127.0.0.1 with a new data dir under ``work``; it ingests
    ``corpus/`` first, as ``make run`` does on an empty index."""
    corpus = work / "corpus"
    shutil.copytree(CORPUS, corpus)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    env.update(
        BRIEFQA_DATA_DIR=str(work / "data"),
        BRIEFQA_CORPUS_DIR=str(corpus),
        GRADIO_TEMP_DIR=str(work / "gradio"),  # uploads land here, not in /tmp/gradio
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    log = work / "serve.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/v1/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > timeout:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"briefqa serve did not start:\n{tail}")
            time.sleep(0.25)
        yield Server(url, proc.pid, log, work / "data", time.perf_counter() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def health_after(url: str, gradio: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Is the server still well after the load: healthz, and a cited answer both ways."""
    result: dict[str, Any] = {}
    try:
        health = httpx.get(f"{url}/api/v1/healthz", timeout=30)
        result["healthz"] = health.status_code
        if health.status_code == 200:
            result.update(briefs=health.json()["briefs"], chunks=health.json()["chunks"])
        answer = httpx.post(f"{url}/api/v1/ask", json={"question": HEALTH_QUESTION}, timeout=60)
        body = answer.json() if answer.status_code == 200 else {}
        result["rest_answer_cited"] = bool(body.get("citations")) and "France" in body.get(
            "answer", ""
        )
    except httpx.HTTPError as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"

    async def chat() -> bool:
        far = time.perf_counter() + 3600
        shared = Shared([], [], [], time.perf_counter(), far, 60.0, (0, 0), gradio)
        session = ChatSession(-1, url, shared)
        try:
            asked = await session.step("ask", lambda: session.ask(HEALTH_QUESTION))
            if asked is None:
                result["chat_error"] = shared.records[-1].detail
            return asked is not None and asked.cited and "France" in asked.text
        finally:
            await session.close()

    result["chat_answer_cited"] = asyncio.run(chat())
    result["healthy"] = (
        result.get("healthz") == 200
        and result.get("rest_answer_cited", False)
        and result["chat_answer_cited"]
    )
    return result


# A line from `logging` (briefqa's format, or uvicorn's) rather than from a traceback.
_LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|(DEBUG|INFO|WARNING|ERROR|CRITICAL):")


def scan_log(text: str) -> dict[str, Any]:
    """Tracebacks and ERROR lines in a server log. Gradio prints a traceback even for the
    errors the chat raises on purpose (``gr.Error``: an empty question, a file type the
    upload box refuses); those are counted apart."""
    lines = text.splitlines()
    raised: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("Traceback (most recent call last)"):
            start = i
            i += 1
            # Frames are indented; other threads' log records may land between them.
            while i < len(lines) and (
                lines[i].startswith(" ") or not lines[i].strip() or _LOG_RECORD.match(lines[i])
            ):
                i += 1
            final = lines[i] if i < len(lines) else ""
            raised.append((final, lines[start : i + 1]))
        i += 1
    # Each link of a chained traceback counts on its own: a chain ending in gr.Error that
    # began elsewhere is unexpected.
    unexpected = [(e, t) for e, t in raised if not e.startswith("gradio.exceptions.Error")]
    errors = [line for line in lines if re.search(r"\bERROR\b|\bCRITICAL\b", line)]
    return {
        "tracebacks": len(raised),
        "chat_errors_raised_on_purpose": len(raised) - len(unexpected),
        "unexpected_tracebacks": len(unexpected),
        "unexpected_exceptions": sorted(Counter(e for e, _ in unexpected).items()),
        "error_lines": len(errors),
        "excerpt": ("\n".join(unexpected[0][1][-30:]) if unexpected else "\n".join(errors[:20])),
    }


def load_test(
    sessions: int = 50,
    seconds: float = 60.0,
    work: Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Start a fresh server, run :func:`run_load` on it, check it afterwards.

    Returns the figures with ``verdicts``: each requirement of the load target, met or not.
    """
    if work is None:
        with tempfile.TemporaryDirectory(prefix="briefqa-load-") as tmp:
            return load_test(sessions, seconds, Path(tmp), **options)
    with serve_fresh(work) as server:
        idle = proc_status(server.pid)
        before = httpx.get(f"{server.url}/api/v1/healthz", timeout=30).json()
        offset = server.log.stat().st_size
        load = run_load(server.url, sessions, seconds, server_pid=server.pid, **options)
        config = httpx.get(f"{server.url}/config", timeout=30).json()
        after = health_after(server.url, gradio_events(config))
        after["rss_mb"] = round(proc_status(server.pid)["VmRSS"] / 1024, 1)
        with open(server.log, "rb") as f:
            f.seek(offset)
            log = scan_log(f.read().decode(errors="replace"))
        uploads = server.data_dir / "uploads"
        kept = sum(1 for p in uploads.rglob("*") if p.is_file()) if uploads.exists() else 0
    result: dict[str, Any] = {
        "benchmark": "briefqa load",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "server": {
            "ready_s": round(server.ready_s, 1),
            "idle_rss_mb": round(idle["VmRSS"] / 1024, 1),
            "briefs_before": before["briefs"],
            "chunks_before": before["chunks"],
            "upload_files_kept": kept,
        },
        **load,
        "after": after,
        "server_log": log,
    }
    result["verdicts"] = verdicts(result)
    return result


def verdicts(r: dict[str, Any]) -> dict[str, bool]:
    """The load target, requirement by requirement."""
    totals, kinds = r["totals"], r["kinds"]
    bad = [k for k in kinds if k.endswith("bad upload")]
    return {
        "0 server errors (5xx, chat failures)": totals["server_error"] == 0,
        "0 transport errors (refused, dropped, timed out)": totals["transport_error"] == 0,
        "0 unexpected 4xx": totals["unexpected_4xx"] == 0,
        "0 invalid responses": totals["invalid"] == 0,
        "bad files refused with a reason": bool(bad)
        and all(kinds[k]["rejected"] == kinds[k]["requests"] for k in bad),
        "rejections only for bad input": set(r["rejected_kinds"])
        <= {f"{c} {k}" for c in ("ui", "rest") for k in ("bad upload", "empty question")},
        "every session got an answer": r["sessions"]["answers_min"] >= 1,
        "memory stable": r["memory"]["stable"],
        "healthy after the load": r["after"]["healthy"],
        "no unexpected tracebacks in the log": r["server_log"]["unexpected_tracebacks"] == 0,
    }


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), "")
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "cpu": model or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1048576, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average_before": os.getloadavg()[0],
    }


# -------------------------------------------------------------------- results


def markdown(r: dict[str, Any]) -> str:
    """The results as a short Markdown report."""
    c, m, cpu, mem = r["config"], r["machine"], r["cpu_cores_used"], r["memory"]
    t, q, st, s = r["totals"], r["quality"], r["chat_stream"], r["sessions"]
    lines = [
        f"# briefqa load test ({r['when']})",
        "",
        f"{c['sessions']} sessions ({c['chat_sessions']} web chat through Gradio's queue, "
        f"{c['rest_sessions']} REST) for {c['seconds']:g} s against `briefqa serve` on "
        f"127.0.0.1; {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python "
        f"{m['python']}. Server ready in {r['server']['ready_s']} s on "
        f"{r['server']['chunks_before']} chunks. CPU cores used during the run: server "
        f"{cpu['server']}, load client {cpu['load_client']}, other processes "
        f"{cpu['other_processes']} (of {m['cores']}); this client's event loop woke up late by "
        f"p95 {_ms(r['client_loop_lag_ms']['p95'])}, max {_ms(r['client_loop_lag_ms']['max'])}."
        + (
            f" **Other processes took {cpu['other_processes']} cores: these latencies are "
            "contended.**"
            if (cpu["other_processes"] or 0) > 0.25
            else ""
        ),
        "",
        f"**{r['steps']} steps in {r['elapsed_s']} s ({r['steps_per_s']}/s), "
        f"{r['answers']} answers ({r['answers_per_s']}/s)**. Outcomes of the steps, the health "
        "probes and the heartbeat streams together: "
        + ", ".join(f"{t[o]} {o.replace('_', ' ')}" for o in OUTCOMES)
        + ".",
        "",
        "| kind | steps | ok | rejected | unexp. 4xx | server err. | transport err. | invalid "
        "| p50 | p95 | max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, v in r["kinds"].items():
        lines.append(
            f"| {kind} | {v['requests']} | {v['ok']} | {v['rejected']} | {v['unexpected_4xx']} "
            f"| {v['server_error']} | {v['transport_error']} | {v['invalid']} "
            f"| {_ms(v['p50_ms'])} | {_ms(v['p95_ms'])} | {_ms(v['max_ms'])} |"
        )
    lines += [
        "",
        "A step is one user action: an upload from the chat is the file upload plus the "
        "indexing event; a chat question is the queue join plus its event stream until the "
        "answer is complete. `ui heartbeat` is the stream each open page holds; its time is "
        "how long it stayed open. `probe healthz` is `GET /api/v1/healthz` every 2 s beside "
        "the sessions: how quickly a cheap request is served under the load.",
        "",
        f"Chat answers: queue wait p50 {_ms(st['queue_wait_p50_ms'])}, p95 "
        f"{_ms(st['queue_wait_p95_ms'])}; first piece p50 {_ms(st['first_piece_p50_ms'])}, "
        f"p95 {_ms(st['first_piece_p95_ms'])}. Answers per session: min {s['answers_min']}, "
        f"median {s['answers_median']}, max {s['answers_max']}. First questions answered with "
        f"a citation: {_share(q['first_question_cited'])}; out-of-scope questions refused: "
        f"{_share(q['out_of_scope_refused'])} (answered: "
        f"{'; '.join(q['out_of_scope_answered']) or 'none'}); "
        f"follow-ups cited: {_share(q['follow_up_cited'])}; "
        f"a session's new brief found right after its upload: {_share(q['new_brief_found'])}.",
        "",
        f"Server RSS: idle {r['server']['idle_rss_mb']} MB, start {mem['start_mb']} MB, end "
        f"{mem['end_mb']} MB, peak {mem['peak_mb']} MB; first-third median "
        f"{mem['first_third_median_mb']} MB, last-third median {mem['last_third_median_mb']} MB "
        f"(growth {mem['growth_mb']:+} MB, {mem['growth_share']:+.1%}; allowed "
        f"{mem['allowed_growth_mb']} MB; trend {mem['slope_mb_per_min']:+} MB/min); threads "
        f"{mem['threads_start']} → peak {mem['threads_peak']}. Criterion: {mem['criterion']}.",
        "",
        f"After the load: healthz {r['after'].get('healthz')}, "
        f"{r['after'].get('briefs')} briefs / {r['after'].get('chunks')} chunks, cited answer "
        f"over REST {r['after'].get('rest_answer_cited')}, in the chat "
        f"{r['after'].get('chat_answer_cited')}, RSS {r['after'].get('rss_mb')} MB. Server log: "
        f"{r['server_log']['unexpected_tracebacks']} unexpected tracebacks, "
        f"{r['server_log']['chat_errors_raised_on_purpose']} from errors the chat raises on "
        f"purpose (gr.Error), {r['server_log']['error_lines']} ERROR lines.",
        "",
        "| requirement | met |",
        "|---|---|",
    ]
    lines += [f"| {name} | {'met' if ok else 'NOT met'} |" for name, ok in r["verdicts"].items()]
    if r["failures"]:
        lines += ["", "First failures:", ""]
        lines += [
            f"- {f['at_s']} s, session {f['session']}, {f['kind']}: {f['outcome']}: {f['detail']}"
            for f in r["failures"][:10]
        ]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def write_results(result: dict[str, Any], name: str = "load") -> Path:
    """``benchmarks/results/<name>.json`` and ``.md``; returns the Markdown file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    path = RESULTS / f"{name}.md"
    path.write_text(markdown(result) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions (50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (60)")
    parser.add_argument("--name", default="load", help="results file name (load)")
    args = parser.parse_args(argv)
    print(f"load: {args.sessions} sessions for {args.seconds:g} s …", flush=True)
    result = load_test(args.sessions, args.seconds)
    path = write_results(result, args.name)
    print(path.read_text())
    return 0 if all(result["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
