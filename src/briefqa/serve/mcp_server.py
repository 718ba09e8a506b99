"""briefqa as an MCP server (Model Context Protocol), on the official ``mcp`` SDK.

An MCP client (Claude Desktop, an IDE, an agent) gets four read-only tools over the
briefs one :class:`~briefqa.BriefQA` has indexed:

* ``ask_briefs``    a verified answer with ``[n]`` markers, its outcome and citations;
* ``search_briefs`` the passages most relevant to a query, with scores and offsets;
* ``list_briefs``   the indexed briefs, optionally within a date range;
* ``get_brief``     one brief's metadata, full text and section outline.

Each returns structured content (with an output schema) and the same JSON as text.
A bad argument (an unknown brief id, a malformed date, ``k`` out of range, an empty
question) comes back as a tool error (``isError``) whose text names the problem; the
server goes on serving.

Transports: :func:`serve_stdio` (``briefqa mcp``), :func:`serve_http` (``briefqa mcp
--http HOST:PORT``), and :func:`http_app`, an ASGI app to mount in another server.

Like the web UI and the CLI, this module uses only briefqa's public API. The SDK is
an optional extra, imported when this module is: ``pip install 'briefqa[mcp]'``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from pydantic import BaseModel, Field, ValidationError

from briefqa import (
    BriefInfo,
    BriefQA,
    BriefQAError,
    Chunk,
    ConfigError,
    Filters,
    Hit,
    NotFound,
    load_brief,
)

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.shared.message import SessionMessage
    from mcp.types import INVALID_REQUEST, ErrorData, JSONRPCError, ToolAnnotations
except ImportError as exc:  # the optional extra is missing
    raise ConfigError(
        f"the MCP server needs the mcp package ({exc}): pip install 'briefqa[mcp]'"
    ) from exc

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)

#: How clients see the server; also the text of ``initialize``'s instructions.
INSTRUCTIONS = (
    "Answers questions from an archive of policy briefs, with citations checked against "
    "the briefs' text. Use ask_briefs for a question (it refuses when the briefs do not "
    "cover it), search_briefs for raw passages, list_briefs and get_brief to browse."
)
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


# ----------------------------------------------------------------- arguments


class BriefFilters(BaseModel):
    """Which briefs to search: some ids and/or a date range (inclusive)."""

    doc_ids: list[str] | None = Field(
        default=None, description="Only these briefs (ids from list_briefs)."
    )
    date_from: str | None = Field(
        default=None, description="Only briefs dated on or after this day (YYYY-MM-DD)."
    )
    date_to: str | None = Field(
        default=None, description="Only briefs dated on or before this day (YYYY-MM-DD)."
    )


# ------------------------------------------------------------------- results


class Passage(BaseModel):
    """A passage of a brief; ``start``/``end`` are offsets into the brief's text."""

    doc_id: str
    chunk_id: str
    title: str
    section: str | None
    page: int | None = Field(description="1-based page where the passage starts (PDF).")
    text: str
    score: float = Field(description="Retrieval score; higher is more relevant.")
    dense: float | None = Field(
        default=None, description="Cosine similarity to the query, if dense search found it."
    )
    lexical: float | None = Field(
        default=None, description="BM25 score, if the lexical search found it."
    )
    start: int
    end: int


class CitationResult(BaseModel):
    """What an ``[n]`` marker of the answer points to: the supporting quote."""

    n: int
    doc_id: str
    title: str
    chunk_id: str
    quote: str = Field(description="The brief's sentence that supports the cited claim.")
    start: int = Field(description="Offset of the quote in the brief's text.")
    end: int
    support: float = Field(description="How well the quote supports the claim (0-1).")
    score: float = Field(description="Retrieval score of the cited passage.")
    section: str | None
    page: int | None
    date: str | None
    authors: list[str]
    number: str | None = Field(default=None, description="the brief's number, if it has one")
    answer_score: float | None = Field(
        default=None,
        description="For an extracted answer sentence: the reading model's probability "
        "that it answers the question (0-1).",
    )


