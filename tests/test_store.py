"""Every VectorStore implementation passes the same contract."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from briefqa.index.embeddings import CachedEmbedder, SentenceTransformerEmbedder
from briefqa.index.store import ChromaStore
from briefqa.testing import HashEmbedder, check_embedder, check_vector_store

from .conftest import SEED


def test_persistent_chroma_passes_the_contract(tmp_path: Path) -> None:
    check_vector_store(ChromaStore.persistent(tmp_path / "chroma", "briefs"))


@pytest.mark.server
def test_chroma_server_passes_the_contract(chroma_server: str) -> None:
    check_vector_store(ChromaStore.server(chroma_server, "contract"))


def test_every_embedder_passes_the_embedder_contract(
    embedder: SentenceTransformerEmbedder,
) -> None:
    check_embedder(embedder)
    check_embedder(CachedEmbedder(embedder))
    check_embedder(HashEmbedder())


def test_persistent_store_survives_reopening(tmp_path: Path) -> None:
    from briefqa.testing import HashEmbedder, sample_chunk

    store = ChromaStore.persistent(tmp_path / "chroma", "briefs")
    chunk = sample_chunk(0, "a", "text that must persist")
    store.upsert([chunk], HashEmbedder().embed([chunk.text]))
    # Another process: nothing can come from this process's in-memory Chroma instance.
    script = (
        "import sys; from pathlib import Path; from briefqa.index.store import ChromaStore; "
        "s = ChromaStore.persistent(Path(sys.argv[1]), 'briefs'); "
        "print([c.text for c in s.get(['a-0'])])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "chroma")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "['text that must persist']"


def test_claim_keeps_the_first_owner_and_the_cosine_distance(tmp_path: Path) -> None:
    from briefqa.testing import HashEmbedder, sample_chunk

    store = ChromaStore.persistent(tmp_path / "chroma", "briefs")
    assert store.owner() is None
    assert store.claim("index-a") == "index-a"
    # Another engine opening the same collection sees the stamp and cannot replace it.
    other = ChromaStore.persistent(tmp_path / "chroma", "briefs")
    assert other.owner() == "index-a" and other.claim("index-b") == "index-a"
    # Stamping rewrote the metadata; the distance (kept in the configuration) is intact.
    chunk = sample_chunk(0, "a", "a chunk")
    vector = HashEmbedder().embed([chunk.text])
    other.upsert([chunk], vector)
    [(_, similarity)] = other.search(vector[0], k=1)
    assert similarity == pytest.approx(1.0, abs=1e-5)


_COMMIT_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from briefqa.index.manifest import SQLiteManifest, Source
from briefqa.schema import Brief

m = SQLiteManifest(Path(sys.argv[1]))
brief = Brief("doc-b", "B", "text", (), "b.txt", "sha-b", "txt")
m.add_pending(["doc-b-0"])
m.commit([(brief, ["doc-b-0"], [Source("b.txt", "doc-b", "sha-b")])])
m.close()
"""


def test_a_manifest_sees_what_another_process_commits(tmp_path: Path) -> None:
    """Workers keep their manifest connection open: reads must not be stale."""
    from briefqa.index.manifest import SQLiteManifest

    manifest = SQLiteManifest(tmp_path / "manifest.sqlite3")
    assert manifest.briefs() == [] and manifest.generation() == 0
    subprocess.run(
        [sys.executable, "-c", _COMMIT_IN_ANOTHER_PROCESS, str(manifest.path)],
        timeout=60, check=True,
    )  # fmt: skip
    assert [b.doc_id for b in manifest.briefs()] == ["doc-b"]
    assert manifest.generation() == 1 and manifest.chunk_ids() == ["doc-b-0"]
    manifest.close()


def _open_and_write(path: Path, start: Any, hold: float) -> None:
    from briefqa.index.manifest import SQLiteManifest

    start.wait()
    manifest = SQLiteManifest(path)
    with manifest._transaction():
        time.sleep(hold)
    manifest.close()


def test_workers_opening_a_new_manifest_together_both_succeed(tmp_path: Path) -> None:
    """Two workers start together on an empty data dir: both create the manifest and
    one starts writing at once. Opening failed at random with "database is locked"
    (about half the time on this test before it was fixed)."""
    context = multiprocessing.get_context("fork")
    for attempt in range(12):
        path = tmp_path / f"{attempt}" / "manifest.sqlite3"
        start = context.Barrier(3)
        workers = [
            context.Process(target=_open_and_write, args=(path, start, hold)) for hold in (0.3, 0.0)
        ]
        for worker in workers:
            worker.start()
        start.wait()
        for worker in workers:
            worker.join(timeout=60)
        assert [w.exitcode for w in workers] == [0, 0], f"attempt {attempt}"


def test_deleting_pending_chunks_from_the_store_bumps_the_generation(tmp_path: Path) -> None:
    """Removal bumps the generation before the chunks leave the store, so a BM25 index
    built in between holds them: their deletion must bump it again."""
    from briefqa.index.manifest import Source, SQLiteManifest
    from briefqa.schema import Brief

    manifest = SQLiteManifest(tmp_path / "manifest.sqlite3")
    brief = Brief("doc-a", "A", "text", (), "a.txt", "sha-a", "txt")
    manifest.commit([(brief, ["doc-a-0"], [Source("a.txt", "doc-a", "sha-a")])])
    assert manifest.remove_brief("doc-a") == ["doc-a-0"]
    removed = manifest.generation()
    manifest.clear_pending(["doc-a-0"])
    assert manifest.generation() == removed + 1
    manifest.clear_pending(["doc-a-0", "unknown"])  # nothing left to clear: no bump
    assert manifest.generation() == removed + 1
    manifest.close()


def test_bm25_built_during_a_removal_does_not_keep_the_removed_brief(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Worker B answers a question while worker A is deleting a brief's chunks."""
    from briefqa import BriefQA, Settings

    data, brief = tmp_path / "data", tmp_path / "arctic.txt"
    brief.write_text("Arctic Routes\n\nZarkovian icebreakers escorted 36 convoys in 2023.\n")
    a = BriefQA(data, settings=Settings(), embedder=embedder)
    b = BriefQA(data, settings=Settings(), embedder=embedder)
    a.ingest([SEED, brief])
    doc_id = a.index.manifest.source(str(brief.resolve())).doc_id  # type: ignore[union-attr]
    idf = b.answerer.retriever.idf
    assert idf()("zarkovian") < idf()("unheardofword")

    store, delete = a.index.store, a.index.store.delete

    def delete_after_b_rebuilds(chunk_ids: Sequence[str]) -> None:
        b.retrieve("Zarkovian icebreakers")  # the new generation, chunks still stored
        delete(chunk_ids)

    store.delete = delete_after_b_rebuilds  # type: ignore[method-assign]
    a.remove(doc_id)
    assert idf()("zarkovian") == idf()("unheardofword")
    assert all(h.doc_id != doc_id for h in b.retrieve("Zarkovian icebreakers convoys"))
    a.close()
    b.close()
