"""``briefqa serve``: one FastAPI app with the REST API under ``/api/v1``
(:mod:`briefqa.serve.rest_api`), an OpenAI-compatible chat API under ``/v1``
(:mod:`briefqa.serve.openai_api`), MCP at ``/mcp`` when asked for and the Gradio chat at ``/``
(:mod:`briefqa.serve.ui`), all over one shared :class:`briefqa.BriefQA`, behind one gate for
logins and body limits (:mod:`briefqa.serve.access`). This module assembles them and maps
failures to responses.
"""

import html
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
from typing import Any
from urllib.parse import urlsplit

# Gradio must not phone home (no network here, and staff questions stay private).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Gradio's queue rebuilds a summary of up to 10,000 past events after every event (7-21 ms
# of CPU each under load, benchmarks/results/load.md); now and then is enough.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

import briefqa
from briefqa import BriefQA, BriefQAError, IndexLocked, NotFound, StoreError
from briefqa.errors import redact
from briefqa.memory import limit_malloc_arenas
from briefqa.serve.access import Access, Limits, user_of
from briefqa.serve.auth import Users
from briefqa.serve.openai_api import OpenAIError, openai_router
from briefqa.serve.rest_api import rest_router, status_of

log = logging.getLogger("briefqa.server")


def _chat_user(gradio_app: Any, request: Request) -> str | None:
    """The user logged in to the chat by the session cookie Gradio's /login sets."""
    cookie_id = gradio_app.cookie_id
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    user = gradio_app.tokens.get(token) if token else None
    return None if user is None else str(user)


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
    max_bytes = settings.max_upload_bytes

    mcp_app: Any = None
    if settings.mcp_http:
        from briefqa.serve.mcp_server import http_app

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
    answering = FifoGate(settings.server_concurrency)

    app.include_router(rest_router(qa, gate=answering, schema=lambda: app.openapi()))
    app.include_router(openai_router(qa, gate=answering, status_of=status_of))

    _error_handlers(app, qa)

    if mcp_app is not None:
        app.mount("/mcp", mcp_app)

        @app.api_route("/mcp", methods=["GET", "POST", "DELETE"], include_in_schema=False)
        def _mcp_slash() -> Response:
            # The chat, mounted at /, would answer /mcp with a 404: point at /mcp/.
            return Response(status_code=307, headers={"Location": "/mcp/"})

    gradio_app: Any = None  # the mounted chat, whose login cookies are checked below

    # Logins and body limits, before any route reads a body (briefqa.serve.access).
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

        from briefqa.serve.markup import CSS
        from briefqa.serve.ui import HEAD, WORDING, build_ui

        _shared_route(app, qa)
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
            i18n=gr.I18n(**WORDING),
        )
        gradio_app = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "")
    return app


def _shared_route(app: FastAPI, qa: BriefQA) -> None:
    """``/shared/{id}``: a conversation its owner shared, read-only, for users logged in
    to the chat (the gate lets no one else reach it)."""
    from briefqa.serve.markup import brief_index, shared_page

    @app.get("/shared/{conversation_id}", include_in_schema=False)
    def shared(conversation_id: str, request: Request) -> HTMLResponse:
        try:
            found = qa.conversations.get(user_of(request), conversation_id)
        except NotFound as exc:
            return HTMLResponse(
                f"<!doctype html><title>Not found — briefqa</title><p>{html.escape(str(exc))}. "
                'Its owner may have deleted it or stopped sharing it. <a href="../">Open the '
                "chat</a></p>",
                status_code=404,
            )
        answers = [t.answer for t in found.turns]
        return HTMLResponse(shared_page(found, brief_index(qa, answers)))


def _error_handlers(app: FastAPI, qa: BriefQA) -> None:
    """Every failure answered in the shape its caller reads: ``{"detail"}`` on the REST
    API, OpenAI's error object under ``/v1/``; server-side failures logged."""

    @app.exception_handler(BriefQAError)
    def _engine_error(request: Request, exc: BriefQAError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(sqlite3.DatabaseError)
    @app.exception_handler(OSError)
    def _damaged(request: Request, exc: Exception) -> JSONResponse:
        # A damaged data file or a full disk: named, with its fix, for the operator
        # reading the log.
        known = briefqa.diagnose(qa.data_dir, exc) or StoreError(f"the data dir failed: {exc}")
        log.error("%s %s failed: %s", request.method, request.url.path, known)
        status = status_of(known)
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
    # The database's password can reach a log through psycopg's own messages.
    database = urlsplit(settings.database_url).password if settings.database_url else None
    found = (key, os.environ.get("OPENAI_API_KEY"), database)
    secret = _Redact([s for s in found if s])
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
