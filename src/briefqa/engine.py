"""The engine behind every front end: :class:`BriefQA`, a facade over the briefs of one
data directory (:class:`~briefqa.library.Library`: ingestion, checks, removal) and the
answer path (:mod:`briefqa.answer.chain`), whose parts :mod:`briefqa.assembly` builds."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .answer.chain import Answerer, History, check_text
from .answer.refusal import Evidence
from .answer.retrieval import Retriever
from .conversations import ConversationStore, SQLiteConversations
from .errors import ConfigError
from .feedback import ANSWER_SETTINGS, FeedbackFile, FeedbackLog, drafts
from .index.embeddings import Embedder, Vectors
from .jsonlines import plain
from .library import Library
from .schema import Answer, Filters, Hit, Reading

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from .langchain_retriever import BriefRetriever


class BriefQA(Library):
    """Q&A over a collection of policy briefs.

    Args:
        data_dir: where the index and manifest live; overrides ``settings.data_dir``.
        settings: configuration; read from the environment and ``briefqa.toml`` if omitted.
        embedder: an embedding model to use instead of the configured one (tests, reuse).
        store: a vector store to use instead of the configured Chroma.
        writer: a :class:`~briefqa.answer.writing.Writer` instead of the one ``settings.llm``
            names, e.g. ``ChatWriter(settings, model)`` over your LangChain chat model.
        reader: a :class:`~briefqa.answer.reader.Reader` instead of the one ``settings.reader``
            names (the packaged reading model by default).

    Heavy parts (the embedding model, the Chroma client) load on first use, so listing
    documents is instant. Adding, removing, listing and checking briefs come from
    :class:`~briefqa.library.Library`; the questions are here.
    """

    @functools.cached_property
    def _feedback(self) -> FeedbackLog:
        if self.settings.database_url:
            from .postgres import PostgresFeedback

            return FeedbackLog(PostgresFeedback(self.settings.database_url))
        return FeedbackLog(FeedbackFile(self.data_dir / "feedback.jsonl"))

    @functools.cached_property
    def conversations(self) -> ConversationStore:
        """The users' kept conversations, in PostgreSQL when ``database_url`` is set
        (:mod:`briefqa.postgres`), else in ``data_dir/conversations.sqlite3``: every call
        names the user it acts for, and a user sees only their own and those shared with
        them (:mod:`briefqa.conversations`)."""
        if self.settings.database_url:
            from .postgres import PostgresConversations

            return PostgresConversations(self.settings.database_url)
        return SQLiteConversations(self.data_dir / "conversations.sqlite3")

    def upgrade_database(self) -> dict[str, int]:
        """Copy the state this data dir keeps into the PostgreSQL database of
        ``database_url``: the index's manifest, sentence vectors and uploads (its Chroma
        collection stays where it is), staff's conversations (ids, users, times and
        ratings kept) and feedback. What is there already is left as it is, so it is
        safe to run again. Returns how many of each were copied (and conversations that
        were there already).

        Raises:
            ConfigError: ``database_url`` is not set, or the database holds another index.
            StoreError: the database cannot be reached.
        """
        if not self.settings.database_url:
            raise ConfigError(
                "set BRIEFQA_DATABASE_URL to the PostgreSQL database to copy the data dir into"
            )
        counts = self.index.copy_into_database()
        counts |= {"copied": 0, "already_there": 0, "feedback_copied": 0}
        path = self.data_dir / "conversations.sqlite3"
        if path.exists():
            source = SQLiteConversations(path)
            try:
                for conversation in source.every():
                    stored = self.conversations.restore(conversation)
                    counts["copied" if stored else "already_there"] += 1
            finally:
                source.close()
        from .postgres import PostgresFeedback

        store = self._feedback.store
        assert isinstance(store, PostgresFeedback), "database_url is set"
        counts["feedback_copied"] = store.copy(
            FeedbackFile(self.data_dir / "feedback.jsonl").events()
        )
        return counts

    @property
    def embedder(self) -> Embedder:
        return self.parts.embedder

    @property
    def retriever(self) -> Retriever:
        """The one retriever of this engine (dense, BM25, reranking), shared by answers,
        searches and the refresh that ends every write."""
        return self.parts.retriever

    @property
    def answerer(self) -> Answerer:
        return self.parts.answerer

    # -------------------------------------------------------------- questions

    def ask(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer a question from the briefs, with verified citations.

        ``history`` holds earlier turns, as (question, answer) pairs or
        ``{"role", "content"}`` messages; a follow-up is rewritten into a standalone
        question first. When the briefs do not cover the question, the answer says so,
        ``refused`` is true and ``nearest`` lists the closest passages.

        Raises:
            InvalidQuestion: the question is empty or too long.
        """
        return self.answerer.ask(question, history, filters)

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, yielding text pieces as they come and the final Answer last."""
        return self.answerer.stream(question, history, filters)

    def summary(self, doc_id: str) -> Answer:
        """A brief's summary: its lead (abstract) paragraph and the first sentence of
        each paragraph of its conclusions, every sentence cited.

        Raises:
            NotFound: no brief has this id.
        """
        return self.answerer.summary(self.brief(doc_id))

    def retrieve(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        *,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    ) -> list[Hit]:
        """The ``k`` passages most relevant to ``question``: dense and BM25 fused by rank
        and reordered by the reading model (``settings.reader``), or dense or BM25 alone
        (``mode``, for comparisons).

        Raises:
            InvalidQuestion: the question is empty, too long or not valid Unicode.
        """
        question = check_text(question, self.settings.max_question_chars)
        if mode == "hybrid":
            return self.answerer.search(question, k, filters)
        return self.retriever.retrieve(
            question, k=k, filters=filters, mmr=self.settings.mmr, mode=mode
        )

    def read(
        self, question: str, hits: Sequence[Hit] | None = None, filters: Filters | None = None
    ) -> list[Reading]:
        """The sentences the reading model reads for ``question`` in ``hits`` (by default
        the passages :meth:`retrieve` finds), each with its probability of answering,
        the likeliest first; empty with ``reader=off``."""
        question = check_text(question, self.settings.max_question_chars)
        answerer = self.answerer
        if hits is None:
            readings = answerer.readings(question, filters)[1]
        else:
            readings = answerer.read(question, self.embedder.embed([question])[0], hits)
        return readings.readings() if readings is not None else []

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors of ``texts`` from the index's embedding model, one row each."""
        return self.embedder.embed(texts)

    def evidence(self, question: str, hits: Sequence[Hit] | None = None) -> Evidence:
        """The refusal gate's signals for ``question`` over ``hits`` (by default the
        passages :meth:`retrieve` finds), as :meth:`ask` computes them."""
        question = check_text(question, self.settings.max_question_chars)
        return self.answerer.evidence(question, hits)

    def as_retriever(
        self, k: int = 5, filters: Filters | None = None, *, refuse: bool = True
    ) -> BriefRetriever:
        """A LangChain retriever of the ``k`` best passages, as ``Document`` objects with
        briefqa's chunk metadata; with ``refuse``, nothing for a question the refusal gate
        would refuse (see :mod:`briefqa.langchain_retriever`)."""
        from .langchain_retriever import BriefRetriever

        return BriefRetriever(qa=self, k=k, filters=filters, refuse=refuse)

    def as_runnable(self, filters: Filters | None = None) -> Runnable[Any, Answer]:
        """A LangChain runnable from a question (or ``{"question", "history"}``) to
        its :class:`Answer`, as :meth:`ask` gives it."""
        from .langchain_retriever import answer_runnable

        return answer_runnable(self, filters)

    def feedback(
        self, answer: Answer, rating: Literal["like", "dislike"] | None, comment: str = ""
    ) -> dict[str, Any]:
        """Record a user's verdict on an answer in ``data_dir/feedback.jsonl`` (in
        PostgreSQL with ``database_url``).

        Each call appends one event; events about the same answer share ``answer_id``
        (derived from the question and the answer text), so an evaluator can group a
        rating with a later comment and turn the pair into an eval case. Returns the
        record written.

        Raises:
            InvalidQuestion: the question, the answer or the comment is too long or not
                valid Unicode (naming which).
        """
        configuration = {k: getattr(self.settings, k) for k in ANSWER_SETTINGS}
        return self._feedback.record(
            answer,
            rating,
            comment,
            self.settings.max_question_chars,
            {k: plain(v) for k, v in configuration.items()},
        )

    def feedback_drafts(
        self, since: str | None = None, only: Literal["up", "down"] | None = None
    ) -> list[dict[str, Any]]:
        """Staff's feedback as draft rows of a question set, one per answer rated or
        commented (``since`` a ``YYYY-MM-DD`` day; ``only`` "down" for the dislikes):
        the question, the answer given with its citations, the comments, and the
        configuration that answered, for an evaluator to review into test questions."""
        return drafts(self._feedback.store.events(), since=since, only=only)

    def health(self) -> dict[str, str]:
        """Each part answers need, "ok" or what is wrong with it: the manifest (SQLite),
        the vector store (Chroma), the embedding model and the reading model."""
        return self.parts.health(lambda: self.read("health", hits=[]))

    def warm_up(self) -> None:
        """Load the embedding model and build the retrieval indexes now, so the first
        question is as fast as the rest (servers call this before accepting requests)."""
        self.parts.warm_up()

    def close(self) -> None:
        """Release the data dir's database connections (conversations included); the
        engine reopens what it needs if used again."""
        store = self.__dict__.pop("conversations", None)
        if store is not None:
            store.close()
        super().close()