class AskResult(BaseModel):
    """briefqa's answer to a question."""

    answer: str = Field(description="The answer, with [n] markers for its citations.")
    outcome: Literal["answered", "low_confidence", "refused"] = Field(
        description="answered; low_confidence (given, but check the sources); or refused "
        "(the briefs do not cover the question)."
    )
    confidence: float = Field(description="Probability that the passages answer it.")
    citations: list[CitationResult]
    sources: list[Passage] = Field(description="The passages the answer cites.")
    nearest: list[Passage] = Field(
        description="The closest passages, when refused or low-confidence."
    )
    unsupported: list[str] = Field(description="Answer sentences no passage supports.")
    standalone_question: str
    refused: bool = Field(description="The same as outcome 'refused'.")
    kind: str = Field(
        description="What answered: search (passages found for the question), brief (a "
        "brief's own lead, conclusions or section) or archive (the list of briefs)."
    )
    timings: dict[str, float] = Field(description="Milliseconds spent in each step.")
    preface: str = Field(
        default="",
        description="Said before the answer: which brief of several answered a question "
        "that named none (cites nothing).",
    )


class SearchResult(BaseModel):
    """Passages found for a query, best first."""

    passages: list[Passage]


class BriefSummary(BaseModel):
    """One indexed brief."""

    doc_id: str
    title: str
    number: str | None
    date: str | None = Field(description="Publication date (YYYY-MM-DD).")
    authors: list[str]
    author_roles: list[str] = Field(
        default_factory=list,
        description="Each author's role as the byline gives it, in the order of authors.",
    )
    sections: list[str]
    sources: list[str] = Field(description="Files that hold this brief.")
    format: str
    chunks: int
    sha256: str = Field(description="SHA-256 of the brief's normalised text.")
    ingested_at: str = Field(description="When the brief was indexed (UTC, ISO 8601).")


class BriefList(BaseModel):
    """The indexed briefs, newest first."""

    briefs: list[BriefSummary]


class SectionSpan(BaseModel):
    """Where a section lies in the brief's text (the lead has no section name)."""

    section: str | None
    start: int
    end: int
    page: int | None


class BriefText(BriefSummary):
    """One brief with its text."""

    text: str = Field(description="The brief's normalised text, which citation offsets point into.")
    text_from: Literal["file", "index"] = Field(
        description="file: read from a source file; index: pieced from the indexed "
        "passages (offsets hold; headings and front matter are blank)."
    )
    outline: list[SectionSpan]


# --------------------------------------------------------------------- server


