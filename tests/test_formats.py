"""DOCX, HTML and Markdown briefs as they really arrive (issue 16).

The seed bulletin, laid out by tests/realistic_docs.py the way each format carries it,
must come back with the same metadata, sections, sentences, table rows and footnote,
and with none of the format's markup, markers or boilerplate in any chunk. Then the
edge cases, one by one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from briefqa.index.chunking import chunk_brief
from briefqa.readers import load_brief
from briefqa.readers.markdown_text import front_matter, read_markdown
from briefqa.schema import Brief

from .realistic_docs import brief_docx, brief_html, brief_markdown, docx_body_xml
from .seed_layout import Layout, seed_layout

LAYOUT = seed_layout()
BUILDERS: dict[str, tuple[Callable[[Layout, Path], Path], str]] = {
    "docx": (brief_docx, "brief.docx"),
    "html": (brief_html, "brief.html"),
    "md": (brief_markdown, "brief.md"),
}
BODY = (
    "The Alliance agreed a new programme of cooperation with its partners in the region. "
    "Officials said the programme covers cyber defence, maritime security and training. "
)


def _space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _texts(brief: Brief, kind: str) -> list[str]:
    return [brief.text[b.start : b.end] for b in brief.blocks if b.kind == kind]


@pytest.fixture(params=list(BUILDERS))
def built(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Brief]:
    build, name = BUILDERS[request.param]
    return request.param, load_brief(build(LAYOUT, tmp_path / name))


def test_metadata_and_sections(built: tuple[str, Brief]) -> None:
    fmt, brief = built
    assert brief.format == fmt
    assert brief.title == LAYOUT.title
    assert brief.number == LAYOUT.number == "116"
    assert brief.date == "2023-08-24"
    assert brief.authors == LAYOUT.authors
    assert brief.sections == LAYOUT.section_names


def test_sentences_survive_whole_in_the_chunks(built: tuple[str, Brief]) -> None:
    _, brief = built
    chunks = chunk_brief(brief, lambda texts: [len(t.split()) * 2 for t in texts], max_tokens=256)
    texts = [_space(c.text) for c in chunks]
    sentences = LAYOUT.sentences()
    missing = [s for s in sentences if not any(_space(s) in t for t in texts)]
    assert len(missing) <= 0.02 * len(sentences), missing


def test_no_markup_markers_or_boilerplate_in_any_chunk(built: tuple[str, Brief]) -> None:
    _, brief = built
    chunks = chunk_brief(brief, lambda texts: [len(t.split()) * 2 for t in texts], max_tokens=256)
    leaks = [
        "| PISM",
        LAYOUT.credit,
        "Reuters/Forum",
        "[^1]",
        "|---",
        "| :---",
        "<sup>",
        "</",
        "↩",
        "**",
        "![",
        "South Korea.1",
        "South Korea. 1 ",
        "Skip to content",
        "About us",
        "All rights reserved",
        "Related publications",
        "Cookie",
        "PISM BULLETIN",  # the DOCX running header
        "---",
        "briefqatable",
    ]
    for chunk in chunks:
        found = [leak for leak in leaks if leak in chunk.text]
        assert not found, (found, chunk.text[:200])
    assert not any("By Anna Kowalska" in c.text for c in chunks)


def test_the_footnote_is_a_note(built: tuple[str, Brief]) -> None:
    _, brief = built
    assert _texts(brief, "note") == [LAYOUT.footnote.text]
    anchor = next(p for p in _texts(brief, "paragraph") if LAYOUT.footnote.anchor in p)
    assert f"{LAYOUT.footnote.anchor} Following the summit" in anchor


def test_the_table_rows_are_table_blocks(built: tuple[str, Brief]) -> None:
    _, brief = built
    assert _texts(brief, "table") == LAYOUT.table.lines()
    rows = [b for b in brief.blocks if b.kind == "table"]
    assert {b.section for b in rows} == {LAYOUT.table.section}


def test_the_docx_fixture_is_real_word_markup(tmp_path: Path) -> None:
    """The footnote is a real one (python-docx's paragraph.text would not show its
    marker, and would not show the note at all)."""
    path = brief_docx(LAYOUT, tmp_path / "brief.docx")
    assert '<w:footnoteReference w:id="1"/>' in docx_body_xml(path)
    paragraphs = docx.Document(str(path)).paragraphs
    assert not any(LAYOUT.footnote.text in p.text for p in paragraphs)


# ----------------------------------------------------------------------------- DOCX


def _plain_table(path: Path, rows: list[list[str]], *, bold_first: bool = False) -> Path:
    document = docx.Document()
    document.add_heading("Sahel Stability", level=0)
    document.add_paragraph(BODY)
    table = document.add_table(rows=0, cols=len(rows[0]))
    for i, values in enumerate(rows):
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.paragraphs[0].add_run(value).bold = bold_first and i == 0
    document.add_paragraph(BODY)
    document.save(str(path))
    return path


def test_docx_table_without_a_header_row(tmp_path: Path) -> None:
    path = _plain_table(tmp_path / "t.docx", [["Mali", "coup in 2021"], ["Niger", "coup in 2023"]])
    brief = load_brief(path)
    assert _texts(brief, "table") == ["Mali — coup in 2021", "Niger — coup in 2023"]
    # In document order: between the two paragraphs.
    assert [b.kind for b in brief.blocks] == ["meta", "paragraph", "table", "table", "paragraph"]


def test_docx_bold_first_row_is_a_header(tmp_path: Path) -> None:
    path = _plain_table(
        tmp_path / "t.docx",
        [["Country", "Event"], ["Mali", "coup in 2021"], ["Niger", "coup in 2023"]],
        bold_first=True,
    )
    assert _texts(load_brief(path), "table") == [
        "Mali — Event: coup in 2021",
        "Niger — Event: coup in 2023",
    ]


def test_docx_merged_cells_keep_the_grid(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph(BODY)
    table = document.add_table(rows=3, cols=3)
    for r, values in enumerate([["Region", "Country", "Status"], ["Sahel", "Mali", "coup"]]):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    table.cell(2, 1).text = "Niger"
    table.cell(2, 2).text = "coup"
    table.cell(1, 0).merge(table.cell(2, 0))  # "Sahel" spans two rows
    table.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))
    path = tmp_path / "merged.docx"
    document.save(str(path))
    assert _texts(load_brief(path), "table") == [
        "Sahel — Country: Mali; Status: coup",
        "Sahel — Country: Niger; Status: coup",
    ]


def test_docx_endnotes_tracked_insertions_and_hidden_text(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Sahel Stability", level=0)
    p = document.add_paragraph("The junta expelled the mission")
    p._p.append(
        parse_xml(
            f"<w:ins {nsdecls('w')} w:id='9' w:author='Ed'><w:r><w:t xml:space='preserve'>"
            " in 2023</w:t></w:r></w:ins>"
        )
    )
    p._p.append(parse_xml(f"<w:r {nsdecls('w')}><w:rPr><w:vanish/></w:rPr><w:t>SECRET</w:t></w:r>"))
    p.add_run(". " + BODY)
    path = tmp_path / "edits.docx"
    document.save(str(path))
    brief = load_brief(path)
    assert f"The junta expelled the mission in 2023. {BODY.strip()}" in brief.text
    assert "SECRET" not in brief.text


def test_docx_core_properties_are_declared_metadata(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph(BODY)
    props = document.core_properties
    props.title = "Sahel Stability"
    props.author = "Anna Kowalska; Piotr Nowak"
    props.created = dt.datetime(2025, 1, 15, 10, 0)
    path = tmp_path / "props.docx"
    document.save(str(path))
    brief = load_brief(path)
    assert (brief.title, brief.date) == ("Sahel Stability", "2025-01-15")
    assert brief.authors == ("Anna Kowalska", "Piotr Nowak")


def test_docx_from_python_docx_template_has_no_invented_date(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Sahel Stability", level=0)
    document.add_paragraph(BODY)
    path = tmp_path / "plain.docx"
    document.save(str(path))
    brief = load_brief(path)
    assert brief.date is None and brief.authors == ()


# ----------------------------------------------------------------------------- HTML


def _page(head: str, article: str) -> str:
    return (
        f"<html><head><title>Baltic Energy | Institute</title>{head}</head><body>"
        "<nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>"
        f"<article><h1>Baltic Energy</h1>{article}<p>{BODY * 3}</p>"
        f"<h2>Grid Links</h2><p>{BODY * 3}</p></article>"
        "<footer>Copyright 2024 Institute. All rights reserved.</footer></body></html>"
    )


def test_html_date_only_in_json_ld(tmp_path: Path) -> None:
    ld = '{"@context": "https://schema.org", "@type": "Article", "datePublished": "2024-05-12"}'
    path = tmp_path / "ld.html"
    path.write_text(_page(f'<script type="application/ld+json">{ld}</script>', ""))
    brief = load_brief(path)
    assert brief.date == "2024-05-12"
    assert brief.title == "Baltic Energy"
    assert "schema.org" not in brief.text


def test_html_date_only_in_a_time_element(tmp_path: Path) -> None:
    path = tmp_path / "time.html"
    path.write_text(
        _page("", '<p class="meta"><time datetime="2024-05-12T09:00">Sunday</time></p>')
    )
    assert load_brief(path).date == "2024-05-12"


def test_html_byline_and_catalogue_authors(tmp_path: Path) -> None:
    path = tmp_path / "authors.html"
    path.write_text(
        _page(
            '<meta name="citation_author" content="Kowalska, Anna">'
            '<meta name="citation_author" content="Nowak, Piotr">',
            "",
        )
    )
    assert load_brief(path).authors == ("Anna Kowalska", "Piotr Nowak")
    path.write_text(_page("", '<p class="byline">By Ewa Lis</p>'))
    assert load_brief(path).authors == ("Ewa Lis",)


def test_html_table_without_header_and_with_spans(tmp_path: Path) -> None:
    table = (
        "<table><tr><td rowspan='2'>Baltic</td><td>Estonia</td><td>synchronised</td></tr>"
        "<tr><td>Latvia</td><td>synchronised</td></tr>"
        "<tr><td colspan='2'>Finland</td><td>already</td></tr></table>"
    )
    path = tmp_path / "table.html"
    path.write_text(_page("", f"<p>{BODY}</p>{table}"))
    assert _texts(load_brief(path), "table") == [
        "Baltic — Estonia — synchronised",
        "Baltic — Latvia — synchronised",
        "Finland — already",
    ]


def test_html_word_style_footnotes(tmp_path: Path) -> None:
    """Word's "Save as Web Page": bracketed markers linking to anchors in the notes."""
    article = (
        f"<p>The grid was synchronised in February 2025.<a href='#_ftn1' name='_ftnref1'>"
        f"<sup>[1]</sup></a> {BODY}</p>"
    )
    notes = (
        "<div><hr><div id='ftn1'><p><a href='#_ftnref1' name='_ftn1'>[1]</a>"
        " ENTSO-E, press release, 9 February 2025.</p></div></div>"
    )
    path = tmp_path / "word.html"
    path.write_text(_page("", article).replace("</article>", f"{notes}</article>"))
    brief = load_brief(path)
    assert _texts(brief, "note") == ["ENTSO-E, press release, 9 February 2025."]
    assert "February 2025. The Alliance" in brief.text
    assert "[1]" not in brief.text


