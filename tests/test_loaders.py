"""Loaders: the seed bulletin's layout, every format, and clear errors for bad files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from briefqa import DocumentError, UnsupportedFormat, load_brief
from briefqa.readers import markdown_blocks
from briefqa.readers.blocks import RawBlock

from .conftest import SEED

BODY = (
    "The Alliance agreed a new programme of cooperation with its partners in the region. "
    "Officials said the programme covers cyber defence, maritime security and training. "
)


def test_seed_bulletin_metadata_and_sections() -> None:
    brief = load_brief(SEED)
    assert brief.title == "NATO Intensifies Cooperation with Indo-Pacific Partners"
    assert brief.number == "116"
    assert brief.date == "2023-08-24"
    assert brief.sections == (
        "Basis for Cooperation",
        "Opportunities",
        "Limitations",
        "Conclusions",
    )
    assert brief.format == "txt"
    assert len(brief.sha256) == 64
    assert "KACPER PEMPEL" not in brief.text and "Reuters/Forum" not in brief.text
    lead = next(b for b in brief.blocks if b.kind == "paragraph")
    assert brief.text[lead.start : lead.end].startswith("The participation of the leaders")
    assert lead.section is None
    limitations = [b for b in brief.blocks if b.section == "Limitations" and b.kind == "paragraph"]
    assert "France’s opposition" in brief.text[limitations[0].start : limitations[0].end]


def test_doc_id_is_derived_from_content(tmp_path: Path) -> None:
    copy = tmp_path / "other-name.txt"
    copy.write_bytes(SEED.read_bytes().replace(b"\n", b"\r\n"))
    assert load_brief(copy).doc_id == load_brief(SEED).doc_id
    edited = tmp_path / "edited.txt"
    edited.write_text(SEED.read_text().replace("France", "Spain"))
    assert load_brief(edited).doc_id != load_brief(SEED).doc_id


def test_block_offsets_point_into_normalised_text() -> None:
    brief = load_brief(SEED)
    for block in brief.blocks:
        piece = brief.text[block.start : block.end]
        assert piece == piece.strip() and piece
        assert "\n" not in piece


def test_markdown_with_front_matter_headings_and_inline_markup(tmp_path: Path) -> None:
    path = tmp_path / "brief.md"
    path.write_text(
        '---\ntitle: "Arctic Security"\ndate: 2024-03-05\n---\n\n'
        "No. 42\n\n"
        f"{BODY}See [the report](http://example.org) and **bold** claims.\n\n"
        "## Shipping Routes\n\n- first item\n- second item\n\n"
        f"## Outlook\n\n{BODY}\n"
    )
    brief = load_brief(path)
    assert (brief.title, brief.number, brief.date) == ("Arctic Security", "42", "2024-03-05")
    assert brief.sections == ("Shipping Routes", "Outlook")
    assert "See the report and bold claims." in brief.text
    assert "http://" not in brief.text and "**" not in brief.text
    items = [brief.text[b.start : b.end] for b in brief.blocks if b.section == "Shipping Routes"]
    assert items == ["Shipping Routes", "first item", "second item"]


def test_html_keeps_main_content_only(tmp_path: Path) -> None:
    path = tmp_path / "brief.html"
    path.write_text(
        "<html><head><title>Baltic Energy | Institute</title>"
        "<script>var secret = 'tracking';</script><style>p{color:red}</style></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>"
        "<article><h1>Baltic Energy</h1><p>Bulletin No. 7, 12 May 2024</p>"
        f"<p>{BODY * 3}</p><h2>Grid Links</h2><p>{BODY * 3}</p></article>"
        "<footer>Copyright 2024 Institute. All rights reserved.</footer></body></html>",
        encoding="utf-8",
    )
    brief = load_brief(path)
    assert brief.title == "Baltic Energy"
    assert brief.date == "2024-05-12" and brief.number == "7"
    assert brief.sections == ("Grid Links",)
    assert "tracking" not in brief.text and "color" not in brief.text
    assert "About us" not in brief.text and "All rights reserved" not in brief.text


def test_docx_headings_from_styles(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Sahel Stability", level=0)
    document.add_paragraph("15.01.2025")
    document.add_paragraph(BODY * 2)
    document.add_heading("Migration", level=1)
    document.add_paragraph(BODY)
    path = tmp_path / "brief.docx"
    document.save(path)
    brief = load_brief(path)
    assert brief.title == "Sahel Stability"
    assert brief.date == "2025-01-15"
    assert brief.sections == ("Migration",)
    assert brief.format == "docx"


def _pdf(path: Path, pages: list[list[str]]) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_pages_paragraphs_and_hyphenation(tmp_path: Path) -> None:
    full = "The partners agreed to deepen cooperation on maritime domain aware-"
    path = _pdf(
        tmp_path / "brief.pdf",
        [
            [
                "Energy Security in the North",
                "",
                "No. 12",
                "",
                "03.02.2024",
                "",
                full,
                "ness and on the protection of undersea cables in the region.",
                "",
                "Undersea Cables",
                "",
                "Cables carry most of the data traffic between the continents and are hard",
                "to protect along their whole length on the seabed.",
                "",
                "1",
            ],
            [
                "Repairs take weeks because few ships in the world are equipped for them,",
                "and the companies that own them are private.",
                "",
                "2",
            ],
        ],
    )
    brief = load_brief(path)
    assert brief.title == "Energy Security in the North"
    assert (brief.number, brief.date) == ("12", "2024-02-03")
    assert "maritime domain awareness and" in brief.text
    assert brief.sections == ("Undersea Cables",)
    pages = {brief.text[b.start : b.end][:7]: b.page for b in brief.blocks if b.kind == "paragraph"}
    assert pages == {"The par": 1, "Cables ": 1, "Repairs": 2}
    texts = [brief.text[b.start : b.end] for b in brief.blocks]
    assert "1" not in texts and "2" not in texts  # running page numbers are dropped


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n\t \n", "empty"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 this is no zip", "not a readable .docx"),
        ("notes.rtf", b"{\\rtf1 hello}", "unsupported file type"),
    ],
)
def test_bad_files_raise_clear_errors(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason) as caught:
        load_brief(path)
    assert caught.value.path == str(path)


def test_unsupported_format_is_a_document_error(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"data")
    with pytest.raises(UnsupportedFormat):
        load_brief(path)


def test_password_protected_pdf(tmp_path: Path) -> None:
    plain = _pdf(tmp_path / "plain.pdf", [["Secret Brief", "", "Some text of the brief here."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("hunter2")
    locked = tmp_path / "locked.pdf"
    with open(locked, "wb") as handle:
        writer.write(handle)
    with pytest.raises(DocumentError, match="password-protected"):
        load_brief(locked)


def test_non_utf8_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(f"Défense européenne\n\n{BODY}Coût: 5 €.".encode("cp1252"))
    brief = load_brief(path)
    assert brief.title == "Défense européenne"
    assert "Coût: 5 €." in brief.text


def test_docx_zip_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (250 * 1024 * 1024))
    path = tmp_path / "bomb.docx"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DocumentError, match="zip bomb"):
        load_brief(path)


def test_markdown_setext_headings(tmp_path: Path) -> None:
    path = tmp_path / "setext.md"
    path.write_text(
        f"Big Title\n=========\n\nSection One\n-----------\n\n{BODY}\n\nTwo\n---\n\n{BODY}\n"
    )
    brief = load_brief(path)
    assert brief.title == "Big Title"
    assert brief.sections == ("Section One", "Two")
    assert "=" not in brief.text and "---" not in brief.text


def test_markdown_front_matter_may_end_the_file_without_newline() -> None:
    assert markdown_blocks('---\ntitle: "Arctic"\n---') == [RawBlock("title", "Arctic")]
    blocks = markdown_blocks(f"---\ntitle: Arctic\ndate: 2024-03-05\n---\n{BODY}")
    assert [b.kind for b in blocks] == ["title", "paragraph", "paragraph"]
    assert not any("title:" in b.text for b in blocks)


def test_markdown_code_fences_hold_no_headings(tmp_path: Path) -> None:
    path = tmp_path / "fence.md"
    path.write_text(
        f"# Title\n\n{BODY}\n\n```bash\n# not a heading\n- not a list\n```\n\n"
        f"~~~\n## nor this\n~~~\n\n## Real\n\n{BODY}\n"
    )
    brief = load_brief(path)
    assert brief.sections == ("Real",)
    assert "# not a heading - not a list" in brief.text
    assert "## nor this" in brief.text


def test_stray_control_characters_are_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "weird.txt"
    path.write_bytes(b"Title\n\n\x0bHello there\x1b friend. A second sentence.")
    brief = load_brief(path)
    assert brief.title == "Title"
    assert "Hello there friend. A second sentence." in brief.text
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"Title\n\n" + b"ab\x01\x02\x03" * 40)
    with pytest.raises(DocumentError, match="binary"):
        load_brief(binary)


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "c1.txt"
    path.write_bytes(b"Title line\n\nSome text with \x81 byte in it, caf\xe9. " + BODY.encode())
    brief = load_brief(path)
    assert brief.title == "Title line"
    assert "Some text with byte in it, café." in brief.text


def test_long_titles_and_headings_are_cut_at_a_word(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(300))
    path = tmp_path / "long.md"
    path.write_text(f"# {words}\n\n## {words}\n\n{BODY}\n")
    brief = load_brief(path)
    for label in (brief.title, brief.sections[0]):
        assert len(label) <= 200 and label.endswith("…")
        assert words.startswith(label[:-1]) and words[len(label) - 1] == " "
