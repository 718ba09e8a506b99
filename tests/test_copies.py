"""One brief however many copies: near-duplicate detection and the kept copy's rule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from briefqa import BriefQA, Settings, load_brief
from briefqa.index.copies import (
    NEAR_DUPLICATE,
    CopyIndex,
    brief_fingerprint,
    fingerprint,
    is_copy,
    similarity,
)
from briefqa.testing import HashEmbedder
from briefqa.text import sentence_spans

from .seed_layout import ROOT, seed_layout

CLAPNQ = ROOT / "evals" / "clapnq_dev" / "docs.jsonl"


def _markdown(with_metadata: bool = False) -> str:
    """The seed bulletin as a web-style Markdown page: no number or date line."""
    layout = seed_layout()
    front = f"---\ntitle: {layout.title}\n---\n\n" if not with_metadata else ""
    parts = [front + f"# {layout.title}", layout.lead, *layout.intro]
    for heading, paragraphs in layout.sections:
        parts += [f"## {heading}", *paragraphs]
    return "\n\n".join(parts) + "\n"


def _pdf_like_text(seed: Path) -> str:
    """The seed as a PDF's text often comes out: a running header between paragraphs."""
    blocks = seed.read_text(encoding="utf-8").split("\n\n")
    header = "PISM BULLETIN No. 116 (2235), 24 August 2023 © PISM"
    return "\n\n".join([*blocks[:8], header, *blocks[8:]])


@pytest.fixture
def engine(tmp_path: Path) -> BriefQA:
    return BriefQA(tmp_path / "data", Settings(), embedder=HashEmbedder())


def _stored_with_a_markdown_copy(engine: BriefQA, seed: Path, tmp_path: Path) -> Path:
    """The seed brief and its Markdown copy ingested together: one brief, the Markdown's
    text kept. Returns the Markdown file."""
    markdown = tmp_path / "a.md"
    markdown.write_text(_markdown(), encoding="utf-8")
    engine.ingest([markdown, seed])
    [info] = engine.documents()
    assert info.format == "md" and len(info.sources) == 2
    return markdown


def test_copies_are_alike_and_other_briefs_are_not(seed: Path, tmp_path: Path) -> None:
    markdown = tmp_path / "seed.md"
    markdown.write_text(_markdown(), encoding="utf-8")
    noisy = tmp_path / "noisy.txt"
    noisy.write_text(_pdf_like_text(seed), encoding="utf-8")
    signature = brief_fingerprint(load_brief(seed))
    assert similarity(signature, brief_fingerprint(load_brief(markdown))) >= 0.95
    assert similarity(signature, brief_fingerprint(load_brief(noisy))) >= NEAR_DUPLICATE
    # Passages of other documents, some on related subjects, are never its copies.
    others = [json.loads(line)["text"] for line in CLAPNQ.read_text().splitlines()[:200]]
    assert max(similarity(signature, fingerprint([text])) for text in others) < 0.1


def test_copy_index_finds_the_nearest_and_lists_pairs() -> None:
    found = CopyIndex()
    words = " ".join(f"word{i}" for i in range(400))
    found.add("a", fingerprint([words]), 3000)
    found.add("b", fingerprint([words + " and a closing remark"]), 3020)
    found.add("c", fingerprint([" ".join(f"other{i}" for i in range(400))]), 3000)
    nearest = found.nearest(fingerprint([words]), 3000)
    assert nearest is not None and nearest[0] == "a" and nearest[1] == 1.0
    assert [(a, b) for a, b, _ in found.pairs()] == [("a", "b")]
    found.discard("a")
    assert found.nearest(fingerprint(["nothing like it at all, in any way"]), 30) is None
    # Short texts alike at 0.8 (a shared boilerplate) are not copies; long ones are.
    assert is_copy(0.85, 3000, 2900) and not is_copy(0.85, 3000, 260)
    assert [p[:2] for p in found.pairs()] == []


