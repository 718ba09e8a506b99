"""PDF layout analysis on the seed bulletin typeset as the institute publishes it.

The fixtures (tests/realistic_pdf.py) carry everything that corrupted plain text
extraction: a running header and "Page N of M" footer, a full-width title and lead above
two columns, a footnote with its superscript marker, a ruled table, words hyphenated at
line ends and an "Indo-Pacific" broken at its hyphen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pdfplumber
import pytest

from briefqa.index.chunking import chunk_brief
from briefqa.readers import load_brief
from briefqa.readers.pdf import read_pdf
from briefqa.schema import Brief
from tests.realistic_pdf import font_dir, magazine_pdf, simple_pdf
from tests.seed_layout import Layout, seed_layout

pytestmark = pytest.mark.skipif(font_dir() is None, reason="no DejaVu TTF fonts installed")

LAYOUT = seed_layout()


@pytest.fixture(scope="module")
def magazine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return magazine_pdf(LAYOUT, tmp_path_factory.mktemp("pdf") / "bulletin-116.pdf")


@pytest.fixture(scope="module")
def simple(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simple_pdf(LAYOUT, tmp_path_factory.mktemp("pdf") / "bulletin-116-plain.pdf")


def _space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _chunk_texts(brief: Brief) -> list[str]:
    chunks = chunk_brief(brief, lambda texts: [len(t.split()) * 2 for t in texts], max_tokens=256)
    return [_space(chunk.text) for chunk in chunks]


def _intact(layout: Layout, chunks: list[str]) -> list[str]:
    """The brief's sentences that appear in no chunk."""
    return [s for s in layout.sentences() if not any(_space(s) in c for c in chunks)]


def test_the_fixture_breaks_words_at_line_ends(magazine: Path) -> None:
    with pdfplumber.open(magazine) as pdf:
        lines = [line for page in pdf.pages for line in (page.extract_text() or "").split("\n")]
    assert any(line.endswith("Indo-") for line in lines)
    assert any(re.search(r"\b[a-z]+[a-z]-$", line) for line in lines)  # "secu-", "collabora-"


def test_magazine_front_matter(magazine: Path) -> None:
    brief = load_brief(magazine)
    assert brief.title == LAYOUT.title
    assert brief.number == LAYOUT.number
    assert brief.date == LAYOUT.date.isoformat()
    assert brief.authors == LAYOUT.authors
    assert brief.sections == LAYOUT.section_names


def test_magazine_sentences_survive_intact(magazine: Path) -> None:
    brief = load_brief(magazine)
    chunks = _chunk_texts(brief)
    missing = _intact(LAYOUT, chunks)
    assert len(missing) <= 0.02 * len(LAYOUT.sentences()), missing


def test_magazine_page_furniture_is_gone(magazine: Path) -> None:
    brief = load_brief(magazine)
    chunks = _chunk_texts(brief)
    body = " ".join(chunks)
    for furniture in (
        LAYOUT.running_header,
        "PISM BULLETIN",
        "Page 1 of 3",
        "of 3",
        LAYOUT.credit,
        "South Korea.1",
        "1 The ITPPs",
    ):
        assert furniture not in body, furniture
    assert "Indo- Pacific" not in brief.text and "IndoPacific" not in brief.text
    assert "Indo-Pacific" in brief.text


def test_magazine_footnote_and_table_blocks(magazine: Path) -> None:
    brief = load_brief(magazine)
    blocks = [(b.kind, brief.text[b.start : b.end]) for b in brief.blocks]
    assert ("note", LAYOUT.footnote.text) in blocks
    assert [text for kind, text in blocks if kind == "table"] == LAYOUT.table.lines()
    paragraphs = " ".join(text for kind, text in blocks if kind == "paragraph")
    for *_, areas in LAYOUT.table.rows:
        assert areas not in paragraphs  # the table's text is not read twice
    # The anchor sentence ends without its marker.
    assert _space(LAYOUT.footnote.anchor) in paragraphs


def test_magazine_reader_declares_what_the_page_shows(magazine: Path) -> None:
    blocks, declared = read_pdf(magazine, magazine.read_bytes())
    assert declared.number == LAYOUT.number
    assert declared.date == LAYOUT.date.isoformat()  # the running header's, not /CreationDate
    assert declared.authors == LAYOUT.authors
    assert declared.title is None  # "Microsoft Word - ….docx" is no title
    kinds = [b.kind for b in blocks]
    assert kinds.count("title") == 1
    assert [b.text for b in blocks if b.kind == "heading"] == list(LAYOUT.section_names)
    assert blocks[kinds.index("title")].text == LAYOUT.title


def test_simple_one_column_pdf(simple: Path) -> None:
    brief = load_brief(simple)
    assert brief.title == LAYOUT.title
    assert (brief.number, brief.date) == (LAYOUT.number, LAYOUT.date.isoformat())
    assert brief.sections == LAYOUT.section_names
    chunks = _chunk_texts(brief)
    missing = _intact(LAYOUT, chunks)
    assert len(missing) <= 0.02 * len(LAYOUT.sentences()), missing
    body = " ".join(chunks)
    assert "PISM BULLETIN" not in body and "Page 2 of" not in body
    assert "Indo- Pacific" not in brief.text and "IndoPacific" not in brief.text
