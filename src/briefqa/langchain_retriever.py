"""briefqa inside LangChain: a retriever and a runnable over one :class:`BriefQA`.

:class:`BriefRetriever` (what :meth:`BriefQA.as_retriever` returns) finds passages with
briefqa's hybrid retrieval and hands them to a chain as ``Document`` objects whose
metadata locate each passage in its brief. By default it also applies briefqa's refusal
gate: when the passages do not answer the question (the same decision
:meth:`BriefQA.ask` takes before refusing), it returns no documents, so a chain can say
"not covered" instead of answering from unrelated text::

    retriever = qa.as_retriever(k=5)
    docs = retriever.invoke("Which country opposed a NATO liaison office in Tokyo?")
    docs[0].metadata["doc_id"], docs[0].metadata["start"], docs[0].metadata["score"]

:func:`answer_runnable` (what :meth:`BriefQA.as_runnable` returns) wraps the whole
engine: a question in, briefqa's verified :class:`~briefqa.schema.Answer` out.

LangChain types stay in this module; the engine itself only ever sees briefqa's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict, Field

from .errors import InvalidQuestion
from .schema import Answer, BriefInfo, Filters, Hit, section_label

if TYPE_CHECKING:  # the engine imports this module (as_retriever): no import back
    from .engine import BriefQA

    _Engine = BriefQA
else:
    _Engine = Any  # pydantic takes the engine as it is given


class BriefRetriever(BaseRetriever):
    """A LangChain retriever over the briefs indexed by one :class:`BriefQA`.

    Each ``Document`` holds a passage's text; its metadata are ``doc_id``,
    ``chunk_id``, ``title``, ``section`` ("lead" before the first heading, as the chat
    shows it), ``page`` (PDF), ``start`` and ``end``
    (character offsets into the brief's normalised text), the brief's ``date``
    and ``authors``, the retrieval ``score``, and the gate's ``outcome``
    (``"answered"`` or ``"low_confidence"``) for the question.

    With ``refuse`` (the default), a question the gate would refuse gets no documents:
    an empty list is the chain's signal to say the briefs do not cover it. With
    ``refuse=False`` the nearest passages come back anyway, marked ``"refused"``.

    The retriever searches for the question as given: it does not rewrite follow-ups
    from a history, nor answer whole-brief or archive questions ("what is this brief
    about?") from the brief's structure as :meth:`BriefQA.ask` does.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    qa: _Engine = Field(description="The engine whose index is searched.")
    k: int = Field(default=5, ge=1, le=50, description="Passages returned per question.")
    filters: Filters | None = Field(
        default=None, description="Restrict retrieval to some briefs or a date range."
    )
    refuse: bool = Field(
        default=True, description="Return nothing when briefqa's refusal gate would refuse."
    )
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid", description="Retrieval mode: dense and BM25 fused, or one alone."
    )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        qa = self.qa
        question = (query or "").strip()
        if not question:
            raise InvalidQuestion("the question is empty: type a question about the briefs")
        # The gate was calibrated on the answerer's own top_k passages; judge those,
        # then hand the chain as many as it asked for.
        top_k = qa.settings.top_k
        hits = qa.retrieve(question, k=self.k, filters=self.filters, mode=self.mode)
        judged = hits[:top_k]
        if self.k != top_k:  # a larger candidate pool may rank the first few otherwise
            judged = qa.retrieve(question, k=top_k, filters=self.filters, mode=self.mode)
        outcome = qa.answerer.refusal.outcome(qa.evidence(question, judged))
        if outcome == "refused" and self.refuse:
            return []
        briefs: dict[str, BriefInfo | None] = {}
        documents = []
        for hit in hits[: self.k]:
            if hit.doc_id not in briefs:
                briefs[hit.doc_id] = qa.index.manifest.brief(hit.doc_id)
            documents.append(to_document(hit, briefs[hit.doc_id], outcome))
        return documents


def to_document(hit: Hit, info: BriefInfo | None, outcome: str) -> Document:
    """A retrieved passage as a LangChain ``Document`` (see :class:`BriefRetriever`)."""
    return Document(
        page_content=hit.text,
        id=hit.chunk_id,
        metadata={
            "doc_id": hit.doc_id,
            "chunk_id": hit.chunk_id,
            "title": hit.title,
            "section": section_label(hit.section),
            "page": hit.page,
            "start": hit.start,
            "end": hit.end,
            "date": info.date if info else None,
            "authors": list(info.authors) if info else [],
            "score": hit.score,
            "outcome": outcome,
        },
    )


def answer_runnable(qa: BriefQA, filters: Filters | None = None) -> Runnable[Any, Answer]:
    """A runnable from a question (a string, or ``{"question", "history"}``) to
    briefqa's verified :class:`~briefqa.schema.Answer`, for use inside a larger chain.

    Raises (on invoke):
        InvalidQuestion: the question is empty, too long, or the input has no question.
    """

    def ask(value: Any) -> Answer:
        if isinstance(value, str):
            return qa.ask(value, filters=filters)
        if isinstance(value, Mapping) and isinstance(value.get("question"), str):
            return qa.ask(value["question"], history=value.get("history"), filters=filters)
        raise InvalidQuestion(
            "the input must be a question or a mapping with a 'question' string, "
            f"not {type(value).__name__}"
        )

    return RunnableLambda(ask, name="briefqa_answer")
