"""Chunking against the real tokenizer: offsets, limits, sections, stable ids."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from briefqa import load_brief
from briefqa.index.chunking import chunk_brief
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import HashEmbedder

from .conftest import SEED


def _chunks(embedder: SentenceTransformerEmbedder, path: Path = SEED, **kw: int) -> list:
    brief = load_brief(path)
    return chunk_brief(brief, embedder.count_tokens, max_tokens=embedder.max_tokens, **kw)


def test_offsets_slice_back_to_the_chunk_text(embedder: SentenceTransformerEmbedder) -> None:
    brief = load_brief(SEED)
    chunks = chunk_brief(brief, embedder.count_tokens, max_tokens=embedder.max_tokens)
    assert len(chunks) >= 6
    for chunk in chunks:
        assert brief.text[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_id == brief.doc_id and chunk.title == brief.title
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_every_paragraph_sentence_is_covered(embedder: SentenceTransformerEmbedder) -> None:
    brief = load_brief(SEED)
    chunks = chunk_brief(brief, embedder.count_tokens, max_tokens=embedder.max_tokens)
    for block in brief.blocks:
        if block.kind == "paragraph":
            assert any(c.start <= block.start < c.end for c in chunks)
            assert any(c.start < block.end <= c.end for c in chunks)
    assert not any("KACPER" in c.text for c in chunks)


def test_no_chunk_exceeds_the_model_limit(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    # A pathological brief: one 3,000-word sentence with no punctuation and a long URL.
    words = " ".join(f"interoperability{i}" for i in range(3000))
    path = tmp_path / "long.txt"
    path.write_text(f"Long Brief\n\n{words} https://example.org/{'x' * 400} end.\n")
    for source in (SEED, path):
        chunks = _chunks(embedder, source)
        counts = embedder.count_tokens([c.embedding_text for c in chunks])
        assert max(counts) <= embedder.max_tokens, "a chunk would be silently truncated"
    # The long sentence is split, not dropped: all of its words are somewhere.
    text = " ".join(c.text for c in _chunks(embedder, path))
    assert "interoperability0 " in text and "interoperability2999" in text


def test_chunks_stay_inside_their_section(embedder: SentenceTransformerEmbedder) -> None:
    brief = load_brief(SEED)
    headings = {b.section: b for b in brief.blocks if b.kind == "heading"}
    for chunk in _chunks(embedder):
        if chunk.section is not None:
            assert chunk.start > headings[chunk.section].end
        assert not any(h.start >= chunk.start and h.end <= chunk.end for h in headings.values())


def test_windows_overlap_by_whole_sentences(embedder: SentenceTransformerEmbedder) -> None:
    chunks = _chunks(embedder, target_tokens=60, overlap_tokens=40)
    same_section = [(a, b) for a, b in pairwise(chunks) if a.section == b.section]
    overlapping = [(a, b) for a, b in same_section if b.start < a.end]
    assert overlapping, "consecutive windows of a section should share a sentence"
    for a, b in overlapping:
        assert b.text[: a.end - b.start] == a.text[b.start - a.start :]
    none = _chunks(embedder, target_tokens=60, overlap_tokens=0)
    assert all(b.start >= a.end for a, b in pairwise(none))


def test_chunk_ids_are_stable_and_content_derived(embedder: SentenceTransformerEmbedder) -> None:
    first = [c.chunk_id for c in _chunks(embedder)]
    assert first == [c.chunk_id for c in _chunks(embedder)]
    assert len(set(first)) == len(first)
    assert all(cid.startswith(load_brief(SEED).doc_id) for cid in first)


def test_sections_with_the_same_heading_stay_apart(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    path = tmp_path / "dup.md"
    path.write_text(
        "# Title\n\n## Background\n\nAlpha one. Alpha two.\n\n## Middle\n\n"
        + "Middle text goes on and on here. " * 40
        + "\n\n## Background\n\nOmega one. Omega two.\n"
    )
    brief = load_brief(path)
    assert brief.sections == ("Background", "Middle", "Background")
    chunks = _chunks(embedder, path)
    headings = [b for b in brief.blocks if b.kind == "heading"]
    for chunk in chunks:
        assert not any(chunk.start < h.end and h.start < chunk.end for h in headings), (
            "a chunk spans a heading block"
        )
        owner = max((h for h in headings if h.end <= chunk.start), key=lambda h: h.start)
        assert chunk.section == brief.text[owner.start : owner.end]
    counts = embedder.count_tokens([c.embedding_text for c in chunks])
    assert max(counts) <= embedder.max_tokens
    background = [c.text for c in chunks if c.section == "Background"]
    assert background == ["Alpha one. Alpha two.", "Omega one. Omega two."]


def test_an_over_long_title_does_not_break_chunking(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    body = "".join(f"Sentence number {i} of the brief says something. " for i in range(60))
    normal = tmp_path / "normal.md"
    normal.write_text(f"# Short Title\n\n## Part\n\n{body}\n")
    long = tmp_path / "long.md"
    long.write_text("# " + " ".join(f"word{i}" for i in range(300)) + f"\n\n## Part\n\n{body}\n")
    brief = load_brief(long)
    assert len(brief.title) <= 200 and brief.title.endswith("…")
    chunks = _chunks(embedder, long)
    counts = embedder.count_tokens([c.embedding_text for c in chunks])
    assert max(counts) <= embedder.max_tokens
    assert len(chunks) <= len(_chunks(embedder, normal))


def test_headings_too_long_for_the_model_are_shortened_in_chunks(tmp_path: Path) -> None:
    # The loader caps titles at 200 characters; a small model limit must still work,
    # keeping at least three quarters of it for the passage.
    embedder = HashEmbedder(max_tokens=48)
    title = " ".join(f"title{i}" for i in range(30))
    section = " ".join(f"section{i}" for i in range(30))
    body = "".join(f"Sentence {i} says a thing. " for i in range(40))
    path = tmp_path / "small.md"
    path.write_text(f"# {title}\n\n## {section}\n\n{body}\n\n## Short\n\n{body}\n")
    brief = load_brief(path)
    chunks = chunk_brief(brief, embedder.count_tokens, max_tokens=embedder.max_tokens)
    assert chunks
    for chunk in chunks:
        heading = embedder.count_tokens([replace(chunk, text="").embedding_text])[0]
        assert embedder.max_tokens - heading > 0
        assert heading <= embedder.max_tokens // 4
        assert embedder.count_tokens([chunk.embedding_text])[0] <= embedder.max_tokens
        assert chunk.title.startswith("title0 title1") and chunk.title.endswith("…")
    assert {c.section for c in chunks} >= {"Short"}
    # Every sentence of the body is still somewhere.
    assert "Sentence 39 says a thing." in " ".join(c.text for c in chunks)
