"""The answering chain, in LangChain LCEL:

    condense follow-up → retrieve → refusal gate → numbered context → answer
    (extractive, or prompt | chat model) → parse ``[n]`` markers → verify citations

Whatever writes the draft, :func:`briefqa.verify.verify` checks it, and only what is
cited ends up in :attr:`Answer.sources`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import (
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
)

from .embeddings import CachedEmbedder, Embedder
from .errors import InvalidQuestion
from .extractive import extract
from .llm import model_failures
from .refusal import Evidence, RefusalModel, gather_evidence
from .retrieval import Retriever
from .schema import Answer, Filters, Hit
from .sentences import SentenceVectors
from .settings import Settings
from .text import content_terms, normalize, sentence_spans
from .verify import verify

#: What a refusal says; LLM prompts ask for exactly this sentence, too.
REFUSAL = "The briefs do not cover this question."
_REFUSAL_PATTERN = re.compile(r"briefs do not cover|not covered by the briefs|cannot answer", re.I)
_ANSWER_LABEL = re.compile(r"^\s*(?:answer|a)\s*:\s*", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Words that make a question lean on the conversation before it.
_FOLLOW_UP = frozenset(
    "it its they them their this that these those he she his her there such".split()
)

History = Sequence[tuple[str, str]] | Sequence[dict[str, str]]


class Answerer:
    """Answers questions with verified citations; one per engine, safe to share."""

    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        settings: Settings,
        generator: tuple[Runnable[dict[str, Any], str], Runnable[dict[str, Any], str]]
        | None = None,
        *,
        sentences: SentenceVectors | None = None,
    ) -> None:
        """``generator`` is the (answer, condense) pipeline pair of an LLM backend; without
        it the answerer is extractive."""
        self.retriever = retriever
        self.embedder = CachedEmbedder(embedder)
        self.sentences = sentences
        self.settings = settings
        self.generator = generator
        self.refusal = RefusalModel.load()
        self.threshold = (
            self.refusal.threshold
            if settings.refusal_threshold is None
            else settings.refusal_threshold
        )
        self.prepare: Runnable[dict[str, Any], dict[str, Any]] = (
            RunnablePassthrough.assign(standalone=RunnableLambda(self._condense))
            | RunnablePassthrough.assign(vector=RunnableLambda(self._embed))
            | RunnablePassthrough.assign(hits=RunnableLambda(self._retrieve))
            | RunnablePassthrough.assign(gate=RunnableLambda(self._gate))
        )
        self.draft: Runnable[dict[str, Any], str] = RunnableGenerator(self._draft)
        self.chain: Runnable[dict[str, Any], Answer] = (
            self.prepare
            | RunnablePassthrough.assign(draft=self.draft)
            | RunnableLambda(self._finish)
        )

    # ------------------------------------------------------------------ public

    def ask(
        self, question: str, history: History | None = None, filters: Filters | None = None
    ) -> Answer:
        return self.chain.invoke(self._inputs(question, history, filters))

    def stream(
        self, question: str, history: History | None = None, filters: Filters | None = None
    ) -> Iterator[str | Answer]:
        """Yield text pieces as they are produced, then the verified :class:`Answer`."""
        state = self.prepare.invoke(self._inputs(question, history, filters))
        pieces: list[str] = []
        for piece in self.draft.stream(state):
            pieces.append(piece)
            yield piece
        yield self._finish({**state, "draft": "".join(pieces)})

    # ------------------------------------------------------------------ stages

    def _inputs(
        self, question: str, history: History | None, filters: Filters | None
    ) -> dict[str, Any]:
        question = normalize(_CONTROL.sub(" ", question or ""))
        if not question:
            raise InvalidQuestion("the question is empty: type a question about the briefs")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(
                f"the question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,} (BRIEFQA_MAX_QUESTION_CHARS)"
            )
        return {
            "question": question,
            "history": _turns(history),
            "filters": filters,
            "timings": {},
            "started": time.perf_counter(),
        }

    def _condense(self, state: dict[str, Any]) -> str:
        question: str = state["question"]
        history: list[tuple[str, str]] = state["history"]
        with _timer(state, "condense_ms"):
            if not history:
                return question
            if self.generator is not None:
                transcript = "\n".join(f"{role}: {text}" for role, text in history[-6:])
                with model_failures(self.settings):
                    rewritten = self.generator[1].invoke(
                        {"history": transcript, "question": question}
                    )
                rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
                return rewritten or question
            # Without a model: a follow-up ("and what about Germany?", "why did it?")
            # borrows the terms of the previous question for retrieval.
            words = set(re.findall(r"\w+", question.lower()))
            previous = next((text for role, text in reversed(history) if role == "user"), None)
            if previous and (words & _FOLLOW_UP or len(content_terms(question)) <= 2):
                return f"{question} ({previous})"
            return question

    def _embed(self, state: dict[str, Any]) -> Any:
        with _timer(state, "embed_ms"):
            return self.embedder.embed([state["standalone"]])[0]

    def _retrieve(self, state: dict[str, Any]) -> list[Hit]:
        with _timer(state, "retrieve_ms"):
            hits = self.retriever.retrieve(
                state["standalone"],
                k=self.settings.top_k,
                filters=state["filters"],
                mmr=self.settings.mmr,
                query_vector=state["vector"],
            )
            self._recall_sentences(hits)
            return hits

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

    def evidence(self, question: str, hits: Sequence[Hit], vector: Any | None = None) -> Evidence:
        """The refusal model's signals for ``question`` over ``hits``."""
        if vector is None:
            vector = self.embedder.embed([question])[0]
        return gather_evidence(question, vector, hits, self.embedder, self.retriever.idf())

    def _gate(self, state: dict[str, Any]) -> float:
        """Probability that the passages answer the question."""
        with _timer(state, "gate_ms"):
            found = self.evidence(state["standalone"], state["hits"], state["vector"])
            return self.refusal.probability(found)

    def _draft(self, states: Iterator[dict[str, Any]]) -> Iterator[str]:
        for state in states:
            if state["gate"] < self.threshold:
                return
            hits: list[Hit] = state["hits"]
            with _timer(state, "answer_ms"):
                if self.generator is None:
                    sentences = extract(
                        state["standalone"],
                        state["vector"],
                        hits,
                        self.embedder,
                        max_sentences=self.settings.max_answer_sentences,
                    )
                    for i, sentence in enumerate(sentences):
                        yield sentence if i == 0 else " " + sentence
                else:
                    inputs = {"context": format_context(hits), "question": state["standalone"]}
                    with model_failures(self.settings):
                        yield from self.generator[0].stream(inputs)

    def _finish(self, state: dict[str, Any]) -> Answer:
        hits: list[Hit] = state["hits"]
        # Base models often echo the prompt's "Answer:" label.
        draft = _ANSWER_LABEL.sub("", state.get("draft") or "").strip()
        timings: dict[str, float] = state["timings"]
        # A model refuses by (nearly) saying the refusal sentence; extractive drafts are
        # brief text and may legitimately contain such words.
        refused = not draft or (
            self.generator is not None
            and _REFUSAL_PATTERN.search(draft) is not None
            and len(draft) < len(REFUSAL) + 40
        )
        if refused:
            timings["total_ms"] = _ms(state["started"])
            return Answer(
                question=state["question"],
                text=REFUSAL,
                citations=(),
                sources=(),
                refused=True,
                unsupported=(),
                standalone_question=state["standalone"],
                timings=timings,
                nearest=tuple(hits[:3]),
                confidence=round(state["gate"], 4),
            )
        with _timer(state, "verify_ms"):
            checked = verify(draft, hits, self.embedder)
        timings["total_ms"] = _ms(state["started"])
        return Answer(
            question=state["question"],
            text=checked.text,
            citations=checked.citations,
            sources=tuple(hits[i] for i in checked.cited),
            refused=False,
            unsupported=checked.unsupported,
            standalone_question=state["standalone"],
            timings=timings,
            confidence=round(state["gate"], 4),
        )


