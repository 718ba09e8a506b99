"""``briefqa serve``: one FastAPI app with the REST API under ``/api/v1``, an
OpenAI-compatible chat API under ``/v1`` (:mod:`briefqa.openai_api`) and the Gradio chat
at ``/``, all over one shared :class:`briefqa.BriefQA`.

Request handlers are plain ``def`` functions: FastAPI runs them in its thread pool, so
CPU-bound answering never blocks the event loop. Errors from the engine's error tree map
to 4xx codes with the engine's own message as ``detail``.
"""

import logging
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Annotated, Any, Literal, Self

# Gradio must not phone home (no network here, and staff questions stay private).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Gradio's queue rebuilds a summary of up to 10,000 past events after every event (7-21 ms
# of CPU each under load, benchmarks/results/load.md); now and then is enough.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic
from pydantic import BaseModel, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

import briefqa
from briefqa import (
    Answer,
    BriefInfo,
    BriefQA,
    BriefQAError,
    Citation,
    DiskFull,
    DocumentError,
    Filters,
    Hit,
    IndexLocked,
    InvalidQuestion,
    NotFound,
    StoreError,
    UnsupportedFormat,
    export_markdown,
)
from briefqa.access import Access, Limits
from briefqa.auth import Users
from briefqa.errors import EmbeddingError, FileTooLarge, ModelError, redact
from briefqa.memory import limit_malloc_arenas
from briefqa.openai_api import OpenAIError, openai_router

log = logging.getLogger("briefqa.server")

_STATUS: list[tuple[type[BriefQAError], int]] = [
    (NotFound, 404),
    (FileTooLarge, 413),
    (UnsupportedFormat, 415),
    (DocumentError, 422),
    (InvalidQuestion, 422),
    (IndexLocked, 409),
    (DiskFull, 507),
    (StoreError, 503),
    (EmbeddingError, 503),
    (ModelError, 503),
]


def _status(exc: BriefQAError) -> int:
    """The HTTP status of an engine error (500 for one the table does not list)."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


def _chat_user(gradio_app: Any, request: Request) -> str | None:
    """The user logged in to the chat by the session cookie Gradio's /login sets."""
    cookie_id = gradio_app.cookie_id
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    user = gradio_app.tokens.get(token) if token else None
    return None if user is None else str(user)


# ------------------------------------------------------------------ API models


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class FilterModel(BaseModel):
    doc_ids: list[str] | None = Field(default=None, description="only these briefs")
    date_from: str | None = Field(default=None, description="briefs dated on/after, YYYY-MM-DD")
    date_to: str | None = Field(default=None, description="briefs dated on/before, YYYY-MM-DD")


class AskRequest(BaseModel):
    question: str = Field(description="the question, up to max_question_chars characters")
    history: list[Message] = Field(default_factory=list, description="earlier turns, oldest first")
    filters: FilterModel | None = None


# Citations, passages and briefs are briefqa's own dataclasses: the API shows exactly
# what the engine returns, and a field added there appears here too.
class AnswerModel(BaseModel):
    """The same JSON as ``briefqa ask --json``."""

    answer: str = Field(description="the answer, with [n] citation markers; or the refusal")
    refused: bool = Field(description='true iff outcome is "refused"')
    outcome: Literal["answered", "low_confidence", "refused"] = Field(
        description="answered; low_confidence: answered, but check the sources (nearest "
        "lists the closest passages); refused: the briefs do not cover the question"
    )
    kind: str = Field(
        description="what answered: search (passages found for the question), brief (a "
        "brief's lead, conclusions, a section or its details) or archive (the list of briefs)"
    )
    citations: list[Citation]
    sources: list[Hit] = Field(description="the passages cited, and only those")
    unsupported: list[str] = Field(description="answer sentences no cited passage supports")
    standalone_question: str
    nearest: list[Hit] = Field(
        description="closest passages when refused or low_confidence, for the reader to check"
    )
    confidence: float = Field(description="probability that the passages answer the question")
    timings: dict[str, float] = Field(description="milliseconds per stage")

    @model_validator(mode="before")
    @classmethod
    def _before_outcomes(cls, data: Any) -> Any:
        # Answers saved before outcome and kind existed can still be sent to /feedback.
        if isinstance(data, dict) and "outcome" not in data:
            outcome = "refused" if data.get("refused") else "answered"
            data = {"kind": "search", **data, "outcome": outcome}
        return data


class UploadResult(BaseModel):
    filename: str
    ok: bool
    brief: BriefInfo | None = None
    error: str | None = None


class UploadResponse(BaseModel):
    results: list[UploadResult]


