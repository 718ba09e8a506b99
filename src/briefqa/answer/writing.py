"""Answer writers: what turns numbered passages into an answer's text.

A writer has two methods: :meth:`Writer.condense` makes a follow-up standalone, and
:meth:`Writer.write` streams the answer for a :class:`Draft`, citing passage ``n`` as
``[n]``. Whatever a writer writes, :func:`briefqa.answer.verify.verify` checks afterwards.

- ``extractive`` (the default, :class:`briefqa.answer.extractive.ExtractiveWriter`) quotes the
  passages' best sentences; nothing is generated, so nothing can be invented.
- ``openai``, ``ollama``, ``llamacpp`` (:class:`briefqa.answer.llm.ChatWriter`) prompt a
  language model through LangChain; imported only when chosen
  (:func:`briefqa.answer.chain.writer_from_settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..index.embeddings import Vectors
from ..schema import Hit
from .readings import Readings

Turn = tuple[str, str]  # (role, text), role "user" or "assistant"


@dataclass(frozen=True)
class Draft:
    """What a writer answers from.

    ``passages`` are numbered from 1 in the answer. ``quotes`` (passage index, sentence)
    are sentences already chosen as the answer (a brief's lead, its conclusions), best
    first; an extractive writer quotes them as they are, a model writes from them.
    ``reason`` marks a why/how follow-up: the answer should give the reason, not repeat
    ``previous``, the last answer's text.
    """

    question: str
    vector: Vectors | None  # the question's; None when quotes are given
    passages: Sequence[Hit]
    quotes: Sequence[tuple[int, str]] = ()
    reason: bool = False
    previous: str = ""
    #: Inverse document frequency of a content term over the index, if known.
    idf: Callable[[str], float] | None = None
    #: What the reading model found in the passages' sentences (None: no reader).
    readings: Readings | None = None


class Writer(Protocol):
    """Writes answers; one per engine, shared between threads."""

    #: Whether it generates text (and so may refuse in words, or invent).
    generative: bool

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        """``question`` rewritten to stand alone, given the conversation so far."""
        ...

    def write(self, draft: Draft) -> Iterator[str]:
        """The answer's text in pieces, citing passage n as ``[n]``; nothing for no
        answer."""
        ...
