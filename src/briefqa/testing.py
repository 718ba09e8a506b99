"""Fakes and contract tests for briefqa's interfaces, shipped with the package.

``HashEmbedder`` is a real embedder of a simple kind: a bag of hashed words, so texts
that share words get similar vectors and tests of retrieval need no neural model.
``check_vector_store`` is the contract every ``VectorStore`` (the store protocol)
implementation must pass, ``check_embedder`` the one of every embedder and
``check_writer`` the one every answer writer (:class:`~briefqa.answer.writing.Writer`) must
pass, ``check_reader`` the one of every reading model (:class:`~briefqa.answer.reader.Reader`);
the test suite runs them against each implementation. ``OverlapReader`` is a reader of a
simple kind (the share of the question's words a sentence holds), so that tests of the
answer path can say which sentence answers. ``FakeChatModel`` is a scripted LangChain
chat model. ``postgres_cluster`` starts a PostgreSQL server of one's own (Debian's
binaries) for the state store's tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from .answer.passages import split_markers
from .answer.reader import Reader
from .answer.writing import Draft, Writer
from .errors import EmbeddingError
from .index.embeddings import Embedder, Vectors
from .index.store import VectorStore
from .schema import Chunk, Hit
from .text import content_terms, root, roots, sentence_spans

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Deterministic bag-of-words embedder: each word adds a sha256-seeded direction."""

    def __init__(self, dimension: int = 64, max_tokens: int = 256, name: str = "hash") -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.name = name
        self.batch_size = 32
        self.calls = 0
        self.texts_embedded = 0
        self.fail_on: str | None = None  # embed() raises if a text contains this

    def _word_vector(self, word: str) -> Vectors:
        seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            if self.fail_on is not None and self.fail_on in text:
                raise EmbeddingError(f"fake failure on {self.fail_on!r}")
            for word in _WORD.findall(text):
                out[row] += self._word_vector(word)
            if not out[row].any():  # no words: a fixed direction, still a unit vector
                out[row] = self._word_vector("")
            out[row] /= float(np.linalg.norm(out[row]))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + t.count(",") + t.count(".") for t in texts]


def sample_chunk(n: int, doc: str, text: str) -> Chunk:
    """A small chunk numbered ``n`` of brief ``doc``, for store tests."""
    return Chunk(f"{doc}-{n}", doc, n, text, 0, len(text), f"Brief {doc}", "Section", None)


def check_embedder(embedder: Embedder) -> None:
    """Assert the :class:`~briefqa.index.embeddings.Embedder` contract (raises AssertionError):
    unit float32 rows, one per text, the same vector for the same text whatever the batch,
    closer vectors for texts that share their subject, and token counts within reach."""
    assert isinstance(embedder.name, str) and embedder.name, "an embedder has a name"
    assert embedder.max_tokens > 0
    texts = [
        "France opposed a NATO liaison office in Tokyo.",
        "Paris objected to NATO opening an office in Japan.",
        "The recipe needs two eggs and a cup of flour.",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape[0] == 3 and vectors.ndim == 2 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3), "unit vectors"
    alone = embedder.embed(texts[1:2])[0]
    assert float(alone @ vectors[1]) > 0.999, "a text's vector does not depend on its batch"
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]), "meaning is kept"
    counts = embedder.count_tokens(texts)
    assert len(counts) == 3 and all(0 < n <= 4 * len(t) for n, t in zip(counts, texts, strict=True))
    assert embedder.embed([]).shape[0] == 0, "no texts, no rows"


