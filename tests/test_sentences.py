"""Sentence vectors computed at ingest and reused when answering."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from briefqa import BriefQA, Settings
from briefqa.index.embeddings import SentenceTransformerEmbedder, Vectors
from briefqa.index.sentences import SQLiteSentenceVectors
from briefqa.text import sentence_spans

from .conftest import SEED


class CountingEmbedder:
    """The real model, recording every text it is asked to encode."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.encoded: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.encoded += list(texts)
        return self.inner.embed(texts)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        return SentenceTransformerEmbedder.embed_with_spans(self, texts, spans)  # type: ignore[arg-type]

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def test_passage_vector_is_the_mean_of_its_parts(embedder: SentenceTransformerEmbedder) -> None:
    text = "Brief — Limits\nFrance opposed the office. Germany agreed. France opposed the office."
    body = text.index("\n") + 1
    spans = [(a + body, b + body) for a, b in sentence_spans(text[body:])]
    passages, sentences = embedder.embed_with_spans([text], [spans])
    alone = embedder.embed(["Brief — Limits", "France opposed the office.", "Germany agreed."])
    assert np.allclose(sentences[0], alone[[1, 2, 1]], atol=1e-5)
    mean = alone[[0, 1, 2, 1]].mean(axis=0)
    assert np.allclose(passages[0], mean / np.linalg.norm(mean), atol=1e-5)


def test_ingest_stores_sentence_vectors_and_answers_encode_only_the_question(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    counting = CountingEmbedder(embedder)
    with BriefQA(tmp_path / "data", settings=Settings(), embedder=counting) as qa:  # type: ignore[arg-type]
        qa.ingest([SEED])
        ids = qa.index.manifest.chunk_ids()
        stored = qa.index.sentences.get(ids)
        assert set(stored) == set(ids)
        for chunk in qa.index.store.get(ids):
            assert len(stored[chunk.chunk_id]) == len(list(sentence_spans(chunk.text)))

        counting.encoded.clear()
        question = "Which country opposed a NATO liaison office in Tokyo?"
        answer = qa.ask(question)
        assert "France" in answer.text and not answer.refused
        # Passage sentences come from the store; only the question (and the names the
        # refusal gate compares, if any) are encoded now.
        assert question in counting.encoded
        quotes = {c.quote for c in answer.citations}
        assert not quotes & set(counting.encoded)

        doc_id = qa.documents()[0].doc_id
        qa.remove(doc_id)
        assert qa.index.sentences.get(ids) == {}


def test_stored_vectors_round_trip_as_float16(tmp_path: Path) -> None:
    store = SQLiteSentenceVectors(tmp_path / "s.sqlite3")
    rows = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    store.put(["a"], [rows])
    got = store.get(["a", "missing"])
    assert set(got) == {"a"} and np.allclose(got["a"], rows, atol=1e-2)
    store.delete(["a"])
    assert store.get(["a"]) == {}
    store.close()
