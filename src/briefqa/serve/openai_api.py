"""An OpenAI-compatible chat API under ``/v1``, so that chat front-ends and SDKs made for
OpenAI can talk to briefqa (docs/chat-frontends.md).

``POST /v1/chat/completions`` answers with the same engine as the chat: the last user
message is the question, earlier user and assistant messages are the history (a
follow-up is condensed as in the chat), system and developer messages are accepted and
ignored. ``GET /v1/models`` lists the one model, ``briefqa``. What OpenAI's format has
no room for (citations, outcome, sources) travels in an extra field ``briefqa``: the
same JSON as ``POST /api/v1/ask`` returns.

Errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so an
SDK raises its usual exceptions (401 ``AuthenticationError``, 400 ``BadRequestError``,
404 ``NotFoundError``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from briefqa import Answer, BriefQA, BriefQAError, Filters, InvalidQuestion

#: The one model this server offers.
MODEL = "briefqa"
#: The paths of this API, which check their own logins (the app's chat gate lets them by).
PATHS = re.compile(r"^/v1/(?:models(?:/[^/]+)?|chat/completions)$")

# "Tokens" for ``usage``: words and punctuation marks. briefqa has no tokenizer of its
# own (the default writer is extractive); for English this is close to a BPE count.
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Stream deltas end after a sentence's full stop, so that a front end shows whole words.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?=\s)")
_IGNORED_ROLES = ("system", "developer")
_FILTER_KEYS = ("doc_ids", "date_from", "date_to")


class OpenAIError(Exception):
    """An error sent in OpenAI's shape; the app's handler turns it into the response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or ("invalid_request_error" if status < 500 else "server_error")

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="briefqa"'} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


@dataclass(frozen=True)
class ChatRequest:
    """What a chat-completions body asks of the engine."""

    question: str
    history: list[dict[str, str]]
    filters: Filters | None
    stream: bool = False
    include_usage: bool = False


_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
#: The body :func:`parse_chat_request` reads, as JSON Schema: published in the OpenAPI
#: schema for clients (and for the API's fuzz tests, which send what it nearly allows).
CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "model": {"type": "string", "default": "briefqa"},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["system", "developer", "user", "assistant"]},
                    "content": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": _TEXT_PART},
                            {"type": "null"},
                        ]
                    },
                },
            },
        },
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "n": {"const": 1},
        "temperature": {"type": "number"},
        "max_tokens": {"type": "integer"},
        "briefqa": {
            "type": "object",
            "description": "briefqa's own options: filters on the briefs used",
            "properties": {
                "filters": {
                    "type": "object",
                    "properties": {
                        "doc_ids": {"type": "array", "items": {"type": "string"}},
                        "date_from": {"type": "string", "format": "date"},
                        "date_to": {"type": "string", "format": "date"},
                    },
                }
            },
        },
    },
}