def test_copies_in_one_ingest_are_one_brief_with_every_file(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    folder = seed.parent
    (folder / "seed.md").write_text(_markdown(), encoding="utf-8")
    (folder / "seed-print.txt").write_text(_pdf_like_text(seed), encoding="utf-8")
    report = engine.ingest([folder])
    assert (report.added, report.unchanged, report.failed) == (1, 2, 0)
    [info] = engine.documents()
    # The Markdown copy declares its structure: its text is kept; the number and date
    # it lacks come from the other copies.
    assert info.format == "md"
    assert (info.number, info.date) == ("116", "2023-08-24")
    assert len(info.sources) == 3
    hits = engine.retrieve("Which country opposed a NATO liaison office in Tokyo?", k=5)
    assert {h.doc_id for h in hits} == {info.doc_id}
    texts = [h.text for h in hits]
    assert len(set(texts)) == len(texts)


def test_a_preferred_copy_arriving_later_replaces_the_text(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    engine.ingest([seed])
    [before] = engine.documents()
    markdown = tmp_path / "later.md"
    markdown.write_text(_markdown(), encoding="utf-8")
    report = engine.ingest([markdown])
    assert (report.added, report.failed) == (1, 0)
    [after] = engine.documents()
    assert after.doc_id != before.doc_id and after.format == "md"
    assert set(after.sources) == {str(seed.resolve()), str(markdown.resolve())}
    assert (after.number, after.date) == ("116", "2023-08-24")
    stored = engine.index.store.ids()
    assert stored == set(engine.index.manifest.chunk_ids(after.doc_id))
    assert engine.check().consistent

    # A less preferred copy later is one more source, and nothing is embedded.
    noisy = tmp_path / "print.txt"
    noisy.write_text(_pdf_like_text(seed), encoding="utf-8")
    report = engine.ingest([noisy])
    assert (report.added, report.unchanged, report.chunks) == (0, 1, 0)
    [info] = engine.documents()
    assert info.doc_id == after.doc_id and len(info.sources) == 3


def test_a_new_version_of_the_kept_file_replaces_its_text(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.txt"
    shutil.copy(seed, copy)
    engine.ingest([seed])
    engine.ingest([copy])  # an exact copy: one brief, two files
    revised = seed.read_text(encoding="utf-8").replace("second in a row", "second running")
    seed.write_text(revised, encoding="utf-8")
    report = engine.ingest([seed])
    assert (report.updated, report.failed) == (1, 0)
    [info] = engine.documents()
    assert info.doc_id == load_brief(seed).doc_id
    assert set(info.sources) == {str(seed.resolve()), str(copy.resolve())}
    assert engine.check().consistent


def test_check_reports_copies_stored_as_two_briefs(
    engine: BriefQA, seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noisy = tmp_path / "print.txt"
    noisy.write_text(_pdf_like_text(seed), encoding="utf-8")
    # As an index built before copies were recognised: two briefs, no fingerprints.
    monkeypatch.setattr("briefqa.index.copies.NEAR_DUPLICATE", 1.01)
    engine.ingest([seed, noisy])
    monkeypatch.undo()
    manifest = engine.index.manifest
    with manifest._transaction() as db:  # as an older index left it
        db.execute("DELETE FROM copies")
    assert len(engine.documents()) == 2
    found = engine.check()
    assert found.consistent  # copies are reported, not an inconsistency
    [(a, b, score)] = found.near_duplicates
    assert {a, b} == {d.doc_id for d in engine.documents()} and score >= NEAR_DUPLICATE
    assert found.to_dict()["near_duplicates"][0]["similarity"] == score
    # The advice works: remove one, ingest its file again, and it joins the other.
    engine.remove(b)
    engine.ingest([seed, noisy])
    [info] = engine.documents()
    assert info.doc_id == a and len(info.sources) == 2


def test_the_top_passages_never_repeat_a_sentence(qa: BriefQA, seed: Path) -> None:
    """Neighbouring windows share overlap sentences: a passage shows only what the
    better passages of its brief do not, and stays a slice of the brief's text."""
    qa.ingest([seed])
    text = load_brief(seed).text
    for question in (
        "Which country opposed a NATO liaison office in Tokyo?",
        "What does the brief recommend for Poland?",
        "How does China figure in NATO's cooperation with the AP4?",
        "What are the limitations of cooperation?",
    ):
        hits = qa.retrieve(question, k=5)
        assert len(hits) == 5
        sentences = [h.text[a:b] for h in hits for a, b in sentence_spans(h.text)]
        assert len(sentences) == len(set(sentences)), question
        assert all(text[h.start : h.end] == h.text for h in hits)


def test_five_formats_of_one_brief_are_one_brief(qa: BriefQA, seed: Path) -> None:
    """The seed bulletin as published: a magazine PDF, DOCX, a web page, Markdown and
    the plain text, ingested together."""
    from .realistic_docs import brief_docx, brief_html, brief_markdown
    from .realistic_pdf import font_dir, magazine_pdf

    if font_dir() is None:
        pytest.skip("no DejaVu TTF fonts installed")
    layout = seed_layout()
    folder = seed.parent
    magazine_pdf(layout, folder / "bulletin-116.pdf")
    brief_docx(layout, folder / "bulletin-116.docx")
    brief_html(layout, folder / "bulletin-116.html")
    brief_markdown(layout, folder / "bulletin-116.md")
    report = qa.ingest([folder])
    assert (report.added, report.unchanged, report.failed) == (1, 4, 0), report.errors
    [info] = qa.documents()
    assert len(info.sources) == 5 and info.format == "docx"
    assert (info.title, info.number, info.date) == (layout.title, "116", "2023-08-24")
    assert info.authors == layout.authors
    assert info.sections == layout.section_names

    hits = qa.retrieve("Which country opposed a NATO liaison office in Tokyo?", k=5)
    sentences = [h.text[a:b] for h in hits for a, b in sentence_spans(h.text)]
    assert len(hits) == 5 and len(sentences) == len(set(sentences))

    # The table is kept as rows, and a question about it is answered from its row.
    answer = qa.ask("When did Australia sign its ITPP?")
    assert answer.outcome == "answered" and "8 August 2023" in answer.text
    [citation, *_] = answer.citations
    assert citation.authors == layout.authors and citation.date == "2023-08-24"
    assert "Australia" in citation.quote


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".html", ".md"])
def test_each_format_answers_from_its_table(qa: BriefQA, tmp_path: Path, suffix: str) -> None:
    from .realistic_docs import brief_docx, brief_html, brief_markdown
    from .realistic_pdf import font_dir, magazine_pdf

    builders = {
        ".pdf": magazine_pdf,
        ".docx": brief_docx,
        ".html": brief_html,
        ".md": brief_markdown,
    }
    if suffix == ".pdf" and font_dir() is None:
        pytest.skip("no DejaVu TTF fonts installed")
    path = builders[suffix](seed_layout(), tmp_path / f"bulletin-116{suffix}")
    qa.ingest([path])
    answer = qa.ask("What are the priority areas of the ITPP with South Korea?")
    assert answer.outcome == "answered", answer.text
    assert answer.text.startswith("South Korea — ITPP signed: 12 July 2023")
    assert "hybrid threats, arms control" in answer.citations[0].quote


def test_an_exact_copy_of_a_replaced_brief_follows_the_new_text(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    engine.ingest([seed])
    markdown, again = tmp_path / "a.md", tmp_path / "b.txt"
    markdown.write_text(_markdown(), encoding="utf-8")
    shutil.copy(seed, again)  # the very text of the brief the Markdown copy replaces
    engine.ingest([markdown, again])
    [info] = engine.documents()
    assert info.format == "md"
    assert set(info.sources) == {str(p.resolve()) for p in (seed, markdown, again)}
    assert engine.check().consistent


def test_when_the_kept_file_becomes_another_brief_its_copies_are_regrouped(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    markdown = _stored_with_a_markdown_copy(engine, seed, tmp_path)
    other = json.loads(CLAPNQ.read_text().splitlines()[0])
    markdown.write_text(f"# {other['title']}\n\n{other['text']}\n", encoding="utf-8")
    report = engine.ingest([markdown])
    assert (report.updated, report.failed) == (1, 0)
    briefs = {b.format: b for b in engine.documents()}
    # The bulletin lives on in its other file, read from it (not the Markdown's old text).
    assert set(briefs) == {"md", "txt"}
    assert briefs["txt"].doc_id == load_brief(seed).doc_id
    assert briefs["txt"].sources == (str(seed.resolve()),)
    assert engine.check().consistent


def test_a_repair_keeps_what_other_copies_gave_the_brief(
    engine: BriefQA, seed: Path, tmp_path: Path
) -> None:
    _stored_with_a_markdown_copy(engine, seed, tmp_path)
    [info] = engine.documents()
    engine.index.store.delete(engine.index.manifest.chunk_ids(info.doc_id)[:1])
    assert engine.check(repair=True).consistent
    [after] = engine.documents()
    assert (after.doc_id, after.number, after.date) == (info.doc_id, "116", "2023-08-24")


def test_new_readers_read_every_file_again(engine: BriefQA, seed: Path, tmp_path: Path) -> None:
    from briefqa.readers import READER_VERSION

    markdown = _stored_with_a_markdown_copy(engine, seed, tmp_path)
    assert engine.ingest([markdown, seed]).chunks == 0  # nothing changed, nothing read
    engine.index.manifest.set_meta("reader_version", "0")  # an index of older readers
    report = engine.ingest([seed])  # given one file; both are read again
    assert (report.failed, report.chunks) == (0, 0)  # the same text: nothing to embed
    assert engine.index.manifest.get_meta("reader_version") == READER_VERSION
    [info] = engine.documents()
    assert len(info.sources) == 2