def test_html_layout_table_is_left_to_the_extractor(tmp_path: Path) -> None:
    path = tmp_path / "layout.html"
    path.write_text(
        "<html><head><title>Baltic Energy</title></head><body><table><tr>"
        f"<td><a href='/'>Home</a></td><td><h1>Baltic Energy</h1><p>{BODY * 6}</p>"
        f"<h2>Grid Links</h2><p>{BODY * 6}</p></td></tr></table></body></html>"
    )
    brief = load_brief(path)
    assert brief.sections == ("Grid Links",)
    assert not _texts(brief, "table")


# -------------------------------------------------------------------------- Markdown


def test_markdown_table_cells_with_escaped_pipes_and_markup() -> None:
    text = (
        f"# Arctic\n\n{BODY}\n\n"
        "| Route | Notes |\n"
        "|-------|------:|\n"
        "| **Northern Sea** | ice \\| open in `summer \\| autumn` |\n"
        "| [Northwest](http://example.org) | closed[^2] |\n"
        "Transpolar | planned |\n\n"
        f"{BODY}\n\n[^2]: Since 2021.\n"
    )
    blocks, _ = read_markdown(text)
    table = next(b for b in blocks if b.kind == "table")
    assert table.header
    assert table.rows == [
        ["Route", "Notes"],
        ["Northern Sea", "ice | open in summer | autumn"],
        ["Northwest", "closed"],
        ["Transpolar", "planned"],
    ]
    assert [b.text for b in blocks if b.kind == "note"] == ["Since 2021."]


