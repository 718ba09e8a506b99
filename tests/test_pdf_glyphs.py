"""PDFium's glyphs and shapes (briefqa.readers.pdf_glyphs) against pdfplumber's, through the
layout's own word builder: the words must come out the same, so that the layout reads a
page alike whichever parser gave it the characters.

Run as a script for the whole benchmark (every producer PDF): the time per page of
both parsers, how the characters compare, and the files whose words differ::

    .venv/bin/python tests/test_pdf_glyphs.py [file.pdf ...]
"""

from __future__ import annotations

import difflib
import io
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pdfplumber
import pypdfium2

from briefqa.readers.pdf import Word, _page_words
from briefqa.readers.pdf_glyphs import font_descents, page_chars, page_shapes, page_size

PDFS = Path(__file__).resolve().parent.parent / "benchmarks" / "producers" / "pdfs"

#: One brief from each of the producers the reader meets most.
SAMPLES = (
    "chromium-three-column-key-points.pdf",
    "latex-two-column.pdf",
    "libreoffice-sidebar.pdf",
    "weasyprint-sidebar.pdf",
)
TOLERANCE = 0.5  # points

#: Presentation-form ligatures: pdfplumber keeps "ﬁ" where the font maps the glyph to
#: U+FB01; PDFium gives the letters.
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)


@dataclass
class Comparison:
    """How the words of one PDF come out from each parser's characters."""

    path: Path
    pages: int = 0
    words: int = 0  # pdfplumber's
    #: words whose text differs (beyond ligatures), or missing or extra on one side
    text_differences: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    #: words alike but for a box edge, the size or the font beyond the tolerance
    box_differences: list[tuple[int, Word, Word]] = field(default_factory=list)
    #: words that differ only as "ﬁ" and "fi"
    ligatures: int = 0

    @property
    def identical(self) -> bool:
        return not self.text_differences and not self.box_differences


def _words_alike(a: Word, b: Word) -> bool:
    return (
        max(abs(a.x0 - b.x0), abs(a.x1 - b.x1), abs(a.top - b.top), abs(a.bottom - b.bottom))
        <= TOLERANCE
        and abs(a.size - b.size) <= 0.05
        and a.font == b.font
    )


def compare(path: Path) -> Comparison:
    """pdf.py's ``_page_words`` on pdfplumber's chars and on PDFium's, page by page:
    the words matched in order by their text (a "ﬁ" matches "fi"), then their boxes,
    sizes and fonts."""
    data = path.read_bytes()
    out = Comparison(path)
    descents = font_descents(data)
    document = pypdfium2.PdfDocument(data)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            out.pages = len(pdf.pages)
            for number, (plumbed, page) in enumerate(zip(pdf.pages, document, strict=True), 1):
                theirs = _page_words(plumbed.chars)
                ours = _page_words(page_chars(page, descents))
                out.words += len(theirs)
                _match(number, theirs, ours, out)
    finally:
        document.close()
    return out


