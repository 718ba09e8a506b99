"""The BM25 side is saved per index generation and shared by engines on the same data."""

from __future__ import annotations

from pathlib import Path

from briefqa import BriefQA, Settings
from briefqa.index.embeddings import SentenceTransformerEmbedder

from .conftest import SEED

ARCTIC = "Arctic Routes\n\nThe Northern Sea Route carried 36 million tonnes of cargo in 2023.\n"


def test_bm25_is_saved_loaded_and_follows_new_briefs(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    data = tmp_path / "data"
    with BriefQA(data, settings=Settings(), embedder=embedder) as first:
        first.ingest([SEED])
        first.retrieve("liaison office in Tokyo")
        saved = sorted(p.name for p in (data / "bm25").iterdir())
        assert saved == [f"gen-{first.index.manifest.generation()}"]

    # A second engine (a restart, or another worker) maps the saved index: no scan.
    second = BriefQA(data, settings=Settings(), embedder=embedder)
    scans = []
    store = second.index.store
    original = store.scan
    store.scan = lambda: scans.append(1) or original()  # type: ignore[method-assign]
    hits = second.retrieve("liaison office in Tokyo", k=3)
    assert hits and any(h.lexical is not None for h in hits) and scans == []

    # A brief added through a third engine reaches the second one's BM25 side.
    brief = tmp_path / "arctic.txt"
    brief.write_text(ARCTIC)
    with BriefQA(data, settings=Settings(), embedder=embedder) as third:
        third.ingest([brief])
    hits = second.retrieve("Northern Sea Route cargo tonnes", k=1)
    assert hits[0].title == "Arctic Routes" and hits[0].lexical is not None
    # ... from the index the third saved with its ingest, not by reading every chunk.
    assert scans == []
    assert sorted(p.name for p in (data / "bm25").iterdir()) == [
        f"gen-{second.index.manifest.generation()}"
    ]
    second.close()

    # An ingest brings the saved index up to date itself, updating it without reading
    # every chunk back; an engine started afterwards maps it.
    brief.write_text(ARCTIC + "\nIcebreaker escorts rose to 42 convoys.\n")
    with BriefQA(data, settings=Settings(), embedder=embedder) as fourth:
        own = fourth.index.store.scan
        fourth.index.store.scan = lambda: scans.append(1) or own()  # type: ignore[method-assign]
        fourth.ingest([brief])
        generation = fourth.index.manifest.generation()
    assert scans == [] and (data / "bm25" / f"gen-{generation}").is_dir()
    fifth = BriefQA(data, settings=Settings(), embedder=embedder)
    hits = fifth.retrieve("icebreaker escorts convoys", k=1)
    assert hits[0].title == "Arctic Routes" and hits[0].lexical is not None
    fifth.close()
