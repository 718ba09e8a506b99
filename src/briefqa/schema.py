"""briefqa's own data types, used at every module boundary.

They are frozen dataclasses so that they can be shared between threads, cached and
compared; LangChain, Chroma and Gradio types never cross these boundaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal, cast

#: A table row is one block (rendered "first cell — header: cell; …"); notes (footnotes,
#: endnotes) sit after the body under the label "Notes", never inside its sentences.
BlockKind = Literal["meta", "heading", "paragraph", "table", "note"]
#: How an answer stands: the passages answer the question; they may (the answer is given,
#: marked "check the sources", with the nearest passages); or the briefs do not cover it.
Outcome = Literal["answered", "low_confidence", "refused"]


@dataclass(frozen=True)
class Block:
    """A span of a brief's normalised text: a heading, a paragraph, a table row, a note,
    or front matter.

    ``start``/``end`` are character offsets into :attr:`Brief.text`; ``page`` is the
    1-based page where the block starts (PDF only).
    """

    kind: BlockKind
    start: int
    end: int
    section: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class Brief:
    """A parsed, normalised brief, ready to chunk.

    ``doc_id`` is derived from the normalised text, so the same brief read from two
    files, or read again, has the same id. ``sha256`` is the hash of the file's bytes.
    """

    doc_id: str
    title: str
    text: str
    blocks: tuple[Block, ...]
    source: str
    sha256: str
    format: str
    number: str | None = None
    date: str | None = None  # ISO 8601 (YYYY-MM-DD)
    sections: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    #: Each author's role as the byline gives it ("analyst in the Energy Programme"),
    #: in the order of ``authors``; empty when the byline names no roles.
    author_roles: tuple[str, ...] = ()


#: How every surface names the part of a brief before its first heading, whose chunks
#: carry no section (``section`` None in our types).
LEAD_SECTION = "lead"


def section_label(section: str | None) -> str:
    """A passage's section as staff and clients see it: the lead's is "lead"."""
    return section or LEAD_SECTION


@dataclass(frozen=True)
class Chunk:
    """A passage of a brief, the unit that is embedded, retrieved and cited.

    ``text == brief.text[start:end]`` always holds. ``chunk_id`` is derived from the
    brief's id and the passage, so re-ingesting the same brief yields the same ids.
    """

    chunk_id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    title: str
    section: str | None = None
    page: int | None = None

    @property
    def embedding_text(self) -> str:
        """What the embedding model reads: the passage under its title and section."""
        heading = self.title if not self.section else f"{self.title} — {self.section}"
        return f"{heading}\n{self.text}"


@dataclass(frozen=True)
class BriefInfo:
    """What the index knows about one stored brief."""

    doc_id: str
    title: str
    number: str | None
    date: str | None
    format: str
    sha256: str
    sections: tuple[str, ...]
    chunks: int
    sources: tuple[str, ...]
    ingested_at: str
    authors: tuple[str, ...] = ()  # where the brief names them
    author_roles: tuple[str, ...] = ()  # in the order of ``authors``, where the byline gives them

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sections"] = list(self.sections)
        data["sources"] = list(self.sources)
        data["authors"] = list(self.authors)
        data["author_roles"] = list(self.author_roles)
        return data


@dataclass(frozen=True)
class IngestError:
    """A file that could not be ingested, and why."""

    path: str
    error: str


@dataclass
class IngestReport:
    """Outcome of one :meth:`BriefQA.ingest` call.

    ``chunks`` counts the chunks embedded and written by this call, so re-ingesting an
    unchanged corpus reports zero.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    chunks: int = 0
    seconds: float = 0.0
    errors: list[IngestError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": self.failed,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "errors": [{"path": e.path, "error": e.error} for e in self.errors],
        }


