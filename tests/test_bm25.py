"""The lexical index scores as Lucene's BM25 does, and survives saving and odd folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from briefqa import BriefQA, Settings
from briefqa.index.bm25 import LexicalIndex
from briefqa.index.embeddings import Embedder

from .conftest import SEED

DOCS = [
    ["arctic", "shipping", "route", "route"],
    ["arctic", "ice"],
    ["tokyo", "liaison", "office", "nato", "office", "office"],
]


def lucene(term: str, row: int, docs: list[list[str]] = DOCS) -> float:
    """Lucene's BM25 for one term and document, written out from the definition."""
    n, df = len(docs), sum(term in d for d in docs)
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    tf, length = docs[row].count(term), len(docs[row])
    average = sum(map(len, docs)) / n
    return idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * length / average))


def test_scores_are_lucene_bm25_summed_over_the_query_terms() -> None:
    index = LexicalIndex.build(["c0", "c1", "c2"], ["d0", "d0", "d1"], DOCS)
    scores = index.scores(["arctic", "route", "unknown"])
    expected = [lucene("arctic", r) + lucene("route", r) for r in range(3)]
    assert scores == pytest.approx(expected, rel=1e-6)
    assert scores[2] == 0 and scores[0] > scores[1] > 0
    # A repeated query term counts again, as in bm25s and Lucene.
    assert index.scores(["office", "office"])[2] == pytest.approx(2 * lucene("office", 2))
    assert index.document_frequency("arctic") == 2 and index.document_frequency("x") == 0
    assert "ice" in index and "x" not in index


def test_a_filter_zeroes_other_briefs_rows() -> None:
    index = LexicalIndex.build(["c0", "c1", "c2"], ["d0", "d0", "d1"], DOCS)
    assert index.scores(["arctic", "office"], allowed={"d1"})[:2].tolist() == [0, 0]
    assert index.scores(["arctic", "office"], allowed={"d1"})[2] > 0
    assert not index.scores(["arctic"], allowed=set()).any()


def test_saved_index_loads_memory_mapped_with_the_same_scores(tmp_path: Path) -> None:
    index = LexicalIndex.build(["c0", "c1", "c2"], ["d0", "d0", "d1"], DOCS)
    index.save(tmp_path / "gen-1")
    loaded = LexicalIndex.load(tmp_path / "gen-1")
    assert isinstance(loaded.chunk_ids, np.memmap)
    assert (
        loaded.scores(["arctic", "office"]).tolist() == index.scores(["arctic", "office"]).tolist()
    )
    assert LexicalIndex.saved_chunk_ids(tmp_path / "gen-1") == {"c0", "c1", "c2"}


def test_an_update_gives_the_arrays_a_build_over_all_chunks_gives() -> None:
    """Chunks removed (with a term no other chunk has) and added (with new terms)."""
    removed = ["zarkovian", "icebreaker", "arctic"]
    extra = ["hypersonic", "missile", "arctic", "arctic"]
    base = LexicalIndex.build(["c0", "c9", "c1"], ["d0", "d9", "d0"], [DOCS[0], removed, DOCS[1]])
    updated = base.updated(
        {"c0", "c1", "c2", "c3"},
        [("c3", "d2", extra), ("c2", "d1", DOCS[2]), ("c0", "d0", DOCS[0])],  # c0: kept
    )
    full = LexicalIndex.build(["c0", "c1", "c2", "c3"], ["d0", "d0", "d1", "d2"], [*DOCS, extra])
    for name, array in full._arrays().items():
        assert np.array_equal(updated._arrays()[name], array), name
    assert "zarkovian" not in updated and updated.document_frequency("arctic") == 3
    assert updated.scores(["arctic"]).tolist() == full.scores(["arctic"]).tolist()


@pytest.mark.parametrize(
    "damage",
    ["meta.json", "terms.json", "scores.npy", "layout"],
)
def test_a_damaged_or_foreign_folder_is_refused(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "gen-1"
    LexicalIndex.build(["c0", "c1", "c2"], ["d0", "d0", "d1"], DOCS).save(folder)
    if damage == "layout":  # as an older briefqa (bm25s) saved it
        (folder / "meta.json").write_text(json.dumps({"format": 0}))
    elif damage == "scores.npy":
        np.save(folder / "scores.npy", np.zeros(2, dtype=np.float32))
    else:
        (folder / damage).unlink()
    with pytest.raises((OSError, ValueError)):
        LexicalIndex.load(folder)


def test_an_index_saved_by_an_older_briefqa_is_rebuilt(tmp_path: Path, embedder: Embedder) -> None:
    """Data dirs from before this format hold bm25s's files: the engine rebuilds its own
    index from the store and replaces them, and answers the same."""
    data = tmp_path / "data"
    with BriefQA(data, settings=Settings(), embedder=embedder) as qa:
        qa.ingest([SEED])
        before = [h.chunk_id for h in qa.retrieve("liaison office in Tokyo", mode="lexical")]
        [saved] = (data / "bm25").glob("gen-*")
    for path in saved.iterdir():
        path.unlink()
    (saved / "params.index.json").write_text("{}")  # what bm25s leaves
    (saved / "rows.json").write_text("{}")
    with BriefQA(data, settings=Settings(), embedder=embedder) as qa:
        after = [h.chunk_id for h in qa.retrieve("liaison office in Tokyo", mode="lexical")]
    assert after == before and (saved / "meta.json").exists()
    assert not (saved / "rows.json").exists()


def test_ids_that_are_not_ascii_are_kept_as_text(tmp_path: Path) -> None:
    index = LexicalIndex.build(["c0", "c1", "c—2"], ["d0", "d0", "dé"], DOCS)
    index.save(tmp_path / "gen-1")
    loaded = LexicalIndex.load(tmp_path / "gen-1")
    assert [loaded.chunk_id(i) for i in range(3)] == ["c0", "c1", "c—2"]
    assert loaded.scores(["office"], allowed={"dé"})[2] > 0
    assert LexicalIndex.saved_chunk_ids(tmp_path / "gen-1") == {"c0", "c1", "c—2"}