# A brief may try to pass for the prompt around it: close the passages block, start a
# passage of its own ("[7] ..."), or begin a new question. Lines of a paragraph are
# joined by the loaders, so such text can sit anywhere; it is kept readable but can no
# longer pose as structure. (A brief's own footnote numbers become "(2)" as well, which
# the model cannot mistake for a passage number either.)
_FORGED = re.compile(r"</?\s*passages\s*>|\[(\d+)\]|\b(Question|Answer)\s*:", re.I)


def _defang(text: str) -> str:
    def quiet(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"({match.group(1)})"
        if match.group(2) is not None:
            return f"{match.group(2)} -"
        return match.group(0).replace("<", "‹").replace(">", "›")

    return _FORGED.sub(quiet, text)


def format_context(hits: Sequence[Hit]) -> str:
    """Numbered passages for the prompt, each under its brief's title and section."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        where = _defang(hit.title + (f" — {hit.section}" if hit.section else ""))
        blocks.append(f"[{n}] ({where})\n{_defang(hit.text)}")
    return "\n\n".join(blocks)


def _turns(history: History | None) -> list[tuple[str, str]]:
    """Normalise history: (question, answer) pairs or {"role", "content"} messages."""
    turns: list[tuple[str, str]] = []
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
    def __init__(self, state: dict[str, Any], key: str) -> None:
        self.state, self.key = state, key

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.state["timings"][self.key] = _ms(self.started)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