def test_markdown_pipes_in_text_are_not_a_table() -> None:
    blocks, _ = read_markdown(f"{BODY} a | b\n\nnot | a | table\n---\n")
    assert not any(b.kind == "table" for b in blocks)


def test_markdown_front_matter_authors_as_a_string(tmp_path: Path) -> None:
    path = tmp_path / "string.md"
    path.write_text(
        "---\ntitle: Arctic Shipping\ndate: '2024-03-05T10:00:00Z'\nnumber: \"No. 7\"\n"
        f"author: Anna Kowalska and Piotr Nowak\n---\n\n{BODY}\n"
    )
    brief = load_brief(path)
    assert (brief.title, brief.number, brief.date) == ("Arctic Shipping", "7", "2024-03-05")
    assert brief.authors == ("Anna Kowalska", "Piotr Nowak")
    assert "author:" not in brief.text and "Kowalska" not in brief.text


def test_front_matter_forms() -> None:
    assert front_matter(
        "authors: [Anna Kowalska, 'Piotr Nowak']\ntags:\n  - a\n  - b\n"
        "author:\n  - name: Ewa Lis\n# a comment\nnumber: 116 # issue\n"
    ) == {
        "authors": ["Anna Kowalska", "Piotr Nowak"],
        "tags": ["a", "b"],
        "author": ["Ewa Lis"],
        "number": "116",
    }