def create_server(qa: BriefQA) -> MCPServer[Any]:
    """The MCP server over ``qa``'s briefs, ready for any transport.

    One engine serves every call (the SDK runs each tool on a worker thread; the
    engine is thread-safe), so the embedding model loads once per process.
    """
    # The SDK's constructor installs a handler on the root logger (logging.basicConfig);
    # undo that, so that a host app (the web server) keeps its own logging, and the
    # libraries' debug messages stay off stderr.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    server: MCPServer[Any] = MCPServer(
        "briefqa", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING"
    )
    root.handlers[:] = handlers
    root.setLevel(level)

    @server.tool(annotations=_READ_ONLY)
    def ask_briefs(
        question: Annotated[str, Field(description="The question, in plain language.")],
        filters: BriefFilters | None = None,
    ) -> AskResult:
        """Answer a question from the policy briefs, citing them.

        The answer marks each claim with [n]; citations[n-1] gives the brief, the
        supporting quote and its place in the brief. outcome "refused" means the briefs
        do not cover the question (nearest lists the closest passages): do not answer
        it from them.
        """
        answer = _call(lambda: qa.ask(question, filters=_filters(qa, filters)))
        # From the JSON shape the REST API and the CLI give (to_dict), so that every
        # surface carries the same fields (tests/test_mcp.py checks none is missing).
        return AskResult.model_validate(answer.to_dict())

    @server.tool(annotations=_READ_ONLY)
    def search_briefs(
        query: Annotated[str, Field(description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages (1-50).")] = 5,
        filters: BriefFilters | None = None,
    ) -> SearchResult:
        """Find the passages of the briefs most relevant to a query (hybrid dense and
        keyword search), best first, with their brief, section, page and offsets."""
        if not query.strip():
            raise ToolError("the query is empty: say what to look for")
        hits = _call(lambda: qa.retrieve(query, k=k, filters=_filters(qa, filters)))
        return SearchResult(passages=[_passage(h) for h in hits])

    @server.tool(annotations=_READ_ONLY)
    def list_briefs(
        date_from: Annotated[
            str | None, Field(description="Only briefs dated on or after (YYYY-MM-DD).")
        ] = None,
        date_to: Annotated[
            str | None, Field(description="Only briefs dated on or before (YYYY-MM-DD).")
        ] = None,
    ) -> BriefList:
        """List the indexed briefs, newest first: id, title, number, date, authors,
        sections and source files. An undated brief is left out when a date is given."""
        window = _call(lambda: Filters(date_from=date_from, date_to=date_to))
        briefs = _call(qa.documents)
        return BriefList(briefs=[_summary(b) for b in briefs if window.admits(b)])

    @server.tool(annotations=_READ_ONLY)
    def get_brief(
        doc_id: Annotated[str, Field(description="The brief's id, from list_briefs.")],
    ) -> BriefText:
        """One brief's metadata, its full text (which citation offsets point into) and
        the outline of its sections."""
        info = _call(lambda: qa.brief(doc_id))
        passages = _call(lambda: qa.passages(doc_id))
        text, origin = _text_of(info, passages)
        outline: dict[str | None, SectionSpan] = {}
        for chunk in passages:  # a chunk never crosses a section boundary
            span = outline.get(chunk.section)
            if span is None:
                outline[chunk.section] = SectionSpan(
                    section=chunk.section, start=chunk.start, end=chunk.end, page=chunk.page
                )
            else:
                span.end = max(span.end, chunk.end)
        return BriefText(
            **_summary(info).model_dump(),
            text=text,
            text_from=origin,
            outline=sorted(outline.values(), key=lambda s: s.start),
        )

    return server


def serve_stdio(qa: BriefQA) -> None:
    """Serve over stdin/stdout until the client closes them (``briefqa mcp``)."""
    _warm_up(qa)
    anyio.run(_run_stdio, create_server(qa))


async def _run_stdio(server: MCPServer) -> None:
    # MCPServer.run("stdio"), with requests the SDK cannot read answered (_Unreadable).
    from mcp.server.stdio import stdio_server

    lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async uses it so too
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(
            _Unreadable(read_stream, write_stream),
            write_stream,
            lowlevel.create_initialization_options(),
        )


class _Unreadable:
    """The stdio read stream, with an answer for each request the SDK cannot read.

    The SDK drops a line it cannot validate (JSON nested deeper than pydantic reads,
    a request of the wrong shape) and the client waits for an answer that never comes;
    a line that still carries a request id gets a JSON-RPC error naming the problem.
    """

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner, self._write = inner, write

    @property
    def last_context(self) -> Any:  # the SDK reads the sender's context from it
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self._inner.receive()
            if not (isinstance(item, Exception) and await self._answered(item)):
                return item

    def __aiter__(self) -> _Unreadable:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _Unreadable:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)

    async def _answered(self, exc: Exception) -> bool:
        if not isinstance(exc, ValidationError):
            return False
        problems = exc.errors()
        line = next((p["input"] for p in problems if isinstance(p.get("input"), str)), None)
        try:
            request = json.loads(line) if line is not None else None
        except (ValueError, RecursionError):
            return False
        if not isinstance(request, dict) or "method" not in request:
            return False
        rid = request.get("id")
        if isinstance(rid, bool) or not isinstance(rid, str | int):
            return False  # a notification, or an id no answer could name
        if any(p["type"] == "json_invalid" for p in problems):
            reason = f"the request cannot be read ({problems[0]['msg']}): nest arguments less"
        else:
            reason = f"the request is not a valid JSON-RPC request: {problems[0]['msg']}"
        error = JSONRPCError(
            jsonrpc="2.0", id=rid, error=ErrorData(code=INVALID_REQUEST, message=reason)
        )
        log.warning("answered an unreadable request %r: %s", rid, reason)
        await self._write.send(SessionMessage(error))
        return True


def http_app(qa: BriefQA, *, path: str = "/mcp", host: str = "127.0.0.1") -> Starlette:
    """An ASGI (Starlette) app serving MCP's streamable HTTP transport at ``path``.

    ``host`` is the address the enclosing server listens on: for a loopback address the
    SDK turns on DNS-rebinding protection (only ``127.0.0.1``/``localhost`` Host and
    Origin headers pass). The app's lifespan runs the SDK's session manager, which must
    be running before the first request. Starlette does not run a mounted app's
    lifespan, so a host app that mounts this one enters it from its own::

        mcp_app = http_app(qa, path="/")
        app.mount("/mcp", mcp_app)  # the endpoint is then /mcp/

        @asynccontextmanager
        async def lifespan(app):
            async with mcp_app.router.lifespan_context(mcp_app):
                yield

    Each app has its own session manager, which runs once: build a new app per server.
    """
    # Stateless: the tools keep no state between calls, and a request may land on any
    # of several workers sharing one index (docs/deploy.md).
    return create_server(qa).streamable_http_app(
        streamable_http_path=path, host=host, stateless_http=True
    )


def serve_http(qa: BriefQA, host: str, port: int, *, log_level: str = "warning") -> None:
    """Serve streamable HTTP at ``http://HOST:PORT/mcp`` (``briefqa mcp --http``)."""
    import uvicorn

    _warm_up(qa)
    uvicorn.run(http_app(qa, host=host), host=host, port=port, log_level=log_level)


# -------------------------------------------------------------------- helpers


def _call(fn: Any) -> Any:
    """Run ``fn``; briefqa's own errors become tool errors, whose text the client sees
    (the SDK hides the text of any other exception, as a crash)."""
    try:
        return fn()
    except NotFound as exc:  # its own text points at the CLI
        raise ToolError(
            f"no brief with id {exc.doc_id!r} is indexed; list_briefs gives the ids"
        ) from exc
    except BriefQAError as exc:
        raise ToolError(str(exc)) from exc


def _filters(qa: BriefQA, given: BriefFilters | None) -> Filters | None:
    if given is None:
        return None
    filters: Filters = _call(
        lambda: Filters(
            doc_ids=tuple(given.doc_ids) if given.doc_ids else None,
            date_from=given.date_from,
            date_to=given.date_to,
        )
    )
    # An unknown id would silently filter everything out; say so instead.
    known = {b.doc_id for b in qa.documents()}
    unknown = [d for d in filters.doc_ids or () if d not in known]
    if unknown:
        raise ToolError(
            f"unknown doc_id {', '.join(map(repr, unknown))}: list_briefs gives the ids"
        )
    return filters


def _passage(hit: Hit) -> Passage:
    return Passage.model_validate(hit.to_dict())


def _summary(info: BriefInfo) -> BriefSummary:
    return BriefSummary.model_validate(info.to_dict())


def _text_of(info: BriefInfo, passages: list[Chunk]) -> tuple[str, Literal["file", "index"]]:
    """The brief's text from the first source file that still holds this very brief
    (its id is derived from the text), else pieced from the indexed passages."""
    for source in info.sources:
        try:
            brief = load_brief(Path(source))
        except BriefQAError:
            continue
        if brief.doc_id == info.doc_id:
            return brief.text, "file"
    size = max((c.end for c in passages), default=0)
    chars = [" "] * size
    for chunk in passages:
        chars[chunk.start : chunk.end] = chunk.text
    return "".join(chars), "index"


def _warm_up(qa: BriefQA) -> None:
    """Load the embedding model in the background, so that the client's handshake is
    not kept waiting and the first question is as fast as the rest. A failure here
    comes back, with its message, on the first tool call."""

    def run() -> None:
        try:
            qa.warm_up()
        except Exception as exc:  # reported to the client by the first call instead
            log.warning("briefqa: warm-up failed: %s", exc)

    threading.Thread(target=run, name="briefqa-warm-up", daemon=True).start()


def _version() -> str:
    import briefqa

    return briefqa.__version__