class FeedbackRequest(BaseModel):
    question: str
    answer: AnswerModel
    rating: Literal["like", "dislike"] | None
    comment: str = Field(default="", max_length=4000)


class ExportTurn(BaseModel):
    question: str = Field(default="", description="the question as asked")
    answer: AnswerModel = Field(description="the answer, as /api/v1/ask returned it")


class ExportRequest(BaseModel):
    """A conversation (``turns``) or one answer (``question`` and ``answer``)."""

    turns: list[ExportTurn] | None = Field(default=None, description="the turns, oldest first")
    question: str = Field(default="", description="with answer: the question of one answer")
    answer: AnswerModel | None = Field(default=None, description="one answer to export")
    title: str | None = Field(
        default=None, max_length=200, description="the document's title (default: briefqa …)"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.turns is None) == (self.answer is None):
            raise ValueError("send either turns: [{question, answer}, ...] or one answer")
        if self.turns is not None and not self.turns:
            raise ValueError("turns is empty: there is nothing to export")
        return self


class Health(BaseModel):
    status: Literal["ok", "unavailable"] = Field(
        description='"unavailable" (HTTP 503) when a check below is not "ok"'
    )
    version: str
    briefs: int
    chunks: int
    checks: dict[str, str] = Field(
        description='each part answers need ("manifest", "vector_store", "embedding_model", '
        '"reading_model"): "ok" or what is wrong with it'
    )