def _match(number: int, theirs: list[Word], ours: list[Word], out: Comparison) -> None:
    keys = [w.text.translate(_LIGATURES) for w in theirs]
    matcher = difflib.SequenceMatcher(a=keys, b=[w.text for w in ours], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            out.text_differences.append(
                (number, [w.text for w in theirs[i1:i2]], [w.text for w in ours[j1:j2]])
            )
            continue
        for a, b in zip(theirs[i1:i2], ours[j1:j2], strict=True):
            out.ligatures += a.text != b.text
            if not _words_alike(a, b):
                out.box_differences.append((number, a, b))


# ----------------------------------------------------------------------------- tests


def test_words_are_the_same_from_pdfium_and_pdfplumber() -> None:
    for name in SAMPLES:
        result = compare(PDFS / name)
        assert result.words > 500, name
        assert result.text_differences == [], name
        assert result.box_differences == [], name


def test_only_glyphs_drawn_in_the_file_come_back() -> None:
    """PDFium's generated spaces and line breaks are not chars: pdfTeX draws no spaces
    at all; its ligatures are one char again ("fi" one glyph); the hyphen PDFium marks
    as U+0002 at a line end is a "-"."""
    with pypdfium2.PdfDocument(PDFS / "latex-two-column.pdf") as document:
        chars = [c for page in document for c in page_chars(page)]
    texts = Counter(c["text"] for c in chars)
    assert not {" ", "\r", "\n", "\x02", "\ufffe"} & set(texts)
    assert texts["fi"] > 0 and texts["-"] > 0
    first = chars[0]
    assert set(first) == {"text", "x0", "x1", "top", "bottom", "size", "fontname", "upright"}
    assert first["upright"] is True and first["fontname"] == "NimbusSanL-Regu"


def test_the_sidebar_box_is_among_the_shapes() -> None:
    with pypdfium2.PdfDocument(PDFS / "chromium-three-column-key-points.pdf") as document:
        page = document[0]
        shapes = page_shapes(page)
        assert page_size(page) == (594.9599609375, 841.9199829101562)
    sidebar = [s for s in shapes if s[2] - s[0] >= 60 and s[3] - s[1] >= 20 and s[1] > 100]
    assert len(sidebar) == 1
    x0, top, x1, bottom = sidebar[0]
    assert (x0, top, x1, bottom) == (220.5, 240.0, 375.0, 362.25)


def test_shapes_match_pdfplumbers_rects_curves_and_images() -> None:
    for name in ("libreoffice-table-ruled.pdf", "weasyprint-floated-table.pdf"):
        data = (PDFS / name).read_bytes()
        with pdfplumber.open(io.BytesIO(data)) as pdf, pypdfium2.PdfDocument(data) as document:
            for plumbed, page in zip(pdf.pages, document, strict=True):
                ours = page_shapes(page)
                for box in _plumber_shapes(plumbed):
                    match = next((o for o in ours if _near(box, o, 0.01)), None)
                    assert match is not None, (name, box)
                    ours.remove(match)
                assert ours == [], name


def test_forms_and_a_moved_media_box() -> None:
    """A form XObject's paths (under its /Matrix and the ``cm`` before ``Do``) and text
    are found; a stroked single line is a ruling, not a shape; coordinates run from the
    MediaBox's top left corner even where it is not at (0, 0)."""
    document = pypdfium2.PdfDocument(_form_pdf())
    page = document[0]
    assert page_size(page) == (612.0, 792.0)
    assert sorted(page_shapes(page)) == [
        (40.0, 667.0, 140.0, 717.0),  # the form's box, drawn at (60, 105) - (20, 30)
        (180.0, 482.0, 300.0, 522.0),  # the page's own rectangle
        (300.0, 267.0, 500.0, 317.0),  # the form again, twice as wide
    ]
    words = [w.text for w in _page_words(page_chars(page, {"Helvetica": -0.207}))]
    assert words == ["Hello", "world", "Form", "text", "Form", "text"]
    hello = next(c for c in page_chars(page, {"Helvetica": -0.207}) if c["text"] == "H")
    assert abs(hello["x0"] - 52.0) < 0.01  # 72 in the file, less the MediaBox's 20
    assert abs(hello["bottom"] - (822 - 700 + 0.207 * 10)) < 0.01
    document.close()


def test_declared_descents_are_read_for_pdfminers_boxes() -> None:
    """LibreOffice declares a descent of 0, which pdfminer takes as it is; PDFium puts
    the font's bounding box in its place."""
    descents = font_descents((PDFS / "libreoffice-sidebar.pdf").read_bytes())
    assert descents["LiberationSerif"] == 0.0
    assert descents["CAAAAA+LiberationSerif"] == 0.0
    assert font_descents((PDFS / "latex-two-column.pdf").read_bytes())["NimbusSanL-Regu"] == (
        -0.213
    )
    assert font_descents(b"not a pdf") == {}


# ---------------------------------------------------------------------------- helpers


def _near(a: tuple[float, ...], b: tuple[float, ...], tolerance: float) -> bool:
    return max(abs(p - q) for p, q in zip(a, b, strict=True)) < tolerance


def _plumber_shapes(page: Any) -> list[tuple[float, float, float, float]]:
    return [
        (float(o["x0"]), float(o["top"]), float(o["x1"]), float(o["bottom"]))
        for o in (*page.rects, *page.curves, *page.images)
    ]


def _form_pdf() -> bytes:
    """A page whose MediaBox starts at (20, 30), drawing a form XObject (a filled box,
    a stroked line and text, under the form's /Matrix) twice, a rectangle and text."""
    form = (
        b"0 0 m 100 0 l 100 50 l 0 50 l h f 10 10 m 90 40 l S "
        b"BT /F1 12 Tf 5 60 Td (Form text) Tj ET"
    )
    content = (
        b"q 1 0 0 1 50 100 cm /Fm1 Do Q 200 300 120 40 re S "
        b"BT /F1 10 Tf 72 700 Td (Hello world) Tj ET q 2 0 0 1 300 500 cm /Fm1 Do Q"
    )

    def stream(data: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)

    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [20 30 632 822] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> /XObject << /Fm1 6 0 R >> >> >>",
        stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(
            form,
            b"/Type /XObject /Subtype /Form /BBox [0 0 200 100] /Matrix [1 0 0 1 10 5]"
            b" /Resources << /Font << /F1 5 0 R >> >>",
        ),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# ----------------------------------------------------------------------------- report


def _char_fidelity(path: Path) -> dict[str, float]:
    """pdfplumber's non-space chars matched to PDFium's of the same text (a ligature's
    letters, one char in each) at the nearest origin: how many are found, and how far
    their boxes, sizes and fonts are apart."""
    data = path.read_bytes()
    descents = font_descents(data)
    found = within = fonts = total = 0
    size_gap = edge_gap = 0.0
    spaces = [0, 0]
    with pdfplumber.open(io.BytesIO(data)) as pdf, pypdfium2.PdfDocument(data) as document:
        for plumbed, page in zip(pdf.pages, document, strict=True):
            ours = page_chars(page, descents)
            spaces[0] += sum(c["text"].isspace() for c in plumbed.chars)
            spaces[1] += sum(c["text"].isspace() for c in ours)
            by_text: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for char in ours:
                by_text[char["text"]].append(char)
            for char in plumbed.chars:
                if char["text"].isspace():
                    continue
                total += 1
                candidates = by_text.get(char["text"].translate(_LIGATURES), [])
                best = min(
                    candidates,
                    key=lambda c: abs(c["x0"] - char["x0"]) + abs(c["bottom"] - char["bottom"]),
                    default=None,
                )
                if (
                    best is None
                    or abs(best["x0"] - char["x0"]) + abs(best["top"] - char["top"]) > 2
                ):
                    continue
                found += 1
                gap = max(abs(best[k] - char[k]) for k in ("x0", "x1", "top", "bottom"))
                edge_gap = max(edge_gap, gap)
                within += gap <= TOLERANCE
                size_gap = max(size_gap, abs(best["size"] - char["size"]))
                fonts += best["fontname"].split("+")[-1] == char["fontname"].split("+")[-1]
    return {
        "found": found / max(total, 1),
        "within": within / max(total, 1),
        "edge": edge_gap,
        "size": size_gap,
        "fonts": fonts / max(found, 1),
        "spaces_plumber": spaces[0],
        "spaces_pdfium": spaces[1],
    }


def _timings(path: Path, repeats: int = 3) -> tuple[float, float]:
    """Milliseconds a page: pdfplumber's chars, rects, curves and images; PDFium's chars
    and shapes (with the font descents read once). The best of ``repeats`` runs."""
    data = path.read_bytes()
    plumber = pdfium = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            pages = len(pdf.pages)
            for page in pdf.pages:
                _ = page.chars, _plumber_shapes(page)
                page.close()
        plumber = min(plumber, time.perf_counter() - start)
        start = time.perf_counter()
        descents = font_descents(data)
        with pypdfium2.PdfDocument(data) as document:
            for page in document:
                page_chars(page, descents), page_shapes(page)
        pdfium = min(pdfium, time.perf_counter() - start)
    return 1000 * plumber / pages, 1000 * pdfium / pages


def main(paths: list[Path]) -> int:
    print(f"{'file':42} {'pages':>5} {'plumber':>8} {'pdfium':>7}  words  identical")
    speeds: list[tuple[float, float]] = []
    failures: list[Comparison] = []
    for path in paths:
        plumber, pdfium = _timings(path)
        speeds.append((plumber, pdfium))
        result = compare(path)
        note = "yes" if result.identical else "NO"
        if result.ligatures:
            note += f" ({result.ligatures} ﬁ/fi)"
        print(
            f"{path.name:42} {result.pages:5} {plumber:6.1f}ms {pdfium:5.1f}ms"
            f" {result.words:6}  {note}"
        )
        if not result.identical:
            failures.append(result)
    mean_plumber = statistics.mean(s[0] for s in speeds)
    mean_pdfium = statistics.mean(s[1] for s in speeds)
    print(f"{'mean':48} {mean_plumber:6.1f}ms {mean_pdfium:5.1f}ms")
    print()
    print(f"{'chars (pdfplumber non-space)':42} found  ≤0.5pt  max-edge  max-size  fonts  spaces")
    for path in paths:
        f = _char_fidelity(path)
        print(
            f"{path.name:42} {f['found']:5.3f} {f['within']:6.3f} {f['edge']:8.2f}"
            f" {f['size']:9.3f} {f['fonts']:6.3f}"
            f"  {f['spaces_plumber']:.0f}/{f['spaces_pdfium']:.0f}"
        )
    for result in failures:
        print(f"\n{result.path.name}: words differ")
        for page, theirs, ours in result.text_differences[:5]:
            print(f"  page {page}: pdfplumber {theirs} / pdfium {ours}")
        for page, a, b in result.box_differences[:5]:
            print(f"  page {page}: pdfplumber {a}\n          pdfium     {b}")
    return 1 if failures else 0


if __name__ == "__main__":
    given = [Path(p) for p in sys.argv[1:]]
    sys.exit(main(given or sorted(PDFS.glob("*.pdf"))))