def parse_chat_request(body: Any) -> ChatRequest:
    """Read a ``/v1/chat/completions`` body.

    Raises:
        OpenAIError: 400 naming what is wrong, or 404 for a model other than ``briefqa``.
    """
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object with a 'messages' list")
    model = body.get("model", MODEL)
    if model != MODEL:
        raise OpenAIError(
            404,
            f"The model {model!r} does not exist: this server has one model, {MODEL!r} "
            "(GET /v1/models)",
            param="model",
            code="model_not_found",
        )
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != 1):
        raise _bad(f"n must be 1, not {n!r}: briefqa gives one answer per question", "n")
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise _bad(f"stream must be true or false, not {stream!r}", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _bad("stream_options must be an object", "stream_options")

    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty list of {role, content} objects", "messages")
    turns: list[dict[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(f"{where} must be an object with a role and a content", where)
        role = message.get("role")
        if role in _IGNORED_ROLES:
            continue  # the answer comes from the briefs, not from instructions
        if role not in ("user", "assistant"):
            raise _bad(
                f"{where}.role is {role!r}; briefqa reads user and assistant messages "
                "(system and developer messages are accepted and ignored)",
                f"{where}.role",
            )
        turns.append({"role": role, "content": _text(message.get("content"), where)})
    if not any(t["role"] == "user" for t in turns):
        raise _bad("messages hold no user message: the last one must be the question", "messages")
    if messages[-1].get("role") != "user":
        raise _bad(
            "the last message must be the user's question; it is from "
            f"{messages[-1].get('role')!r}",
            f"messages[{len(messages) - 1}].role",
        )
    question = turns[-1]["content"]
    if not question.strip():
        raise _bad(
            "the question (the last user message) is empty", f"messages[{len(messages) - 1}]"
        )
    return ChatRequest(
        question=question,
        history=turns[:-1],
        filters=_filters(body.get("briefqa")),
        stream=stream,
        include_usage=bool(options.get("include_usage")),
    )


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or a list of text parts (joined by new lines)."""
    if content is None:
        return ""  # an assistant turn that only called tools
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _bad(f"{where}.content must be a string or a list of text parts", f"{where}.content")
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if kind != "text" or not isinstance(part.get("text"), str):
            raise _bad(
                f"{where}.content[{j}] is a {kind!r} part; briefqa reads text only "
                "(parts of type 'text')",
                f"{where}.content[{j}]",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _filters(extra: Any) -> Filters | None:
    if extra is None:
        return None
    if not isinstance(extra, dict) or set(extra) - {"filters"}:
        raise _bad("briefqa must be an object with one key, 'filters'", "briefqa")
    given = extra.get("filters")
    if given is None:
        return None
    if not isinstance(given, dict) or set(given) - set(_FILTER_KEYS):
        raise _bad(f"briefqa.filters may hold {', '.join(_FILTER_KEYS)}", "briefqa.filters")
    doc_ids = given.get("doc_ids")
    if doc_ids is not None and (
        not isinstance(doc_ids, list) or not all(isinstance(d, str) for d in doc_ids)
    ):
        raise _bad("briefqa.filters.doc_ids must be a list of brief ids", "briefqa.filters")
    for key in ("date_from", "date_to"):
        if given.get(key) is not None and not isinstance(given[key], str):
            raise _bad(f"briefqa.filters.{key} must be a date like 2023-08-24", "briefqa.filters")
    try:
        return Filters(
            doc_ids=tuple(doc_ids) if doc_ids else None,
            date_from=given.get("date_from"),
            date_to=given.get("date_to"),
        )
    except InvalidQuestion as exc:
        raise _bad(f"briefqa.filters: {exc}", "briefqa.filters") from None


def _bad(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param)


# --------------------------------------------------------------------- responses


def usage(request: ChatRequest, answer: Answer) -> dict[str, int]:
    """Approximate token counts: words and punctuation marks of what the engine read
    (the question and the history) and of the answer."""
    prompt = sum(len(_TOKEN.findall(t["content"])) for t in request.history)
    prompt += len(_TOKEN.findall(request.question))
    completion = len(_TOKEN.findall(answer.shown))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion(request: ChatRequest, answer: Answer, *, id: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object; ``briefqa`` holds the answer as /api/v1/ask gives it."""
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.shown, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(request, answer),
        "briefqa": answer.to_dict(),
    }


def _chunk(id: str, created: int, delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    finish = extra.pop("finish_reason", None)
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


def _sse(data: dict[str, Any] | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n"


def text_deltas(text: str) -> list[str]:
    """``text`` cut after each sentence; the pieces join back to ``text`` exactly."""
    return [piece for piece in _SENTENCE_END.split(text) if piece]


def openai_router(
    qa: BriefQA,
    *,
    gate: AbstractContextManager[Any],
    status_of: Callable[[BriefQAError], int],
) -> APIRouter:
    """The ``/v1`` routes over ``qa``.

    ``gate`` is the server's limit on answers computed at once (shared with the REST
    API; the chat has its own queue); ``status_of`` the HTTP status of an engine error,
    as the REST API maps it. The app must turn :class:`OpenAIError` into its response
    (``app.add_exception_handler``) and check logins (:mod:`briefqa.serve.access`).
    """
    started = int(time.time())

    # Logins are the server's gate's (briefqa.serve.access), checked before any route runs.
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

    def model_card() -> dict[str, Any]:
        return {"id": MODEL, "object": "model", "created": started, "owned_by": "briefqa"}

    @router.get("/models", summary="The models: one, briefqa")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @router.get("/models/{model}", summary="One model")
    def model(model: str) -> dict[str, Any]:
        if model != MODEL:
            raise OpenAIError(
                404, f"The model {model!r} does not exist", param="model", code="model_not_found"
            )
        return model_card()

    def engine_error(exc: BriefQAError) -> OpenAIError:
        # Every other bad input is a 400 here, as OpenAI's clients expect; the REST API
        # keeps its 422 for a bad question.
        status = 400 if isinstance(exc, InvalidQuestion) else status_of(exc)
        return OpenAIError(status, str(exc), code=type(exc).__name__)

    def ask(chat: ChatRequest) -> Answer:
        with gate:
            return qa.ask(chat.question, history=chat.history, filters=chat.filters)

    async def events(chat: ChatRequest, answer: Answer) -> AsyncIterator[str]:
        id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        yield _sse(_chunk(id, created, {"role": "assistant", "content": ""}))
        # The text is the verified answer's: its [n] markers are the citations' numbers
        # (the writer's draft numbers passages differently), so deltas come after checking.
        for text in text_deltas(answer.shown):
            yield _sse(_chunk(id, created, {"content": text}))
        yield _sse(_chunk(id, created, {}, finish_reason="stop", briefqa=answer.to_dict()))
        if chat.include_usage:
            last = _chunk(id, created, {}, usage=usage(chat, answer))
            yield _sse({**last, "choices": []})
        yield _sse("[DONE]")

    @router.post(
        "/chat/completions",
        summary="Answer the last user message from the briefs (OpenAI chat completions)",
        description="See docs/chat-frontends.md for the body, the `briefqa` extra field "
        "of the response and the limits (one model, n=1, system messages ignored).",
        # The body is read by hand (OpenAI's error shape, streaming): its schema is
        # declared here so that clients and the API's fuzz tests see it.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CHAT_REQUEST_SCHEMA}},
            }
        },
    )
    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            raise _bad("the body is not JSON: send a chat-completions request") from None
        except RecursionError:
            raise _bad("the JSON body nests too deep: send a chat-completions request") from None
        chat = parse_chat_request(body)
        # The whole answer is computed in one worker thread, streamed or not: a stream's
        # text is the verified answer's anyway, and a request waiting for its turn must
        # not need a second thread to finish (under load the pool ran dry: a deadlock).
        try:
            answer = await run_in_threadpool(ask, chat)
        except BriefQAError as exc:
            raise engine_error(exc) from None
        if not chat.stream:
            return completion(
                chat, answer, id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time())
            )
        return StreamingResponse(
            events(chat, answer),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
