"""The answering chain, in LangChain LCEL:

    condense follow-up → route → retrieve → refusal gate → write → verify citations

Routing sends whole-brief and archive questions ("what is this brief about?", "which
briefs do we have?") to :mod:`briefqa.answer.overview`, which answers them from the brief's
structure and the manifest; every other question is searched for, and the refusal gate
decides among three outcomes: answered, answered but marked low-confidence, refused. A
:class:`~briefqa.answer.writing.Writer` (extractive by default, or a language model) writes the
answer, :func:`briefqa.answer.verify.verify` checks every citation, and only what is cited ends
up in :attr:`Answer.sources`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from ..errors import InvalidQuestion
from ..index.embeddings import CachedEmbedder, Embedder, Vectors
from ..index.sentences import SentenceVectors
from ..schema import Answer, BriefInfo, Citation, Filters, Hit
from ..settings import Settings
from ..text import normalize, sentence_spans
from .intents import brief_numbers, classify, is_reason_follow_up
from .overview import Overview, Plan
from .reader import Reader
from .readings import Readings, read, rerank
from .refusal import MODEL_FILE, READER_MODEL_FILE, Evidence, RefusalModel, gather_evidence
from .retrieval import Retriever
from .verify import verify
from .writing import Draft, Turn, Writer

#: What a refusal says; LLM prompts ask for exactly this sentence, too.
REFUSAL = "The briefs do not cover this question."
_REFUSAL_PATTERN = re.compile(r"briefs do not cover|not covered by the briefs|cannot answer", re.I)
_ANSWER_LABEL = re.compile(r"^\s*(?:answer|a)\s*:\s*", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_text(
    text: str,
    limit: int,
    what: str = "the question",
    *,
    may_be_empty: bool = False,
    setting: str | None = "BRIEFQA_MAX_QUESTION_CHARS",
) -> str:
    """``text`` (a question, or ``what`` names the field) cleaned of control characters
    and normalised, if it is valid: not empty (unless ``may_be_empty``), at most ``limit``
    characters, and valid Unicode (a lone surrogate, which a broken client sends, cannot
    be encoded). ``setting`` names what sets the limit, for the message (None: fixed).

    Raises:
        InvalidQuestion: naming the field and what is wrong with it.
    """
    bad = _SURROGATE.search(text or "")
    if bad is not None:
        raise InvalidQuestion(
            f"{what} holds an invalid character (a lone surrogate, "
            f"U+{ord(bad[0]):04X}, at position {bad.start()}): send valid Unicode text"
        )
    text = normalize(_CONTROL.sub(" ", text or ""))
    if not text and not may_be_empty:
        raise InvalidQuestion(f"{what} is empty: type a question about the briefs")
    if len(text) > limit:
        where = f" ({setting})" if setting else ""
        raise InvalidQuestion(
            f"{what} is {len(text):,} characters long; the limit is {limit:,}{where}"
        )
    return text


History = Sequence[tuple[str, str]] | Sequence[dict[str, str]]


@dataclass
class State:
    """What the chain knows about one question, step by step."""

    question: str
    history: list[Turn]
    filters: Filters | None
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    standalone: str = ""
    reason: bool = False  # a why/how follow-up
    previous: str = ""  # the last answer, for a follow-up
    plan: Plan | None = None  # a whole-brief or archive question's plan
    vector: Vectors | None = None
    hits: list[Hit] = field(default_factory=list)
    readings: Readings | None = None  # what the reading model found in the passages
    named: bool = False  # the question names its brief by number ("bulletin 116")
    gate: float = 1.0  # probability that the passages answer the question
    draft: str = ""

    @property
    def passages(self) -> list[Hit]:
        return self.plan.passages if self.plan is not None else self.hits


class Answerer:
    """Answers questions with verified citations; one per engine, safe to share."""

    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        settings: Settings,
        writer: Callable[[], Writer],
        overview: Overview,
        *,
        sentences: SentenceVectors | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.retriever = retriever
        #: The reading model that orders passages and sentences (None: similarity only).
        self.reader = reader
        self.embedder = (
            embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
        )
        self.sentences = sentences
        self.settings = settings
        # Built on the first answer: a search needs no writer (whose model may be large).
        self._make_writer = writer
        self._writer: Writer | None = None
        self._writer_lock = threading.Lock()
        self.overview = overview
        # Settings may move either threshold; the model then caps and bands by them.
        # With a reader, the gate also weighs its verdict: a model fitted with that signal
        # (the packaged reader's, unless a reader brings its own).
        own = getattr(reader, "refusal_model", None)
        model = RefusalModel.load(
            own if own is not None else READER_MODEL_FILE if reader is not None else MODEL_FILE
        )
        threshold = (
            model.threshold if settings.refusal_threshold is None else settings.refusal_threshold
        )
        confident = (
            model.confident
            if settings.confidence_threshold is None
            else settings.confidence_threshold
        )
        self.refusal = replace(model, threshold=threshold, confident=confident)
        self.prepare: Runnable[State, State] = (
            RunnableLambda(self._condense)
            | RunnableLambda(self._route)
            | RunnableLambda(self._retrieve)
            | RunnableLambda(self._gate)
        )
        self.write: Runnable[State, str] = RunnableGenerator(self._write)

    @property
    def writer(self) -> Writer:
        """What turns the chosen passages into the answer's text (built on first use)."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._make_writer()
            return self._writer

    @property
    def threshold(self) -> float:
        """Refused below this gate probability."""
        return self.refusal.threshold

    @property
    def confident(self) -> float:
        """Marked low-confidence below this gate probability (and not refused)."""
        return self.refusal.band_top

    # ------------------------------------------------------------------ public

    def ask(
        self, question: str, history: History | None = None, filters: Filters | None = None
    ) -> Answer:
        """The verified answer: the last event of :meth:`stream`."""
        *_, answer = self.stream(question, history, filters)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self, question: str, history: History | None = None, filters: Filters | None = None
    ) -> Iterator[str | Answer]:
        """Yield text pieces as they are produced, then the verified :class:`Answer`."""
        with self.retriever.manifest.pinned():  # the passages are chosen from one state
            state = self.prepare.invoke(self._start(question, history, filters))
        return self._answer(state)

    def summary(self, info: BriefInfo) -> Answer:
        """The brief's lead and the gist of its conclusions, cited."""
        state = State(f"Summary of “{info.title}”", [], Filters((info.doc_id,)))
        state.standalone = state.question
        state.plan = self.overview.digest(info)
        *_, answer = self._answer(state)
        assert isinstance(answer, Answer)
        return answer

    def _answer(self, state: State) -> Iterator[str | Answer]:
        """Write, then verify: the steps after the passages are chosen."""
        pieces: list[str] = []
        for piece in self.write.stream(state):
            pieces.append(piece)
            yield piece
        state.draft = "".join(pieces)
        yield self._finish(state)

    def search(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        *,
        vector: Vectors | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``question``: retrieved, then reordered by the
        reader when there is one (each hit's ``score`` is then the reader's)."""
        if vector is None:
            vector = self.embedder.embed([question])[0]
        with self.retriever.manifest.pinned():
            return self._reorder(question, vector, self._pool(question, k, filters, vector), k)[0]

    def _pool(self, question: str, k: int, filters: Filters | None, vector: Vectors) -> list[Hit]:
        """The retrieved passages the reader reorders (``k`` without a reader)."""
        pool = max(k, self.settings.reader_pool) if self.reader is not None else k
        return self.retriever.retrieve(
            question, k=pool, filters=filters, mmr=self.settings.mmr, query_vector=vector
        )

    def _reorder(
        self, question: str, vector: Vectors, hits: list[Hit], k: int
    ) -> tuple[list[Hit], Readings | None]:
        readings = self.read(question, vector, hits)
        if readings is None:
            return hits[:k], None
        return rerank(hits, readings)[:k], readings

    def read(self, question: str, vector: Vectors, hits: Sequence[Hit]) -> Readings | None:
        """What the reader finds in the likeliest sentences of ``hits`` (None without a
        reader)."""
        if self.reader is None or not hits:
            return None
        self._recall_sentences(hits)
        # The budget is set for the reader_pool passages an answer reorders; a caller
        # asking for more passages (retrieve k=10) gets each extra one's likeliest sentence
        # read too, so the top passages keep the same second chances: with 10 passages
        # and 12 sentences, only two were left beyond each passage's first, and ClapNQ
        # hit@1 fell from 0.940 to 0.937.
        extra = max(0, len(hits) - self.settings.reader_pool)
        return read(
            question,
            vector,
            hits,
            self.embedder,
            self.reader,
            budget=self.settings.reader_candidates + extra,
        )

    def readings(
        self, question: str, filters: Filters | None = None
    ) -> tuple[list[Hit], Readings | None]:
        """The ``top_k`` passages :meth:`ask` would answer ``question`` from, and what the
        reader found in them (None without a reader), exactly as :meth:`ask` finds both."""
        vector = self.embedder.embed([question])[0]
        pool = self._pool(question, self.settings.top_k, filters, vector)
        return self._reorder(question, vector, pool, self.settings.top_k)

    def evidence(
        self, question: str, hits: Sequence[Hit] | None = None, vector: Any | None = None
    ) -> Evidence:
        """The refusal model's signals for ``question`` over ``hits``; by default over the
        passages :meth:`ask` would find, read as :meth:`ask` reads them."""
        if vector is None:
            vector = self.embedder.embed([question])[0]
        if hits is None:
            pool = self._pool(question, self.settings.top_k, None, vector)
            hits, readings = self._reorder(question, vector, pool, self.settings.top_k)
        else:
            readings = self.read(question, vector, hits)
        return self._evidence(question, vector, hits, readings)

    def _evidence(
        self, question: str, vector: Vectors, hits: Sequence[Hit], readings: Readings | None
    ) -> Evidence:
        best = readings.best(hits) if readings is not None else -1.0
        return gather_evidence(
            question, vector, hits, self.embedder, self.retriever.idf(), reader=best
        )

    # ------------------------------------------------------------------ stages

    def _start(self, question: str, history: History | None, filters: Filters | None) -> State:
        question = check_text(question, self.settings.max_question_chars)
        turns = _turns(history)
        for number, (_, content) in enumerate(turns, 1):
            bad = _SURROGATE.search(content)
            if bad is not None:
                raise InvalidQuestion(
                    f"history turn {number} holds an invalid character (a lone surrogate "
                    f"at position {bad.start()}): send valid Unicode text"
                )
        return State(question, turns, filters)

    def _condense(self, state: State) -> State:
        with _timer(state, "condense_ms"):
            state.standalone = self.writer.condense(state.question, state.history)
            state.reason = is_reason_follow_up(state.question, state.history)
            state.previous = next(
                (text for role, text in reversed(state.history) if role == "assistant"), ""
            )
        return state

    def _route(self, state: State) -> State:
        """A whole-brief or archive question gets its plan; a search question about a
        brief it names ("bulletin 116") is kept inside that brief."""
        with _timer(state, "route_ms"):
            # The user's own words say what kind of question it is; the standalone form
            # (which may carry the previous question along) says which brief it is about.
            intent = classify(state.question)
            if intent is not None:
                state.plan = self.overview.plan(state.standalone, intent, state.filters)
            if state.plan is None:
                before = state.filters
                state.standalone, state.filters = self.overview.scope(
                    state.standalone, state.filters
                )
                # Named by its number ("bulletin 116"): the user points at a document.
                # A title match alone may be a question about the title's subject (an
                # encyclopaedia's article, a brief titled by its topic).
                state.named = state.filters is not before and bool(brief_numbers(state.question))
        return state

    def _retrieve(self, state: State) -> State:
        plan = state.plan
        if plan is not None and (plan.written or plan.quotes):
            return state  # answered from the brief's structure or the manifest
        with _timer(state, "embed_ms"):
            state.vector = self.embedder.embed([state.standalone])[0]
        if plan is None:
            with _timer(state, "retrieve_ms"):
                pool = self._pool(
                    state.standalone, self.settings.top_k, state.filters, state.vector
                )
            if self.reader is None:
                state.hits = pool
            else:
                with _timer(state, "read_ms"):
                    state.hits, state.readings = self._reorder(
                        state.standalone, state.vector, pool, self.settings.top_k
                    )
        elif self.reader is not None:  # a brief's own passages, read for the writer
            with _timer(state, "read_ms"):
                state.readings = self.read(state.standalone, state.vector, state.passages)
        if state.readings is None:  # reading recalled them already
            self._recall_sentences(state.passages)
        return state

    def _recall_sentences(self, hits: Sequence[Hit]) -> None:
        """Put the hits' stored sentence vectors in the cache, so that scoring, extracting
        and verifying their sentences encodes nothing."""
        if self.sentences is None or not hits:
            return
        stored = self.sentences.get([h.chunk_id for h in hits])
        for hit in hits:
            vectors = stored.get(hit.chunk_id)
            spans = list(sentence_spans(hit.text))
            if vectors is not None and len(vectors) == len(spans):
                self.embedder.remember([hit.text[a:b] for a, b in spans], vectors)

    def _gate(self, state: State) -> State:
        """Probability that the passages answer the question (a plan answers by design)."""
        if state.plan is not None:
            return state
        with _timer(state, "gate_ms"):
            assert state.vector is not None, "a search question has been embedded"
            found = self._evidence(state.standalone, state.vector, state.hits, state.readings)
            state.gate = self.refusal.probability(found)
            if state.named:
                # The user says which brief covers it: a doubtful answer is shown as
                # low-confidence with its passages, never as "the briefs do not cover".
                state.gate = max(state.gate, self.refusal.threshold)
        return state

    def _write(self, states: Iterator[State]) -> Iterator[str]:
        for state in states:
            plan = state.plan
            if plan is not None and plan.written:
                yield plan.text
                return
            if self.refusal.outcome_of(state.gate) == "refused":
                return
            draft = Draft(
                question=state.standalone,
                vector=state.vector,
                passages=state.passages,
                quotes=plan.quotes if plan is not None else (),
                reason=state.reason,
                previous=state.previous,
                idf=self.retriever.idf(),
                readings=state.readings,
            )
            with _timer(state, "answer_ms"):
                yield from self.writer.write(draft)

    def _finish(self, state: State) -> Answer:
        plan = state.plan
        kind = "search" if plan is None else plan.kind
        answer = Answer(
            question=state.question,
            text=REFUSAL,
            citations=(),
            sources=(),
            refused=True,
            unsupported=(),
            standalone_question=state.standalone,
            timings=state.timings,
            nearest=tuple(state.passages[:3]),
            confidence=round(state.gate, 4),
            outcome="refused",
            kind=kind,
        )
        if plan is not None and plan.lacking:  # "The brief does not name its authors."
            state.timings["total_ms"] = _ms(state.started)
            return replace(answer, text=plan.text, nearest=tuple(plan.passages), confidence=0.0)
        if plan is not None and plan.written:
            state.timings["total_ms"] = _ms(state.started)
            cited = sorted({c.n for c in plan.citations})
            return replace(
                answer,
                text=plan.text,
                preface=plan.preface,
                citations=self._placed(plan.citations, plan.passages),
                sources=tuple(plan.passages[n - 1] for n in cited),
                refused=False,
                nearest=(),
                outcome="answered",
            )
        # Base models often echo the prompt's "Answer:" label.
        draft = _ANSWER_LABEL.sub("", state.draft).strip()
        # A model refuses by (nearly) saying the refusal sentence; extractive drafts are
        # brief text and may legitimately contain such words.
        refused = not draft or (
            self.writer.generative
            and _REFUSAL_PATTERN.search(draft) is not None
            and len(draft) < len(REFUSAL) + 40
        )
        if refused:
            state.timings["total_ms"] = _ms(state.started)
            return answer
        with _timer(state, "verify_ms"):
            checked = verify(draft, state.passages, self.embedder)
        state.timings["total_ms"] = _ms(state.started)
        sure = plan is not None or self.refusal.outcome_of(state.gate) == "answered"
        citations = self._placed(checked.citations, state.passages)
        if state.readings is not None and not self.writer.generative:
            whole = state.readings.whole
            citations = tuple(
                replace(c, answer_score=_rounded(whole.get((c.doc_id, c.start)))) for c in citations
            )
        return replace(
            answer,
            text=checked.text,
            preface=plan.preface if plan is not None else "",
            citations=citations,
            sources=tuple(state.passages[i] for i in checked.cited),
            refused=False,
            unsupported=checked.unsupported,
            nearest=() if sure else tuple(state.passages[:3]),
            outcome="answered" if sure else "low_confidence",
        )

    def _placed(self, citations: Sequence[Citation], hits: Sequence[Hit]) -> tuple[Citation, ...]:
        """Citations with the section and page of their passage and the date, authors
        and number of their brief, so that a reader can find and weigh the quote."""
        chunks = {h.chunk_id: h for h in hits}
        briefs: dict[str, BriefInfo | None] = {}
        placed = []
        for citation in citations:
            if citation.doc_id not in briefs:
                briefs[citation.doc_id] = self.retriever.manifest.brief(citation.doc_id)
            info, hit = briefs[citation.doc_id], chunks.get(citation.chunk_id)
            placed.append(
                replace(
                    citation,
                    section=hit.section if hit else citation.section,
                    page=hit.page if hit else citation.page,
                    date=info.date if info else citation.date,
                    authors=info.authors if info else citation.authors,
                    number=info.number if info else citation.number,
                )
            )
        return tuple(placed)


def writer_from_settings(settings: Settings, embedder: Embedder) -> Writer:
    """The writer ``settings.llm`` names, its backend imported only now. ``embedder``
    scores sentences for the extractive one."""
    if settings.llm == "extractive":
        from .extractive import ExtractiveWriter

        return ExtractiveWriter(settings, embedder)
    from .llm import ChatWriter

    return ChatWriter(settings)


def _turns(history: History | None) -> list[Turn]:
    """Normalise history: (question, answer) pairs or {"role", "content"} messages."""
    turns: list[Turn] = []
    for item in history or ():
        if isinstance(item, dict):
            role = "user" if item.get("role") == "user" else "assistant"
            turns.append((role, str(item.get("content") or "")))
        elif isinstance(item, tuple | list) and len(item) == 2:
            question, answer = item
            turns += [("user", str(question or "")), ("assistant", str(answer or ""))]
        else:
            raise InvalidQuestion(
                "history must hold (question, answer) pairs or {'role', 'content'} messages, "
                f"not {type(item).__name__}"
            )
    return turns


class _timer:
    def __init__(self, state: State, key: str) -> None:
        self.state, self.key = state, key

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.state.timings[self.key] = _ms(self.started)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _rounded(p: float | None) -> float | None:
    return None if p is None else round(p, 4)