def test_markdown_footnotes_multi_line_and_inline() -> None:
    text = (
        f"{BODY}[^b] More text.[^a] And ^[an inline note].\n\n"
        "[^a]: First line\n    continued here.\n\n"
        "[^b]: Referred to first.\n\n"
        f"{BODY}\n"
    )
    blocks, _ = read_markdown(text)
    assert [b.text for b in blocks if b.kind == "note"] == [
        "Referred to first.",
        "First line\ncontinued here.",
        "an inline note",
    ]
    body = [b.text for b in blocks if b.kind == "paragraph"]
    assert body[0] == f"{BODY} More text. And ."
    assert body[1] == BODY.rstrip("\n")


def test_html_data_table_inside_a_layout_table(tmp_path: Path) -> None:
    data = (
        "<table><tr><th>Country</th><th>Grid</th></tr><tr><td>Estonia</td><td>EU</td></tr></table>"
    )
    path = tmp_path / "nested.html"
    path.write_text(
        "<html><head><title>Baltic Energy</title></head><body><table><tr>"
        f"<td><a href='/'>Home</a></td><td><h1>Baltic Energy</h1><p>{BODY * 6}</p>{data}"
        f"<h2>Grid Links</h2><p>{BODY * 6}</p></td></tr></table></body></html>"
    )
    brief = load_brief(path)
    assert _texts(brief, "table") == ["Estonia — Grid: EU"]
    assert brief.sections == ("Grid Links",)
