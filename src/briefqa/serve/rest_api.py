"""The REST API under ``/api/v1``: its request and response models and its routes, over
one :class:`briefqa.BriefQA` (used through the front door, as any client would).

Handlers are plain ``def`` functions: FastAPI runs them in its thread pool, so CPU-bound
answering never blocks the event loop. Errors from the engine's error tree map to HTTP
statuses (:data:`STATUS`) with the engine's own message as ``detail``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic
from pydantic import BaseModel, Field, model_validator

import briefqa
from briefqa import (
    Answer,
    BriefInfo,
    BriefQA,
    BriefQAError,
    Citation,
    ConversationNotFound,
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
from briefqa.errors import EmbeddingError, FileTooLarge, ModelError
from briefqa.serve.access import user_of

log = logging.getLogger("briefqa.server")

#: The HTTP status of each kind of engine error, the first that matches.
STATUS: list[tuple[type[BriefQAError], int]] = [
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


def status_of(exc: BriefQAError) -> int:
    """The HTTP status of an engine error (500 for one the table does not list)."""
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


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
    conversation_id: str | None = Field(
        default=None,
        description="keep the question and its answer in one of your conversations: its id, "
        'or "new" to start one (the answer then says which); by default nothing is kept',
    )


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
    conversation_id: str | None = Field(
        default=None, description="the conversation the answer was kept in, if asked to be"
    )

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


class TurnModel(AnswerModel):
    number: int = Field(description="0-based, in the order asked")
    question: str
    asked_at: str = Field(description="ISO 8601, UTC")
    rating: Literal["like", "dislike"] | None


class ConversationModel(BaseModel):
    id: str
    title: str
    created: str = Field(description="ISO 8601, UTC")
    updated: str = Field(description="when the last turn was added")
    shared: bool = Field(description="other logged-in users may open it read-only")
    turns_count: int
    turns: list[TurnModel] | None = Field(
        default=None, description="the questions and answers, oldest first (not in listings)"
    )


class ConversationChange(BaseModel):
    title: str | None = Field(default=None, description="a new title")
    shared: bool | None = Field(default=None, description="share it read-only, or stop")


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


# ---------------------------------------------------------------------- routes


def rest_router(
    qa: BriefQA,
    *,
    gate: AbstractContextManager[Any],
    schema: Callable[[], dict[str, Any]],
) -> APIRouter:
    """The ``/api/v1`` routes over ``qa``.

    ``gate`` is the server's limit on answers computed at once (shared with the
    OpenAI-compatible API); ``schema`` gives the app's OpenAPI document, served at
    ``/api/v1/openapi.json`` behind the same logins. The app maps :class:`BriefQAError`
    to :func:`status_of` and checks logins (:mod:`briefqa.serve.access`).
    """
    # HTTP Basic, so the schema documents it; the login itself is checked once, for every
    # surface, by the gate (briefqa.serve.access) before any route runs.
    basic = HTTPBasic(auto_error=False, realm="briefqa")
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(basic)])
    _answer_routes(api, qa, gate)
    _brief_routes(api, qa)
    _conversation_routes(api, qa)
    _service_routes(api, qa, schema)
    return api


def _answer_routes(api: APIRouter, qa: BriefQA, answering: AbstractContextManager[Any]) -> None:
    """Questions, summaries, feedback and exports."""

    @api.post("/ask", response_model=AnswerModel, summary="Answer a question from the briefs")
    def ask(request: AskRequest, http: Request) -> dict[str, Any]:
        filters = None
        if request.filters is not None:
            f = request.filters
            filters = Filters(
                doc_ids=tuple(f.doc_ids) if f.doc_ids else None,
                date_from=f.date_from,
                date_to=f.date_to,
            )
        history = [{"role": m.role, "content": m.content} for m in request.history]
        kept, user = request.conversation_id, user_of(http)
        if kept not in (None, "new") and qa.conversations.get(user, kept).user != user:
            # Shared with the caller: readable, not theirs to continue. Checked before
            # answering, so that a wrong id costs no answer.
            raise ConversationNotFound(kept)
        with answering:
            answer = qa.ask(request.question, history=history, filters=filters)
        if kept is None:
            return answer.to_dict()
        try:
            if kept == "new":
                kept = qa.conversations.start(user, answer).id
            else:
                qa.conversations.add(user, kept, answer)
        except BriefQAError as exc:
            # The answer is computed: the caller gets it, told by a null id that it was
            # not kept; the operator reads why in the log.
            log.error("an answer of %s could not be kept in conversation %s: %s", user, kept, exc)
            kept = None
        return {**answer.to_dict(), "conversation_id": kept}

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


def _brief_routes(api: APIRouter, qa: BriefQA) -> None:
    """Listing, uploading and removing briefs."""
    # One byte past the limit is enough for qa.add to refuse the file as too large.
    readable = qa.settings.max_upload_bytes + 1

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
                info = qa.add(name, upload.file.read(readable))
                log.info("added through the API: %s as %s (%d chunks)", name, info.doc_id,
                         info.chunks)  # fmt: skip
                results.append({"filename": name, "ok": True, "brief": info.to_dict()})
            except BriefQAError as exc:
                first_error = first_error or exc
                reason = getattr(exc, "reason", str(exc))
                results.append({"filename": name, "ok": False, "error": reason})
        body = {"results": results}
        if first_error is None:
            return body
        # The whole batch was processed; the status says what went wrong first.
        return JSONResponse(
            {**body, "detail": str(first_error)}, status_code=status_of(first_error)
        )

    @api.delete(
        "/documents/{doc_id}",
        status_code=204,
        summary="Remove a brief and its passages",
        responses={404: {"description": "no brief has this id"}},
    )
    def remove(doc_id: str) -> Response:
        qa.remove(doc_id)
        return Response(status_code=204)


def _conversation_routes(api: APIRouter, qa: BriefQA) -> None:
    """The caller's kept conversations (the chat's, and those asked with a
    ``conversation_id``): each user sees their own, and opens those shared with them."""
    missing: dict[int | str, dict[str, Any]] = {
        404: {"description": "no conversation of yours (or shared with you) has this id"}
    }

    @api.get(
        "/conversations",
        response_model=list[ConversationModel],
        response_model_exclude_none=True,
        summary="Your conversations, the most recently continued first",
    )
    def conversations(request: Request) -> list[dict[str, Any]]:
        return [c.to_dict(turns=False) for c in qa.conversations.list(user_of(request))]

    @api.get(
        "/conversations/{conversation_id}",
        response_model=ConversationModel,
        summary="One conversation with its turns; ?format=markdown for the export",
        responses={**missing, 200: {"content": {"text/markdown": {}}}},
    )
    def conversation(
        conversation_id: str, request: Request, format: Literal["json", "markdown"] = "json"
    ) -> Any:
        found = qa.conversations.get(user_of(request), conversation_id)
        if format == "json":
            return found.to_dict()
        return Response(
            export_markdown([t.answer for t in found.turns], title=found.title),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="briefqa-conversation.md"'},
        )

    @api.patch(
        "/conversations/{conversation_id}",
        response_model=ConversationModel,
        summary="Rename a conversation of yours, or share it read-only",
        responses=missing,
    )
    def change(
        conversation_id: str, change: ConversationChange, request: Request
    ) -> dict[str, Any]:
        store, who = qa.conversations, user_of(request)
        if change.title is None and change.shared is None:
            raise InvalidQuestion("nothing to change: send a title, shared, or both")
        if change.title is not None:
            store.rename(who, conversation_id, change.title)
        if change.shared is not None:
            store.share(who, conversation_id, change.shared)
        return store.get(who, conversation_id).to_dict()

    @api.delete(
        "/conversations/{conversation_id}",
        status_code=204,
        summary="Delete a conversation of yours",
        responses=missing,
    )
    def delete(conversation_id: str, request: Request) -> Response:
        qa.conversations.delete(user_of(request), conversation_id)
        return Response(status_code=204)


def _service_routes(api: APIRouter, qa: BriefQA, schema: Callable[[], dict[str, Any]]) -> None:
    """Health and the OpenAPI document."""

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
        return schema()
