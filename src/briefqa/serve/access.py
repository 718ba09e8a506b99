"""What every request to ``briefqa serve`` passes before its body is read: the login, and
the size of the body it may send.

One ASGI layer in front of the whole app (REST, OpenAI-compatible API, MCP and the chat)
so that no route parses, buffers or spools a body for a caller who is not logged in — a
FastAPI route reads and decodes its body before its own dependencies run, and Starlette
spools a multipart upload to disk while parsing it. The body is then counted while it is
read: a request that declares more than its route may send is refused at once (413), and
one that streams more (chunked, or longer than it declared) is cut off there.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from briefqa.schema import ANONYMOUS
from briefqa.serve.auth import Users, credentials
from briefqa.serve.openai_api import PATHS as OPENAI_PATHS
from briefqa.serve.openai_api import OpenAIError

# What a browser needs before logging in to the chat: the login page, the login and
# logout actions, and static files (scripts, styles, icons) that hold no briefs.
PUBLIC = re.compile(
    r"^/(?:|login/?|logout|favicon\.ico|robots\.txt|manifest\.json|(?:gradio_api/)?theme\.css"
    r"|(?:assets|static|svelte)/.+|pwa_icon(?:/\d+)?)$"
)

# The routes that take files: the REST upload and the chat's (Gradio's) upload.
_UPLOADS = re.compile(r"^/(?:api/v1/documents|(?:gradio_api/)?upload)/?$")


class BodyTooLarge(HTTPException):
    """A request body over its route's limit, found while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over this route's limit ({_size(limit)})")


@dataclass(frozen=True)
class Limits:
    """How many bytes a request body may hold: a file upload, anything else."""

    upload: int
    request: int

    def of(self, path: str) -> int:
        return self.upload if _UPLOADS.match(path) else self.request


class Access:
    """The ASGI middleware: logins (when ``users`` is set) and body limits.

    ``chat_user`` names the user a request's chat session cookie belongs to (Gradio's
    login), or None; ``mcp`` says whether ``/mcp`` is served. This is the one login
    check of every surface: the routes check none of their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        users: Users | None,
        limits: Limits,
        chat_user: Callable[[Request], str | None],
        mcp: bool,
    ) -> None:
        self.app = app
        self.users = users
        self.limits = limits
        self.chat_user = chat_user
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.users is not None and not PUBLIC.match(path):
            refusal = await self._login(scope, path)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        limit = self.limits.of(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(path, limit)(scope, receive, send)
            return
        started = False

        async def counted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _counted(receive, limit), counted_send)
        except BodyTooLarge:
            # Raised inside a route that had no handler for it (a mounted app).
            if started:
                raise
            await _too_large(path, limit)(scope, receive, send)

    async def _login(self, scope: Scope, path: str) -> JSONResponse | None:
        """None if the caller is logged in, else the 401 to send."""
        assert self.users is not None
        request = Request(scope)
        rest = path.startswith("/api/v1/")
        api = rest or bool(OPENAI_PATHS.match(path)) or (self.mcp and _is_mcp(path))
        if api:
            user, password = credentials(request.headers.get("authorization") or "")
            # scrypt takes ~50 ms: off the event loop.
            if user is not None and await to_thread.run_sync(self.users.check, user, password):
                _logged_in(scope, user)
                return None
        else:
            chat_user = self.chat_user(request)
            if chat_user is not None:
                _logged_in(scope, chat_user)
                return None
        if OPENAI_PATHS.match(path):
            error = OpenAIError(
                401,
                "this briefqa server requires a login: send api_key 'user:password' "
                "(Authorization: Bearer user:password) or HTTP Basic",
                code="invalid_api_key",
            )
            return error.response()
        if api:
            return JSONResponse(
                {
                    "detail": "this briefqa server requires a login: HTTP Basic user and "
                    "password (or Authorization: Bearer user:password)"
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="briefqa"'},
            )
        return JSONResponse({"detail": "not logged in: log in at / first"}, status_code=401)


def _logged_in(scope: Scope, user: str) -> None:
    # Routes read it as ``request.state.user`` (whose conversations to show).
    scope.setdefault("state", {})["user"] = user


def user_of(request: Request) -> str:
    """The user the gate let in (:data:`briefqa.ANONYMOUS` on a server without logins)."""
    return getattr(request.state, "user", None) or ANONYMOUS


def _is_mcp(path: str) -> bool:
    return path == "/mcp" or path.startswith("/mcp/")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _counted(receive: Receive, limit: int) -> Callable[[], Awaitable[Message]]:
    read = 0

    async def counted() -> Message:
        nonlocal read
        message = await receive()
        if message["type"] == "http.request":
            read += len(message.get("body", b""))
            if read > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


def _too_large(path: str, limit: int) -> JSONResponse:
    message = BodyTooLarge(limit).detail
    if path.startswith("/v1/"):
        return OpenAIError(413, message, code="request_too_large").response()
    return JSONResponse({"detail": message}, status_code=413)


def _size(limit: int) -> str:
    return f"{limit / 1048576:g} MB" if limit >= 1048576 else f"{limit // 1024} kB"