@dataclass
class IndexCheck:
    """Outcome of :meth:`BriefQA.check`: how the manifest and the vector store agree.

    Lists hold chunk ids (``stray_files``: paths). See :mod:`briefqa.index.integrity` for what
    each kind of disagreement means and how ``repair`` fixes it.
    """

    briefs: int
    chunks: int  # listed by the manifest
    stored: int  # held by the vector store
    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    stray_sentences: int = 0
    #: Chunks whose stored sentence vectors no longer match their checksum.
    damaged_sentences: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)
    #: Derived files damaged as a whole (the sentence vectors' database): ``repair`` sets
    #: them aside and embeds again what they held.
    damaged_files: list[str] = field(default_factory=list)
    #: Doc ids whose chunks could not be restored: no source file holds their text.
    unrecoverable: list[str] = field(default_factory=list)
    #: What ``repair`` did, by kind (empty when not asked to repair).
    repaired: dict[str, int] = field(default_factory=dict)
    #: Pairs of stored briefs that are copies of one brief (doc id, doc id, similarity):
    #: not an inconsistency of the index, but one brief shown and retrieved twice.
    near_duplicates: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not (
            self.missing
            or self.orphaned
            or self.duplicated
            or self.damaged
            or self.pending
            or self.stray_sentences
            or self.damaged_sentences
            or self.stray_files
            or self.damaged_files
        )

    def problems(self) -> dict[str, int]:
        """Count of each kind of disagreement found (zeros left out)."""
        counts = {
            "missing": len(self.missing),
            "orphaned": len(self.orphaned),
            "duplicated": len(self.duplicated),
            "damaged": len(self.damaged),
            "pending": len(self.pending),
            "stray_sentences": self.stray_sentences,
            "damaged_sentences": len(self.damaged_sentences),
            "stray_files": len(self.stray_files),
            "damaged_files": len(self.damaged_files),
        }
        return {kind: n for kind, n in counts.items() if n}

    def to_dict(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "briefs": self.briefs,
            "chunks": self.chunks,
            "stored": self.stored,
            "problems": self.problems(),
            "missing": self.missing,
            "orphaned": self.orphaned,
            "duplicated": self.duplicated,
            "damaged": self.damaged,
            "pending": self.pending,
            "stray_sentences": self.stray_sentences,
            "damaged_sentences": self.damaged_sentences,
            "stray_files": self.stray_files,
            "unrecoverable": self.unrecoverable,
            "repaired": self.repaired,
            "near_duplicates": [
                {"doc_ids": [a, b], "similarity": score} for a, b, score in self.near_duplicates
            ],
        }


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some briefs and/or a date range (ISO dates, inclusive)."""

    doc_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        from .errors import InvalidQuestion

        if isinstance(self.doc_ids, str) or (
            self.doc_ids is not None and not all(isinstance(d, str) for d in self.doc_ids)
        ):
            raise InvalidQuestion("Filters.doc_ids must be a tuple of brief ids")
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                parsed = date.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidQuestion(
                    f"{name} must be a date like 2023-08-24, not {value!r}"
                ) from None
            object.__setattr__(self, name, parsed.isoformat())

    @property
    def active(self) -> bool:
        return bool(self.doc_ids) or self.date_from is not None or self.date_to is not None

    def admits(self, brief: BriefInfo) -> bool:
        """Whether ``brief`` passes: one of ``doc_ids`` (if given), dated within the range
        (an undated brief passes no date bound)."""
        if self.doc_ids and brief.doc_id not in self.doc_ids:
            return False
        if self.date_from is not None and not (brief.date and brief.date >= self.date_from):
            return False
        return self.date_to is None or bool(brief.date and brief.date <= self.date_to)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk.

    ``score`` is the fused rank score used for ordering (reciprocal-rank fusion of dense
    and BM25, or the reranker's score); ``dense`` is the cosine similarity to the
    question and ``lexical`` the BM25 score, where each retriever found the chunk.
    """

    chunk_id: str
    doc_id: str
    title: str
    text: str
    score: float
    start: int
    end: int
    section: str | None = None
    page: int | None = None
    dense: float | None = None
    lexical: float | None = None

    @classmethod
    def of(cls, chunk: Chunk, score: float, **scores: float | None) -> Hit:
        return cls(
            chunk.chunk_id,
            chunk.doc_id,
            chunk.title,
            chunk.text,
            score,
            chunk.start,
            chunk.end,
            chunk.section,
            chunk.page,
            **scores,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reading:
    """A sentence the reading model read for a question, and its verdict: the
    probability that the sentence answers the question (``start``/``end`` locate it in
    its brief's normalised text)."""

    doc_id: str
    sentence: str
    start: int
    end: int
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A marker ``[n]`` in an answer, checked against the passage it points to.

    ``quote`` is the sentence of the cited chunk that best supports the citing answer
    sentence; ``start``/``end`` locate it in the brief's normalised text. ``support``
    (0–1) says how well it supports the sentence; ``score`` is the chunk's retrieval score.
    """

    n: int
    doc_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    support: float
    score: float
    #: Where the quote sits and whose brief it is, for a reader checking it: the
    #: chunk's section and page (PDF), the brief's date, authors and number.
    section: str | None = None
    page: int | None = None
    date: str | None = None
    authors: tuple[str, ...] = ()
    number: str | None = None
    #: For a quote extracted as the answer: the reading model's probability that it
    #: answers the question (None without a reader, or for a model's own words).
    answer_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"] = list(self.authors)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(**{**data, "authors": tuple(data.get("authors") or ())})


@dataclass(frozen=True)
class Answer:
    """An answer with verified citations.

    ``sources`` holds only the chunks actually cited; when ``refused`` is true the
    briefs do not cover the question and ``nearest`` holds the closest passages found.
    ``unsupported`` lists answer sentences that no cited passage supports well enough.
    ``confidence`` is the refusal model's probability that the passages answer the
    question; ``outcome`` says which of the three outcomes it led to (a low-confidence
    answer is given, with ``nearest`` filled, for the reader to check). ``kind`` names
    what answered: ``"search"`` (passages retrieved for the question), ``"brief"`` (a
    brief's own structure: lead, conclusions, a section) or ``"archive"`` (the list of
    briefs and their metadata). ``timings`` are milliseconds per stage. ``preface``, when
    set, is said before the answer: which brief of several a whole-brief question that
    named none was answered from (it cites nothing, so it is kept out of ``text``).
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[Hit, ...]
    refused: bool
    unsupported: tuple[str, ...]
    standalone_question: str
    timings: dict[str, float]
    nearest: tuple[Hit, ...] = ()
    confidence: float = 0.0
    outcome: Outcome = "answered"
    kind: str = "search"
    preface: str = ""

    @property
    def low_confidence(self) -> bool:
        return self.outcome == "low_confidence"

    @property
    def shown(self) -> str:
        """What a reader is shown: the preface, if any, then the answer."""
        return f"{self.preface}\n\n{self.text}" if self.preface else self.text

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``briefqa ask --json`` and ``POST /api/v1/ask``."""
        return {
            "answer": self.text,
            "refused": self.refused,
            "outcome": self.outcome,
            "kind": self.kind,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "unsupported": list(self.unsupported),
            "standalone_question": self.standalone_question,
            "nearest": [h.to_dict() for h in self.nearest],
            "confidence": self.confidence,
            "timings": self.timings,
            "preface": self.preface,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], question: str = "") -> Answer:
        """Rebuild an answer from :meth:`to_dict`'s JSON (e.g. sent back by a client).

        Raises:
            ValueError: a field is missing or has the wrong shape.
        """
        try:
            return cls(
                question=question or str(data.get("question") or data["standalone_question"]),
                text=str(data["answer"]),
                citations=tuple(Citation.from_dict(c) for c in data.get("citations", ())),
                sources=tuple(Hit(**h) for h in data.get("sources", ())),
                refused=bool(data.get("refused", False)),
                unsupported=tuple(str(u) for u in data.get("unsupported", ())),
                standalone_question=str(data.get("standalone_question") or question),
                timings=dict(data.get("timings") or {}),
                nearest=tuple(Hit(**h) for h in data.get("nearest", ())),
                confidence=float(data.get("confidence", 0.0)),
                outcome=_outcome(data),
                kind=str(data.get("kind") or "search"),
                preface=str(data.get("preface") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an answer as /api/v1/ask returns it: {exc}") from None


def _outcome(data: dict[str, Any]) -> Outcome:
    value = data.get("outcome") or ("refused" if data.get("refused") else "answered")
    if value not in ("answered", "low_confidence", "refused"):
        raise ValueError(f"outcome must be answered, low_confidence or refused, not {value!r}")
    return cast(Outcome, value)


#: A user's verdict on an answer, as the chat's thumbs give it.
Rating = Literal["like", "dislike"]
#: Whose conversations they are on a server without logins: everyone who opens the chat
#: shares one list.
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Turn:
    """One question of a conversation and the answer given, as it was given (its
    citations keep their quotes when the brief is later removed), with the user's rating."""

    number: int  # 0-based, in the order asked
    answer: Answer
    asked_at: str  # ISO 8601, UTC
    rating: Rating | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "question": self.answer.question,
            "asked_at": self.asked_at,
            "rating": self.rating,
            **self.answer.to_dict(),
        }


@dataclass(frozen=True)
class Conversation:
    """A user's chat, kept so that it can be reopened, continued and shared.

    ``turns`` is empty in listings (:meth:`briefqa.conversations.Conversations.list`) and
    holds every turn when one conversation is opened. ``shared``: other logged-in users may
    open it read-only by its id.
    """

    id: str
    user: str
    title: str
    created: str  # ISO 8601, UTC
    updated: str
    shared: bool = False
    turns: tuple[Turn, ...] = ()
    size: int = 0  # how many turns it holds (also in listings)

    def to_dict(self, *, turns: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "shared": self.shared,
            "turns_count": self.size,
        }
        if turns:
            data["turns"] = [t.to_dict() for t in self.turns]
        return data