class FifoGate:
    """Lets at most ``width`` callers in at once, in order of arrival.

    Answering is CPU-bound and the machine has few cores: more answers at once only
    share them. Requests beyond ``width`` wait their turn, first come first served
    (``threading.Semaphore`` promises no order, and under load some requests starved
    for seconds while others passed).
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self._active = 0
        self._waiting: deque[object] = deque()
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
            while self._waiting[0] is not ticket or self._active >= self.width:
                self._changed.wait()
            self._waiting.popleft()
            self._active += 1
            self._changed.notify_all()  # the next in line may fit too

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._changed:
            self._active -= 1
            self._changed.notify_all()


# ------------------------------------------------------------------------ app


def create_app(qa: BriefQA | None = None, *, ui: bool = True, host: str = "127.0.0.1") -> FastAPI:
    """The FastAPI app: REST under ``/api/v1``, the chat at ``/`` (unless ``ui=False``).

    With ``auth_file`` set, every route requires a login: HTTP Basic on the REST API,
    HTTP Basic or ``Bearer user:password`` on the OpenAI-compatible API, Gradio's login
    page on the chat.
    """
    qa = qa if qa is not None else BriefQA()
    settings = qa.settings
    users = Users.from_file(settings.auth_file) if settings.auth_file else None
    max_bytes = int(settings.max_upload_mb * 1024 * 1024)

    mcp_app: Any = None
    if settings.mcp_http:
        from briefqa.mcp_server import http_app

        # With logins on, the login is the protection: the SDK's Host check (on for a
        # loopback address) would refuse requests a reverse proxy forwards.
        mcp_app = http_app(qa, path="/", host=host if users is None else "0.0.0.0")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Starlette runs no mounted app's lifespan: MCP's session manager starts here.
        if mcp_app is None:
            yield
            return
        async with mcp_app.router.lifespan_context(mcp_app):
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="briefqa",
        version=briefqa.__version__,
        description="Answers from policy briefs, every claim with a verified citation.",
        openapi_url=None,  # served below, behind the same login as the rest
        docs_url=None,
        redoc_url=None,
    )
    # HTTP Basic, so the schema documents it; the login itself is checked once, for every
    # surface, by the gate (briefqa.access) before any route runs.
    basic = HTTPBasic(auto_error=False, realm="briefqa")
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(basic)])
    answering = FifoGate(settings.server_concurrency)

    @app.exception_handler(BriefQAError)
    def _engine_error(request: Request, exc: BriefQAError) -> JSONResponse:
        status = _status(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @api.post("/ask", response_model=AnswerModel, summary="Answer a question from the briefs")
    def ask(request: AskRequest) -> dict[str, Any]:
        filters = None
        if request.filters is not None:
            f = request.filters
            filters = Filters(
                doc_ids=tuple(f.doc_ids) if f.doc_ids else None,
                date_from=f.date_from,
                date_to=f.date_to,
            )
        history = [{"role": m.role, "content": m.content} for m in request.history]
        with answering:
            return qa.ask(request.question, history=history, filters=filters).to_dict()

    @api.get("/documents", response_model=list[BriefInfo], summary="List the indexed briefs")
    def documents() -> list[dict[str, Any]]:
        return [b.to_dict() for b in qa.documents()]

    @api.post(
        "/documents",
        response_model=UploadResponse,
        status_code=201,
        summary="Upload briefs (PDF, DOCX, HTML, Markdown, text) and index them",
        responses={
            413: {"description": "a file is over max_upload_mb"},
            415: {"description": "a file type briefqa cannot read"},
            422: {"description": "a file could not be parsed"},
        },
    )
    def upload(
        files: Annotated[list[UploadFile], File(description="one or more brief files")],
    ) -> Any:
        results: list[dict[str, Any]] = []
        first_error: BriefQAError | None = None
        for upload in files:
            name = upload.filename or ""
            try:
                data = upload.file.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise FileTooLarge(
                        name,
                        f"the file is over the {settings.max_upload_mb:g} MB limit "
                        "(BRIEFQA_MAX_UPLOAD_MB)",
                    )
                info = qa.add(name, data)
                results.append({"filename": name, "ok": True, "brief": info.to_dict()})
            except BriefQAError as exc:
                first_error = first_error or exc
                reason = getattr(exc, "reason", str(exc))
                results.append({"filename": name, "ok": False, "error": reason})
        body = {"results": results}
        if first_error is None:
            return body
        # The whole batch was processed; the status says what went wrong first.
        status = next((c for kind, c in _STATUS if isinstance(first_error, kind)), 422)
        return JSONResponse({**body, "detail": str(first_error)}, status_code=status)

    @api.delete(
        "/documents/{doc_id}",
        status_code=204,
        summary="Remove a brief and its passages",
        responses={404: {"description": "no brief has this id"}},
    )
    def remove(doc_id: str) -> Response:
        qa.remove(doc_id)
        return Response(status_code=204)

    @api.get(
        "/documents/{doc_id}/summary",
        response_model=AnswerModel,
        summary="A brief's summary: its lead and the gist of its conclusions, cited",
        responses={404: {"description": "no brief has this id"}},
    )
    def summary(doc_id: str) -> dict[str, Any]:
        with answering:
            return qa.summary(doc_id).to_dict()

    @api.post("/feedback", status_code=201, summary="Record a like/dislike and comment")
    def feedback(request: FeedbackRequest) -> dict[str, Any]:
        answer = Answer.from_dict(request.answer.model_dump(), question=request.question)
        return qa.feedback(answer, request.rating, request.comment)

    @api.post(
        "/export",
        summary="A conversation or one answer as a Markdown file",
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}}}},
    )
    def export(request: ExportRequest) -> Response:
        turns = request.turns
        if turns is None:
            assert request.answer is not None  # checked by ExportRequest
            turns = [ExportTurn(question=request.question, answer=request.answer)]
        answers = []
        for n, turn in enumerate(turns):
            try:
                answers.append(Answer.from_dict(turn.answer.model_dump(), question=turn.question))
            except ValueError as exc:
                raise HTTPException(422, f"turns[{n}].answer: {exc}") from None
        name = "briefqa-answer.md" if len(answers) == 1 else "briefqa-conversation.md"
        return Response(
            export_markdown(answers, title=request.title),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.get(
        "/healthz",
        response_model=Health,
        summary="Health of each part, and the index size",
        responses={503: {"model": Health, "description": "a part is down"}},
    )
    def healthz() -> JSONResponse:
        checks = qa.health()
        healthy = all(v == "ok" for v in checks.values())
        docs = qa.documents() if checks["manifest"] == "ok" else []
        body = {
            "status": "ok" if healthy else "unavailable",
            "version": briefqa.__version__,
            "briefs": len(docs),
            "chunks": sum(d.chunks for d in docs),
            "checks": checks,
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    app.include_router(api)
    app.include_router(openai_router(qa, gate=answering, status_of=_status))

    @app.exception_handler(sqlite3.DatabaseError)
    @app.exception_handler(OSError)
    def _damaged(request: Request, exc: Exception) -> JSONResponse:
        # A damaged data file or a full disk: named, with its fix, for the operator
        # reading the log.
        known = briefqa.diagnose(qa.data_dir, exc) or StoreError(f"the data dir failed: {exc}")
        log.error("%s %s failed: %s", request.method, request.url.path, known)
        status = _status(known)
        if request.url.path.startswith("/v1/"):
            return OpenAIError(status, str(known), type="server_error").response()
        return JSONResponse({"detail": str(known)}, status_code=status)

    @app.exception_handler(OpenAIError)
    def _openai_error(request: Request, exc: OpenAIError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        # OpenAI clients read errors in OpenAI's shape, a wrong method (405) included.
        if request.url.path.startswith("/v1/"):
            error = OpenAIError(exc.status_code, str(exc.detail))
            return JSONResponse(error.body(), status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    if mcp_app is not None:
        app.mount("/mcp", mcp_app)

        @app.api_route("/mcp", methods=["GET", "POST", "DELETE"], include_in_schema=False)
        def _mcp_slash() -> Response:
            # The chat, mounted at /, would answer /mcp with a 404: point at /mcp/.
            return Response(status_code=307, headers={"Location": "/mcp/"})

    gradio_app: Any = None  # the mounted chat, whose login cookies are checked below

    # Logins and body limits, before any route reads a body (briefqa.access).
    app.add_middleware(
        Access,
        users=users,
        limits=Limits(
            upload=8 * max_bytes + 1024 * 1024,  # several files per request are fine
            request=int(settings.max_request_mb * 1024 * 1024),
        ),
        chat_user=lambda request: None if gradio_app is None else _chat_user(gradio_app, request),
        mcp=mcp_app is not None,
    )

    if ui:
        # Gradio keeps uploads in its own cache before the engine sees them: inside the
        # data dir, not in a shared /tmp where other users of the machine could read them.
        os.environ.setdefault("GRADIO_TEMP_DIR", str(qa.data_dir / "tmp" / "gradio"))
        gr = _import_gradio()

        from briefqa.ui import CSS, HEAD, build_ui

        blocks = build_ui(qa)
        blocks.queue(default_concurrency_limit=settings.server_concurrency, max_size=256)
        app = gr.mount_gradio_app(
            app,
            blocks,
            path="/",
            auth=users.check if users is not None else None,
            auth_message="Log in with your briefqa user name and password.",
            max_file_size=max_bytes,
            ssr_mode=False,
            show_error=True,
            footer_links=["api"],
            css=CSS,
            head=HEAD,
            mcp_server=False,  # briefqa's own MCP server is mcp_server.py; see _import_gradio
        )
        gradio_app = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "")
    return app


def _import_gradio() -> Any:
    """gradio, imported without the ``mcp`` SDK unless something already loaded it.

    gradio imports ``mcp`` whenever it is installed (briefqa[mcp] installs it), for an
    MCP server of its own that briefqa never starts: 24 MB and 0.4 s of every start.
    ``sys.modules["mcp"] = None`` makes that import fail as if ``mcp`` were absent, which
    gradio handles; briefqa's own MCP server (``mcp_server.py``) imports it when it runs.
    """
    if "gradio" in sys.modules or "mcp" in sys.modules:
        import gradio

        return gradio
    sys.modules["mcp"] = None  # type: ignore[assignment]
    try:
        import gradio
    finally:
        if sys.modules.get("mcp", ...) is None:
            del sys.modules["mcp"]
    return gradio


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    qa: BriefQA | None = None,
    *,
    log_level: str = "info",
) -> None:
    """Start the server; an empty index first gets the briefs in ``corpus_dir``."""
    import uvicorn

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    limit_malloc_arenas()
    qa = qa if qa is not None else BriefQA()
    _redact_logs(qa.settings)
    started = time.perf_counter()
    corpus = qa.settings.corpus_dir
    while not qa.documents() and corpus.is_dir():
        log.info("the index is empty: ingesting %s", corpus)
        try:
            report = qa.ingest([corpus], progress=_log_progress())
        except IndexLocked:
            # Workers sharing a data_dir start together: one indexes, the others wait.
            log.info("another worker is indexing %s; waiting for it", corpus)
            time.sleep(2)
            continue
        log.info(
            "ingested %d brief(s), %d chunks in %.1f s; %d failed",
            report.added,
            report.chunks,
            report.seconds,
            report.failed,
        )
        for error in report.errors:
            log.warning("not ingested: %s: %s", error.path, error.error)
        break
    qa.warm_up()
    app = create_app(qa, host=host)
    log.info(
        "briefqa ready in %.1f s: http://%s:%d/ (REST: /api/v1, schema: /api/v1/openapi.json)",
        time.perf_counter() - started,
        host,
        port,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())


class _Redact(logging.Filter):
    """Masks secrets in every record a handler writes: HTTP clients log the URLs they
    call, and an LLM server's URL may carry a password."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _redact_logs(settings: Any) -> None:
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    secret = _Redact([s for s in (key, os.environ.get("OPENAI_API_KEY")) if s])
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret)
    # One line per LLM call at INFO is noise beside uvicorn's access log.
    for name in ("httpx", "httpcore", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _log_progress() -> Any:
    shown = [-1]

    def report(done: int, total: int) -> None:
        tenth = 10 * done // total if total else 10
        if tenth != shown[0]:
            shown[0] = tenth
            log.info("embedding chunks: %d/%d", done, total)

    return report