class OverlapReader:
    """A deterministic reader: the probability that a sentence answers is the share of
    the question's content words (by root) it holds, squared, so that a sentence holding
    every word of a question scores 1 and one holding half of them 0.25."""

    name = "overlap"

    def __init__(self) -> None:
        #: Every (question, sentence) pair scored, in order: tests check what was read.
        self.calls: list[tuple[str, str]] = []

    def score(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[float]:
        asked = {root(t) for t in content_terms(question)}
        out = []
        for sentence in sentences:
            self.calls.append((question, sentence))
            share = len(asked & roots(sentence)) / len(asked) if asked else 0.0
            out.append(share**2)
        return out


def check_reader(reader: Reader) -> None:
    """Assert the :class:`~briefqa.answer.reader.Reader` contract (raises AssertionError):
    probabilities in 0–1, one per sentence, the same whatever the batch, and a sentence
    that answers the question scores above one about something else."""
    assert isinstance(reader.name, str) and reader.name, "a reader has a name"
    question = "Which country opposed a NATO liaison office in Tokyo?"
    sentences = [
        "France opposed the opening of a NATO liaison office in Tokyo.",
        "The recipe needs two eggs and a cup of flour.",
    ]
    scores = reader.score(question, sentences, ["Bulletin", "Bulletin"])
    assert len(scores) == 2 and all(0.0 <= p <= 1.0 for p in scores), scores
    assert scores[0] > scores[1], "the answering sentence scores higher"
    alone = reader.score(question, sentences[:1], ["Bulletin"])
    assert abs(alone[0] - scores[0]) < 1e-4, "a pair's score does not depend on its batch"
    assert reader.score(question, []) == [], "no sentences, no scores"


def check_writer(writer: Writer, embedder: Any) -> None:
    """Assert the :class:`~briefqa.answer.writing.Writer` contract (raises AssertionError).

    ``embedder`` embeds the question of the test draft. A writer must: leave a question
    without history as it is; return a non-empty standalone question for a follow-up;
    stream text whose ``[n]`` markers all point at a given passage; and, when the draft
    carries quotes, answer (a writer that does not generate quotes them as they are).
    """
    passages = [
        Hit.of(sample_chunk(0, "a", "France opposed a NATO liaison office in Tokyo."), 1.0),
        Hit.of(sample_chunk(1, "a", "Japan gave financial and humanitarian assistance."), 0.5),
    ]
    question = "Which country opposed a NATO liaison office in Tokyo?"
    assert writer.condense(question, []) == question, "no history: the question as it is"
    follow_up = writer.condense("Why?", [("user", question), ("assistant", "France [1].")])
    assert isinstance(follow_up, str) and follow_up.strip(), "a follow-up stays a question"
    assert isinstance(writer.generative, bool)

    vector = embedder.embed([question])[0]
    text = "".join(writer.write(Draft(question, vector, passages)))
    assert text.strip(), "the passages answer the question: some text is written"
    for start, end in sentence_spans(text):
        _, numbers = split_markers(text[start:end])
        assert all(1 <= n <= len(passages) for n in numbers), f"marker out of range: {text!r}"
    quoted = "".join(writer.write(Draft(question, None, passages, quotes=[(1, passages[1].text)])))
    assert quoted.strip(), "a draft with quotes is answered"
    if not writer.generative:  # a quoting writer quotes them, each with its marker
        assert quoted == "Japan gave financial and humanitarian assistance [2].", quoted


def check_vector_store(store: VectorStore) -> None:
    """Assert the :class:`VectorStore` contract on an empty store (raises AssertionError)."""
    embedder = HashEmbedder()
    assert store.count() == 0, "the contract needs an empty store"
    texts = [
        "France opposed a NATO liaison office in Tokyo",
        "Japan offered financial and humanitarian assistance",
        "South Korea sold armaments to Poland",
    ]
    chunks = [sample_chunk(i, "a" if i < 2 else "b", t) for i, t in enumerate(texts)]
    vectors = embedder.embed(texts)
    store.upsert(chunks, vectors)
    assert store.count() == 3
    assert store.ids() == {c.chunk_id for c in chunks}

    # Upsert replaces by id: no duplicates, new text wins.
    changed = sample_chunk(0, "a", "France and Germany disagreed about China")
    store.upsert([changed], embedder.embed([changed.text]))
    assert store.count() == 3
    assert store.get(["a-0"])[0].text == changed.text

    hits = store.search(embedder.embed(["South Korea armaments Poland"])[0], k=2)
    assert len(hits) == 2
    assert hits[0][0].chunk_id == "b-2", hits
    assert hits[0][1] >= hits[1][1], "hits must come best first"
    assert all(-1.0001 <= score <= 1.0001 for _, score in hits), "scores are cosine similarities"

    only_a = store.search(embedder.embed(["armaments"])[0], k=5, where={"doc_id": "a"})
    assert {h[0].doc_id for h in only_a} == {"a"}

    assert sorted(c.chunk_id for c in store.scan()) == ["a-0", "a-1", "b-2"]
    assert {c.chunk_id: c for c in store.scan()}["b-2"] == chunks[2]

    got = store.get(["b-2", "missing", "a-1"])
    assert [c.chunk_id for c in got] == ["b-2", "a-1"], "get keeps the asked order"
    assert got[0] == chunks[2], "a chunk comes back exactly as stored"

    store.delete(["a-0", "not-there"])
    assert store.ids() == {"a-1", "b-2"}
    store.delete(["a-1", "b-2"])
    assert store.count() == 0
    assert store.search(embedder.embed(["anything"])[0], k=3) == []


class FakeChatModel(BaseChatModel):
    """A LangChain chat model that replies from a script and records what it was sent.

    Replies are used in order (the last one repeats); streaming yields word by word, as
    a real server streams tokens.
    """

    replies: list[str]
    received: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def _next(self, messages: list[BaseMessage]) -> str:
        self.received.append(list(messages))
        index = min(len(self.received) - 1, len(self.replies) - 1)
        return self.replies[index]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._next(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in re.split(r"(?<=\s)", self._next(messages)):
            if piece:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


# ------------------------------------------------------------------ PostgreSQL

PG_PASSWORD = "briefqa-test-pw"


@contextmanager
def postgres_cluster() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL cluster of one's own, for tests and benchmarks (Debian's ``initdb``
    and ``pg_ctl`` in a temporary folder, a free port on 127.0.0.1): its URL, and
    ``pg_ctl`` to stop and start it (``control("stop")``)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise FileNotFoundError("PostgreSQL is missing: apt-get install postgresql")
    bindir = found[-1].parent
    # Under /tmp, not a test's folder: as root, the cluster runs as Debian's `postgres`
    # user (initdb refuses root), which must reach its folder.
    root = Path(tempfile.mkdtemp(prefix="briefqa-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    password = root / "password"
    password.write_text(PG_PASSWORD + "\n")
    if as_user:
        shutil.chown(password, "postgres")
    with socket.socket() as sock:  # a free port
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    data = root / "data"

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"{command[0]} failed: {done.stderr}{done.stdout}\n{log[-2000:]}")

    def control(action: str) -> None:
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
            "-m", "fast", "-o", options, action)  # fmt: skip

    run(str(bindir / "initdb"), "-D", str(data), "-U", "briefqa", "--pwfile", str(password),
        "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
    control("start")
    try:
        yield f"postgresql://briefqa:{PG_PASSWORD}@127.0.0.1:{port}/postgres", control
    finally:
        with contextlib.suppress(RuntimeError):
            control("stop")
        shutil.rmtree(root, ignore_errors=True)
