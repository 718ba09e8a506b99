"""PDF briefs: words with their positions and fonts, rebuilt into blocks.

A published brief is laid out for paper, not for reading back: a running header and a
page number on every page, a title and lead across the page above two columns, footnotes
at the foot of a page, words hyphenated at line ends. Plain text extraction splices all
of that into the sentences. Here pdfplumber (pdfminer.six underneath) gives each word
with its box, size and font, and :func:`layout_blocks` rebuilds the brief:

1. Running headers and footers (the same text, digits aside, at the same place on
   several pages) and page numbers go; the header's bulletin number and date are kept.
2. Each page's columns are found from its gutter, a vertical strip no column line
   crosses; lines across the gutter are full width. Reading order is top-down by
   region, and column by column within a two-column region.
3. Small-type lines at the foot of a page that start with a number are footnotes; the
   raised small digits that refer to them are taken out of the body.
4. Lines become paragraphs: a change of type, a gap wider than the line spacing, a
   first-line indent or a short line ending a sentence starts a new one; across a column
   or page break a paragraph goes on unless it had ended.
5. The largest type on page 1 is the title; short blocks in bold or larger type are
   headings; a line of names in its own font under the title is the author line.

Ruled tables come from pdfplumber's table finder, and their words are taken out of the
text. Document info (/Title, /Author, /CreationDate) is only a fallback.
"""

from __future__ import annotations

import functools
import io
import itertools
import lzma
import re
import statistics
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from .blocks import CONTROLS, Declared, Parsed, RawBlock, RawKind, find_date, split_authors

__all__ = ["FoundTable", "PageText", "Word", "layout_blocks", "read_pdf"]


@dataclass(frozen=True)
class Word:
    """One word on a page: its text, box (points, from the page's top left), type size
    and font name (without a subset prefix such as "ABCDEF+")."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    font: str


@dataclass(frozen=True)
class FoundTable:
    """A ruled table: its box (x0, top, x1, bottom) and cells; a cell's lines are joined
    with newlines; ``header`` when the first row is set apart in bold or another font."""

    bbox: tuple[float, float, float, float]
    rows: list[list[str]]
    header: bool


@dataclass
class PageText:
    """What the layout analysis needs of one page."""

    number: int
    width: float
    height: float
    words: list[Word]
    tables: list[FoundTable] = field(default_factory=list)
    #: Text outside the flow, each group read on its own: a boxed sidebar's words, a
    #: figure's caption.
    floats: list[list[Word]] = field(default_factory=list)


def read_pdf(path: Path, data: bytes) -> Parsed:
    """Read a PDF brief into raw blocks and the metadata it declares.

    Pages are read with PDFium (:mod:`briefqa.pdf_glyphs`: 5-7 times faster than
    pdfminer, the same words); pdfplumber finds ruled tables on pages that draw lines,
    and reads the whole file where PDFium cannot (a rotated page, a file PDFium refuses
    but pdfminer may still read, or report why not).

    Raises:
        DocumentError: the PDF is password-protected, corrupt, or has no text layer.
    """
    try:
        pages, info = _read_with_pdfium(data)
    except _PdfiumDeclined:
        pages, info = _read_with_pdfplumber(path, data)
    except _Encrypted as exc:
        raise DocumentError(
            path, "the PDF is password-protected; save an unprotected copy"
        ) from exc
    blocks, declared = layout_blocks(pages, info)
    if not any(b.text.strip() or b.rows for b in blocks):
        raise DocumentError(
            path, "the PDF has no extractable text (a scanned image? run OCR on it first)"
        )
    return blocks, declared


class _PdfiumDeclined(Exception):
    """PDFium cannot read this file as the layout needs it: pdfplumber reads it."""


class _Encrypted(Exception):
    """The file asks for a password."""


#: PDFium is not thread-safe: one document at a time in a process (uploads are parsed
#: in request threads).
_PDFIUM = threading.Lock()


def page_count(data: bytes) -> int | None:
    """The number of pages PDFium finds, read from the page tree without parsing a page;
    None if PDFium cannot open the file."""
    import pypdfium2

    with _PDFIUM:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            return None
        try:
            return len(document)
        finally:
            document.close()


def _read_with_pdfium(data: bytes) -> tuple[list[PageText], Declared]:
    import pypdfium2

    from .pdf_glyphs import font_descents, page_chars, page_shapes, page_size

    with _PDFIUM:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise _Encrypted from exc
            raise _PdfiumDeclined from exc
        plumber: Any = None
        try:
            if any(document[i].get_rotation() for i in range(len(document))):
                raise _PdfiumDeclined
            info = _document_info(document.get_metadata_dict())
            descents = font_descents(data)
            pages: list[PageText] = []
            for index in range(len(document)):
                page = document[index]
                width, height = page_size(page)
                tables: list[FoundTable] = []
                if _draws_lines(page, pypdfium2):
                    if plumber is None:
                        import pdfplumber

                        plumber = pdfplumber.open(io.BytesIO(data))
                    plumber_page = plumber.pages[index]
                    tables = _ruled_tables(plumber_page)
                    plumber_page.close()
                chars, shapes = page_chars(page, descents), page_shapes(page)
                pages.append(_page_text(index + 1, width, height, chars, shapes, tables))
                page.close()
        except (_PdfiumDeclined, _Encrypted):
            raise
        except Exception as exc:  # anything odd: the slower reader says what it makes of it
            raise _PdfiumDeclined from exc
        finally:
            if plumber is not None:
                plumber.close()
            document.close()
    return pages, info


def _draws_lines(page: Any, pypdfium2: Any) -> bool:
    """Whether the page draws enough paths to hold a ruled table: eight or more (the
    benchmark's ruled tables draw 16-54; a banner, a sidebar's frame, a photo's box and
    header rules 1-7). A page below skips pdfplumber's table finder, which costs it a
    pdfminer parse; a small ruled table there is read as lines of text."""
    paths = page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_PATH], max_depth=2)
    return sum(1 for _, _ in zip(range(_TABLE_PATHS), paths, strict=False)) >= _TABLE_PATHS


_TABLE_PATHS = 8


def _read_with_pdfplumber(path: Path, data: bytes) -> tuple[list[PageText], Declared]:
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            info = _document_info(pdf.metadata)
            pages = []
            for page in pdf.pages:
                pages.append(_read_page(page))
                page.close()  # drop its parsed objects: long reports stay small in memory
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect):
            raise DocumentError(
                path, "the PDF is password-protected; save an unprotected copy"
            ) from exc
        raise DocumentError(path, f"not a readable PDF ({type(cause).__name__}: {cause})") from exc
    except Exception as exc:  # pdfminer can fail deep inside on arbitrary corruption
        raise DocumentError(path, f"not a readable PDF ({type(exc).__name__})") from exc
    return pages, info


def _ruled_tables(page: Any) -> list[FoundTable]:
    tables: list[FoundTable] = []
    # The table finder works from ruling lines; a page without any has no ruled table.
    if page.lines or page.rects:
        for found in page.find_tables():
            rows = [[_clean(cell or "") for cell in row] for row in found.extract()]
            if len(rows) < 2 or max(len(row) for row in rows) < 2:
                continue  # a box around a paragraph, not a table
            tables.append(FoundTable(tuple(found.bbox), rows, _header_row(page, found)))
    return tables


def _read_page(page: Any) -> PageText:
    shapes = [
        (float(o["x0"]), float(o["top"]), float(o["x1"]), float(o["bottom"]))
        for o in (*page.rects, *page.curves, *page.images)
    ]
    width, height = float(page.width), float(page.height)
    return _page_text(page.page_number, width, height, page.chars, shapes, _ruled_tables(page))


def _page_text(
    number: int,
    width: float,
    height: float,
    chars: Sequence[dict[str, Any]],
    shapes: list[Box],
    tables: list[FoundTable],
) -> PageText:
    """A page as the layout reads it, whichever parser gave its glyphs and shapes: its
    words outside the ruled tables, less the floats taken out of the flow."""
    words = [w for w in _page_words(chars) if not any(_inside(w, t.bbox) for t in tables)]
    words, floats = _take_floats(words, shapes, tables, width, height)
    return PageText(number, width, height, words, tables, floats)


Box = tuple[float, float, float, float]  # x0, top, x1, bottom
_CAPTION_START = re.compile(r"(?:photo|fot\.|credit|source|figure|fig\.|map|chart|image|©)", re.I)


def _take_floats(
    words: list[Word], shapes: list[Box], tables: list[FoundTable], width: float, height: float
) -> tuple[list[Word], list[list[Word]]]:
    """The page's words in the flow, and the groups taken out of it: the text inside a
    drawn box (a sidebar, a "Key points" frame), and a figure's caption (the lines just
    under a box with no text, set in another type or opening with "Photo", "Figure"…).

    Text in a box in the top eighth of the page is a masthead's banner and stays in the
    flow; a box as large as half the page is a page's background or border.
    """
    boxes = [
        b
        for b in shapes
        if b[2] - b[0] >= 60
        and b[3] - b[1] >= 20
        and (b[2] - b[0]) * (b[3] - b[1]) < 0.5 * width * height
        and not any(_overlaps(b, t.bbox) for t in tables)
    ]
    boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))  # outer boxes first
    taken: set[int] = set()
    groups: list[list[Word]] = []
    figures: list[Box] = []
    for box in boxes:
        inside = [w for w in words if id(w) not in taken and _inside(w, box)]
        if not inside:
            if box[3] - box[1] >= 40 and not any(_contains(f, box) for f in figures):
                figures.append(box)
            continue
        rows = {round(w.top) for w in inside}
        banner = box[1] < 0.12 * height  # a masthead's, read with the front matter
        if not banner and len(rows) >= 2 and len(inside) >= 5 and len(inside) < 0.5 * len(words):
            groups.append(inside)
            taken.update(id(w) for w in inside)
    style: Counter[tuple[str, float]] = Counter()
    for word in words:
        style[(word.font, round(word.size, 1))] += len(word.text)
    body = style.most_common(1)[0][0] if style else ("", 0.0)
    for figure in figures:
        caption = _caption(figure, [w for w in words if id(w) not in taken], body)
        if caption:
            groups.append(caption)
            taken.update(id(w) for w in caption)
    for table in tables:
        caption = _table_caption(table.bbox, [w for w in words if id(w) not in taken])
        if caption:
            groups.append(caption)
            taken.update(id(w) for w in caption)
    return [w for w in words if id(w) not in taken], groups


_TABLE_CAPTION = re.compile(r"(?:table|tab\.|tabela|tabelle)\s*\d", re.I)


def _table_caption(bbox: Box, words: list[Word]) -> list[Word]:
    """The lines just above a ruled table, within its width, that open with "Table N"
    (a table floated into a column has its caption beside the column's text)."""
    x0, top, x1, _ = bbox
    near = [
        w for w in words if x0 - 2 <= w.x0 and w.x1 <= x1 + 2 and top - 6 * w.size <= w.top < top
    ]
    rows = _rows(near)
    out: list[Word] = []
    edge = top
    for row in reversed(rows[-3:]):
        size = max(w.size for w in row)
        if edge - max(w.bottom for w in row) > 1.2 * size:
            break
        out = row + out
        edge = min(w.top for w in row)
    text = " ".join(w.text for w in sorted(out, key=lambda w: (round(w.top), w.x0)))
    return out if _TABLE_CAPTION.match(text) else []


def _caption(figure: Box, words: list[Word], body: tuple[str, float]) -> list[Word]:
    """The lines under a figure that caption it (at most four, within its width)."""
    x0, _, x1, bottom = figure
    near = [
        w
        for w in words
        if x0 - 2 <= w.x0 and w.x1 <= x1 + 2 and bottom - 1 <= w.top <= bottom + 8 * w.size
    ]
    out: list[Word] = []
    edge = bottom
    for row in _rows(near)[:4]:
        size = max(w.size for w in row)
        if row[0].top - edge > (2.0 if not out else 1.2) * size:
            break
        out += row
        edge = max(w.bottom for w in row)
    if not out:
        return []
    first = min(out, key=lambda w: (round(w.top), w.x0))
    styled = (first.font, round(first.size, 1)) != body
    return out if styled or _CAPTION_START.match(first.text) else []


def _overlaps(a: Box, b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contains(outer: Box, inner: Box) -> bool:
    return (
        outer[0] - 1 <= inner[0]
        and outer[1] - 1 <= inner[1]
        and inner[2] <= outer[2] + 1
        and inner[3] <= outer[3] + 1
    )


#: Words are told apart by a gap wider than this share of the type size when the
#: producer writes no space glyph (pdfTeX): a justified line's spaces shrink to about a
#: fifth of an em, while kerning inside a word stays under a twentieth.
_WORD_GAP = 0.12


def _page_words(chars: Sequence[dict[str, Any]]) -> list[Word]:
    """The page's upright words, from its characters.

    Rotated text (a margin note, a watermark) is left out. A space glyph breaks a word
    unless the next glyph is drawn over it: Chromium writes a zero-width space at every
    hyphenation point of a word ("sup pli ers"), a real space moves the pen on.
    """
    upright = [c for c in chars if c.get("upright", True) and c.get("text")]
    upright.sort(key=lambda c: (c["top"], c["x0"]))
    lines: list[list[dict[str, Any]]] = []
    for char in upright:
        if lines and char["top"] - lines[-1][0]["top"] <= 3:
            lines[-1].append(char)
        else:
            lines.append([char])
    words: list[Word] = []
    for line in lines:
        line.sort(key=lambda c: c["x0"])
        current: list[dict[str, Any]] = []
        for number, char in enumerate(line):
            if char["text"].isspace():
                after = line[number + 1] if number + 1 < len(line) else None
                drawn_over = after is not None and after["x0"] < char["x1"] - 0.5 * (
                    char["x1"] - char["x0"]
                )
                if not drawn_over:
                    _add_word(current, words)
                    current = []
                continue
            if current:
                previous = current[-1]
                size = max(float(previous["size"]), 1.0)
                if (
                    char["x0"] - previous["x1"] > _WORD_GAP * size
                    or previous["fontname"] != char["fontname"]
                    or abs(float(previous["size"]) - float(char["size"])) > 0.1
                ):
                    _add_word(current, words)
                    current = []
            current.append(char)
        _add_word(current, words)
    return words


#: Spacing accents that pdfTeX draws over a letter ("n" and "´" for "ń"), as the
#: combining marks they stand for.
_ACCENTS = {
    "´": "\u0301", "`": "\u0300", "¨": "\u0308", "ˆ": "\u0302", "˜": "\u0303",
    "¸": "\u0327", "ˇ": "\u030c", "˘": "\u0306", "˙": "\u0307", "˚": "\u030a",
    "˛": "\u0328", "˝": "\u030b", "¯": "\u0304",
}  # fmt: skip


def _add_word(chars: list[dict[str, Any]], words: list[Word]) -> None:
    letters: list[str] = []
    for number, char in enumerate(chars):
        mark = _ACCENTS.get(char["text"])
        if mark and number and char["x0"] < chars[number - 1]["x1"] - 0.5:
            letters.append(mark)  # drawn over the letter before it
        elif mark and number + 1 < len(chars) and chars[number + 1]["x0"] < char["x1"] - 0.5:
            letters.append("")  # over the next letter: attached once that is written
            chars[number + 1] = {**chars[number + 1], "text": chars[number + 1]["text"] + mark}
        else:
            letters.append(char["text"])
    text = _clean(unicodedata.normalize("NFC", "".join(letters))).strip()
    if not text:
        return
    first = chars[0]
    words.append(
        Word(
            text,
            float(min(c["x0"] for c in chars)),
            float(max(c["x1"] for c in chars)),
            float(min(c["top"] for c in chars)),
            float(max(c["bottom"] for c in chars)),
            float(first["size"]),
            str(first["fontname"]).split("+", 1)[-1],
        )
    )


def _clean(text: str) -> str:
    # Odd font encodings yield control characters: spaces, like the other formats.
    return text.translate(CONTROLS)


def _inside(word: Word, bbox: tuple[float, float, float, float]) -> bool:
    x, y = (word.x0 + word.x1) / 2, (word.top + word.bottom) / 2
    return bbox[0] - 1 <= x <= bbox[2] + 1 and bbox[1] - 1 <= y <= bbox[3] + 1


def _header_row(page: Any, table: Any) -> bool:
    """Whether the table's first row is set apart from the rest (bold, another font)."""
    if len(table.rows) < 2:
        return False

    def font(boxes: list[tuple[float, float, float, float]]) -> str:
        names: Counter[str] = Counter()
        for char in page.chars:
            x, y = char["x0"], (char["top"] + char["bottom"]) / 2
            if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes):
                names[str(char["fontname"]).split("+", 1)[-1]] += 1
        return names.most_common(1)[0][0] if names else ""

    head = font([table.rows[0].bbox])
    rest = font([row.bbox for row in table.rows[1:]])
    return bool(head and rest and head != rest and (_bold(head) or not _bold(rest)))


def _document_info(metadata: dict[str, Any]) -> Declared:
    def text(key: str) -> str:
        value = metadata.get(key)
        return value.strip() if isinstance(value, str) else ""

    title = text("Title")
    # Word processors leave file names and their own names here.
    if re.search(r"^microsoft\b|\.(?:docx?|pdf|odt|indd|rtf)$|^untitled", title, re.I):
        title = ""
    created = re.match(r"D:(\d{4})(\d{2})(\d{2})", text("CreationDate"))
    return Declared(
        title=title or None,
        date=find_date(f"{created[1]}-{created[2]}-{created[3]}") if created else None,
        authors=split_authors(text("Author")),
    )


# --------------------------------------------------------------------------- layout


@dataclass
class _Line:
    words: list[Word]
    page: int
    column: int  # -1: across the page's columns (or a one-column page)
    top: float = 0.0
    bottom: float = 0.0
    x0: float = 0.0
    x1: float = 0.0
    size: float = 0.0
    font: str = ""
    flow: int = 0  # the column or region it reads in; a change is a column/page break
    left: float = 0.0  # its column's text edges on the page
    right: float = 0.0
    page_height: float = 842.0
    text: str = ""  # without footnote markers, once the footnotes are known

    def __post_init__(self) -> None:
        self.words.sort(key=lambda w: w.x0)
        weights: Counter[tuple[float, str]] = Counter()
        for w in self.words:
            weights[(round(w.size, 1), w.font)] += len(w.text)
        (self.size, self.font), _ = weights.most_common(1)[0]
        main = [w for w in self.words if abs(w.size - self.size) < 0.5] or self.words
        self.top = min(w.top for w in main)
        self.bottom = max(w.bottom for w in main)
        self.x0 = min(w.x0 for w in self.words)
        self.x1 = max(w.x1 for w in self.words)

    def raw_text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class _Table:
    table: FoundTable
    page: int
    column: int
    top: float
    flow: int = 0


_Item = _Line | _Table


def layout_blocks(pages: Sequence[PageText], info: Declared | None = None) -> Parsed:
    """Rebuild a brief's blocks from its pages' words (see the module docstring).

    ``info`` is the document info, used where the visible text says nothing.
    """
    info = info or Declared()
    sizes: Counter[float] = Counter()
    fonts: Counter[str] = Counter()
    for page in pages:
        for word in page.words:
            sizes[round(word.size, 1)] += len(word.text)
            fonts[word.font] += len(word.text)
    if not sizes:
        return [], info
    body_size = sizes.most_common(1)[0][0]
    body_font = fonts.most_common(1)[0][0]

    kept, running = _strip_running(pages)
    items: list[_Item] = []
    flow = 0
    for page, words in zip(pages, kept, strict=True):
        ordered, flow = _read_order(page, words, body_size, flow)
        items += ordered

    # Floats read on their own, after the flow: a box or caption never cuts a sentence.
    # A drawn footnote area is a box too: its notes are found with the others.
    float_items: list[list[_Item]] = []
    for page in pages:
        for float_words in page.floats:
            inner = PageText(page.number, page.width, page.height, float_words)
            ordered, flow = _read_order(inner, float_words, body_size, flow)
            float_items.append(ordered)

    lines = [item for item in items if isinstance(item, _Line)]
    lines += [item for ordered in float_items for item in ordered if isinstance(item, _Line)]
    notes, note_lines = _footnotes(lines, body_size)
    numbers = {number for number, _, _ in notes}
    items = [item for item in items if not (isinstance(item, _Line) and id(item) in note_lines)]
    for line in lines:
        line.text = _line_text(line, numbers)
    groups = _paragraphs(items)
    floats: list[list[_Line] | _Table] = []
    for ordered in float_items:
        kept_items = [i for i in ordered if not (isinstance(i, _Line) and id(i) in note_lines)]
        floats += _paragraphs(kept_items)

    texts: list[list[str]] = [note for _, note, _ in notes]
    for group in [*groups, *floats]:
        if isinstance(group, _Table):
            texts += [cell.split("\n") for row in group.table.rows for cell in row]
        else:
            texts.append([line.text for line in group])
    vocabulary = _Vocabulary(texts)

    blocks: list[RawBlock] = []
    authors: tuple[str, ...] = ()
    front = True  # still above the body text of page 1: where an author line sits
    title_group = _title_group(groups, body_size)
    for group in groups:
        if isinstance(group, _Table):
            rows = [[vocabulary.join(cell.split("\n")) for cell in row] for row in group.table.rows]
            blocks.append(RawBlock("table", "", group.page, rows, group.table.header))
            continue
        text = vocabulary.join([line.text for line in group])
        first = group[0]
        front = front and first.page == 1 and first.font != body_font
        names = _author_names(text) if front and not authors else ()
        if group is title_group:
            blocks.append(RawBlock("title", text, first.page))
        elif names:
            # Kept as a paragraph: the loader drops the line that names the authors.
            authors = names
            blocks.append(RawBlock("paragraph", text, first.page))
        elif _is_heading(group, text, body_size, body_font):
            front = False
            blocks.append(RawBlock("heading", text, first.page))
        else:
            blocks.append(RawBlock("paragraph", text, first.page))
    for group in floats:
        if isinstance(group, _Table):
            continue
        text = vocabulary.join([line.text for line in group])
        if _CREDIT_LINE.match(text):
            continue  # a photo credit names no content of the brief
        kind: RawKind = "heading" if _is_heading(group, text, body_size, body_font) else "paragraph"
        blocks.append(RawBlock(kind, text, group[0].page))
    for _, note, page_number in notes:
        blocks.append(RawBlock("note", vocabulary.join(note), page_number))

    number, date = None, None
    for text in running:
        found = re.search(r"\b(?:No|Nr)\.?\s*(\d{1,6})\b", text)
        number = number or (found[1] if found else None)
        date = date or find_date(text)
    declared = Declared(
        title=info.title,
        number=number or info.number,
        date=date or info.date,
        authors=authors or info.authors,
    )
    return blocks, declared


# ------------------------------------------------------------- headers and footers

_PAGE_NUMBER = re.compile(
    r"(?:page|p\.|strona|str\.|seite)?\s*[-–—]?\s*\d{1,4}\s*"
    r"(?:(?:of|/|z|von|de)\s*\d{1,4})?\s*[-–—]?",
    re.I,
)
_MARGIN_ROWS = 3  # rows at the top and at the bottom of a page that may be running


def _rows(words: Iterable[Word]) -> list[list[Word]]:
    """Words grouped into rows by vertical overlap (a raised footnote marker stays in its
    line's row; lines in two columns at the same height share a row)."""
    rows: list[tuple[float, float, list[Word]]] = []
    for word in sorted(words, key=lambda w: (w.top, w.x0)):
        height = max(word.bottom - word.top, 0.1)
        best, best_overlap = -1, 0.0
        # Rows are opened in order of their tops: only the last few can still overlap.
        # A row keeps the extent of the word that opened it: grown, it would chain a
        # two-line heading and the body lines beside it into one row.
        for index in range(len(rows) - 1, max(len(rows) - 4, -1), -1):
            top, bottom, _ = rows[index]
            overlap = min(bottom, word.bottom) - max(top, word.top)
            if overlap >= 0.4 * min(height, bottom - top) and overlap > best_overlap:
                best, best_overlap = index, overlap
        if best < 0:
            rows.append((word.top, word.bottom, [word]))
        else:
            rows[best][2].append(word)
    return [sorted(members, key=lambda w: w.x0) for _, _, members in rows]


_RUNNING_CONTENT = re.compile(r"\b(?:No|Nr)\.?\s*\d|©|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b")


def _edge_line(top: float, bottom: float, height: float) -> bool:
    """In the outer margin: the top 7 % or the bottom 5 % of the page."""
    return top < 0.07 * height or bottom > 0.95 * height


def _strip_running(pages: Sequence[PageText]) -> tuple[list[list[Word]], list[str]]:
    """Each page's words without running headers, footers and page numbers; and the text
    of the running header rows taken out (for the bulletin number and date)."""
    page_rows = [_rows(page.words) for page in pages]
    candidates: dict[str, list[tuple[int, float]]] = defaultdict(list)

    def key(row: list[Word]) -> str:
        return re.sub(r"\s+", " ", re.sub(r"\d+", "#", " ".join(w.text for w in row))).casefold()

    def margin_rows(rows: list[list[Word]]) -> set[int]:
        return set(range(min(_MARGIN_ROWS, len(rows)))) | set(
            range(max(len(rows) - _MARGIN_ROWS, 0), len(rows))
        )

    for number, rows in enumerate(page_rows):
        for index in margin_rows(rows):
            candidates[key(rows[index])].append((number, rows[index][0].top))

    kept: list[list[Word]] = []
    running: list[str] = []
    threshold = max(2, round(0.3 * len(pages)))
    for page, rows in zip(pages, page_rows, strict=True):
        drop: set[int] = set()
        for index in margin_rows(rows):
            row = rows[index]
            top = row[0].top
            text = " ".join(w.text for w in row)
            near = {
                other
                for other, other_top in candidates[key(row)]
                if abs(other_top - top) <= 0.03 * page.height
            }
            in_margin = top < 0.12 * page.height or row[0].bottom > 0.88 * page.height
            edge = index == len(rows) - 1 or (index == 0 and page.number > 1)
            if in_margin and len(pages) > 1 and len(near) >= threshold:
                drop.add(index)
                if top < 0.5 * page.height:
                    running.append(text)
            elif (in_margin or edge) and _PAGE_NUMBER.fullmatch(text):
                drop.add(index)
            elif _edge_line(top, row[0].bottom, page.height) and _RUNNING_CONTENT.search(text):
                # A header or footer printed once (a one-page brief, page 2 of two) is
                # known by where it sits and what it says: a number, a date, a ©.
                drop.add(index)
                if top < 0.5 * page.height:
                    running.append(text)
        # Page numbers print in the margin; a row beyond the dropped ones can be one too
        # ("3" under the running footer).
        kept.append([w for index, row in enumerate(rows) if index not in drop for w in row])
    return kept, running


# ---------------------------------------------------------------- reading order

_FAR = 1e9  # an open side: no word beyond it in the row


@dataclass
class _Band:
    """A vertical strip of white space through consecutive rows: a column gutter when
    words border it on both sides often enough (see :func:`_gutters`)."""

    x0: float
    x1: float
    first: int  # rows, inclusive
    last: int
    left: int = 0  # rows with a word just left of it
    right: int = 0
    both: int = 0
    starts: list[float] = field(default_factory=list)  # x0 of the word right of it

    def aligned(self) -> int:
        """The most rows whose text right of the strip starts at one x (within 1 pt):
        a column's left edge; white space between words has no such edge."""
        xs = sorted(self.starts)
        best, lo = 0, 0
        for hi, x in enumerate(xs):
            while x - xs[lo] > 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    @property
    def x(self) -> float:
        return (self.x0 + self.x1) / 2


_GAP = 0.45  # the narrowest gutter, in ems of the larger type beside it


def _row_gaps(row: list[Word], body_size: float) -> list[tuple[float, float, bool, bool]]:
    """The row's white spaces wide enough for a gutter: (x0, x1, word on the left, word
    on the right); its margins are open on their outer side."""
    gaps = [(-_FAR, row[0].x0, False, True)]
    reach, size = row[0].x1, row[0].size
    for word in row[1:]:
        # A space in a title's large type is as wide as a gutter of body type.
        if word.x0 - reach >= _GAP * max(body_size, size, word.size):
            gaps.append((reach, word.x0, True, True))
        reach, size = max(reach, word.x1), word.size
    gaps.append((reach, _FAR, True, False))
    return gaps


def _gutters(rows: list[list[Word]], body_size: float) -> list[_Band]:
    """The page's column gutters, each over the rows it separates.

    A gutter is a strip of white space at least half an em wide that runs down through
    consecutive rows, with words beside it on both sides: in three rows at least, or in
    one row when it is wide (an em and a half) and has words on each side in two rows —
    the lead beside a photo whose caption runs three lines, two lines of columns above
    a page's endnotes. The words right of it must start at one x (a column's edge).
    White space between words is placed at random and never lines up like that; a
    region's columns therefore come from its own rows, not from the page: a full-width
    title or heading ends a gutter, and the columns below it may sit elsewhere.
    """
    least = _GAP * body_size
    active: list[_Band] = []
    found: list[_Band] = []
    for index, row in enumerate(rows):
        gaps = _row_gaps(row, body_size)
        used: set[int] = set()
        going: list[_Band] = []
        for band in active:
            best, width = -1, least
            for number, (g0, g1, _, _) in enumerate(gaps):
                overlap = min(band.x1, g1) - max(band.x0, g0)
                if overlap >= width:
                    best, width = number, overlap
            if best < 0:
                found.append(band)
                continue
            g0, g1, left, right = gaps[best]
            used.add(best)
            band.x0, band.x1, band.last = max(band.x0, g0), min(band.x1, g1), index
            # A word counts as beside the strip only if it borders it: the end of a
            # short line far to the left says nothing about a column edge.
            left = left and g0 >= band.x0 - 1.2 * body_size
            right = right and g1 <= band.x1 + 1.2 * body_size
            band.left += left
            band.right += right
            band.both += left and right
            if right:
                band.starts.append(g1)
            going.append(band)
        for number, (g0, g1, left, right) in enumerate(gaps):
            if number not in used:
                going.append(
                    _Band(g0, g1, index, index, left, right, left and right, [g1] if right else [])
                )
        # Two strips narrowed onto the same white space are one: keep the older.
        going.sort(key=lambda b: b.first)
        active = []
        for band in going:
            if not any(min(b.x1, band.x1) - max(b.x0, band.x0) >= least for b in active):
                active.append(band)
    found += active
    gutters = [band for band in found if _is_gutter(band, body_size)]
    # A gutter begins at its first row with a word right of it: rows above it with text
    # on the left only (a title's last line, a byline) read before the columns.
    for band in gutters:
        while band.first < band.last and not any(w.x0 >= band.x1 - 1 for w in rows[band.first]):
            band.first += 1

    def clear(row: list[Word], band: _Band) -> bool:
        # Words on both sides and none in the strip: a row of two columns, one of them
        # with a blank beside a heading or a float.
        return (
            not any(w.x0 < band.x1 - 1 and w.x1 > band.x0 + 1 for w in row)
            and any(w.x1 <= band.x0 + 1 for w in row)
            and any(w.x0 >= band.x1 - 1 for w in row)
        )

    # A gutter also runs through the rows next to it that leave its strip empty with
    # words on both sides: one column there is blank beside a heading in another.
    def opens_column(row: list[Word], band: _Band) -> bool:
        # A line that starts right at the column's edge with nothing left of it: the
        # column's first line, above the other column's first (beside a heading).
        return (
            row[0].x0 >= band.x1 - 1
            and abs(row[0].x0 - statistics.median(band.starts or [band.x1])) <= 1.0
        )

    for band in gutters:
        while band.first > 0 and (
            clear(rows[band.first - 1], band) or opens_column(rows[band.first - 1], band)
        ):
            band.first -= 1
        while band.last + 1 < len(rows) and clear(rows[band.last + 1], band):
            band.last += 1
    # Two gutters a few ems apart cannot both run through the same rows (the column
    # between them would be too narrow to read): where they meet, the one with fewer
    # rows of text on both sides gives way (the lead's gutter beside a photo above the
    # body's columns).
    gutters.sort(key=lambda b: -b.both)
    for number, weak in enumerate(gutters):
        for strong in gutters[:number]:
            if abs(strong.x - weak.x) >= 4 * body_size or weak.first > weak.last:
                continue
            if strong.first <= weak.last and weak.first <= strong.last:
                if weak.first < strong.first:
                    weak.last = strong.first - 1
                else:
                    weak.first = strong.last + 1
    return [band for band in gutters if band.first <= band.last]


def _is_gutter(band: _Band, body_size: float) -> bool:
    if not (band.x0 > -_FAR and band.x1 < _FAR) or not band.both:
        return False
    wide = band.x1 - band.x0 >= 1.5 * body_size
    if band.aligned() < max(2 if wide else 4, 0.6 * band.right):
        return False  # no column edge beside it: spaces in justified lines lining up
    return band.both >= 3 or (wide and min(band.left, band.right) >= 2)


@dataclass
class _Piece:
    """A row's words between two gutters (or the whole row)."""

    words: list[Word]
    row: int
    x0: float
    x1: float


def _pieces(rows: list[list[Word]], gutters: list[_Band]) -> list[_Piece]:
    out: list[_Piece] = []
    for index, row in enumerate(rows):
        cuts = sorted(g.x for g in gutters if g.first <= index <= g.last)
        parts: list[list[Word]] = [[] for _ in range(len(cuts) + 1)]
        for word in row:
            parts[sum(1 for c in cuts if c <= (word.x0 + word.x1) / 2)].append(word)
        for part in parts:
            if part:
                out.append(_Piece(part, index, min(w.x0 for w in part), max(w.x1 for w in part)))
    return out


def _xy_order(
    pieces: list[_Piece],
    gutters: list[_Band],
    path: tuple[int, ...],
    out: list[tuple[_Piece, tuple[int, ...]]],
) -> None:
    """Recursive X-Y cut: columns left to right where a gutter cuts the whole set, else
    bands of rows top to bottom, cut only where no gutter runs on across the cut. Each
    piece goes to ``out`` with its path of column choices (a new path: a column break)."""
    if not pieces:
        return
    left, right = min(p.x0 for p in pieces), max(p.x1 for p in pieces)
    rows = {p.row for p in pieces}
    inside = [
        g for g in gutters if left < g.x < right and g.first <= max(rows) and g.last >= min(rows)
    ]
    for gutter in sorted(inside, key=lambda g: g.x):
        if all(p.x1 <= gutter.x or p.x0 >= gutter.x for p in pieces):
            _xy_order([p for p in pieces if p.x1 <= gutter.x], gutters, (*path, 0), out)
            _xy_order([p for p in pieces if p.x0 >= gutter.x], gutters, (*path, 1), out)
            return
    ordered = sorted(rows)
    strips: list[list[int]] = [[ordered[0]]]
    for previous, row in itertools.pairwise(ordered):
        if any(g.first <= previous and row <= g.last for g in inside):
            strips[-1].append(row)
        else:
            strips.append([row])
    if len(strips) == 1:
        for piece in sorted(pieces, key=lambda p: (p.row, p.x0)):
            out.append((piece, path))
        return
    for strip in strips:
        members = set(strip)
        _xy_order([p for p in pieces if p.row in members], gutters, path, out)


def _read_order(
    page: PageText, words: list[Word], body_size: float, flow: int
) -> tuple[list[_Item], int]:
    """The page's lines and tables in reading order, each with its flow number (a new
    number at each column or page break)."""
    rows = _rows(words)
    gutters = _gutters(rows, body_size)
    placed: list[tuple[_Piece, tuple[int, ...]]] = []
    _xy_order(_pieces(rows, gutters), gutters, (), placed)
    columns: dict[tuple[int, ...], int] = {}
    lines: list[_Line] = []
    last_path: tuple[int, ...] | None = None
    for piece, path in placed:
        column = -1 if not path else columns.setdefault(path, len(columns))
        line = _Line(piece.words, page.number, column, page_height=page.height)
        if path != last_path:
            flow += 1
            last_path = path
        line.flow = flow
        lines.append(line)
    _edges(lines)
    items: list[_Item] = list(lines)
    # A ruled table goes where its top falls among the lines of its column.
    for found in page.tables:
        table = _Table(found, page.number, -1, found.bbox[1])
        at = len(items)
        for number, item in enumerate(items):
            if (
                isinstance(item, _Line)
                and item.top > table.top
                and item.x1 > found.bbox[0]
                and item.x0 < found.bbox[2]
            ):
                at = number
                break
        table.flow = items[at - 1].flow if at else flow
        items.insert(at, table)
    return items, flow + 1


def _edges(lines: list[_Line]) -> None:
    """Each line's column edges: the commonest left edge, and the right edge of the full
    lines (a paragraph's last line ends short)."""
    by_column: dict[int, list[_Line]] = defaultdict(list)
    for line in lines:
        by_column[line.column].append(line)
    for members in by_column.values():
        lefts = Counter(round(line.x0) for line in members)
        left = float(lefts.most_common(1)[0][0])
        rights = sorted(line.x1 for line in members)
        right = rights[int(0.9 * (len(rights) - 1))]
        for line in members:
            line.left, line.right = min(left, line.x0), right


# -------------------------------------------------------------------- footnotes

_NOTE_START = re.compile(r"(\d{1,3})[.)]?")


def _footnotes(
    lines: list[_Line], body_size: float
) -> tuple[list[tuple[str, list[str], int]], set[int]]:
    """Footnotes: (number, its lines' text, page) in order, and the ids of their lines.

    A footnote is small type below every body-size line of its column (or of the page,
    for a note across the page) and starts with its number. A producer that sets its
    notes in body type (fpdf2) is read by the markers: a line in the page's lowest
    quarter that opens with the number of a raised marker on that page is a note too.
    """
    markers: dict[int, set[str]] = defaultdict(set)
    for line in lines:
        markers[line.page].update(w.text for w in line.words if _raised(w, line))

    def marked_note(line: _Line) -> bool:
        start = _NOTE_START.fullmatch(line.words[0].text)
        return (
            start is not None
            and len(line.words) > 1
            and start[1] in markers[line.page]
            and line.top >= 0.75 * line.page_height
        )

    foot: dict[tuple[int, int], float] = defaultdict(float)
    for line in lines:
        if line.size >= 0.95 * body_size and not marked_note(line):
            foot[(line.page, line.column)] = max(foot[(line.page, line.column)], line.bottom)
            foot[(line.page, -1)] = max(foot[(line.page, -1)], line.bottom)
    notes: list[tuple[str, list[str], int]] = []
    taken: set[int] = set()
    previous: _Line | None = None
    for line in lines:
        small = line.size <= 0.85 * body_size or marked_note(line)
        below = line.top >= foot[(line.page, line.column)] - 0.5
        if not (small and below):
            previous = None
            continue
        start = _NOTE_START.fullmatch(line.words[0].text)
        if start and len(line.words) > 1:
            notes.append((start[1], [" ".join(w.text for w in line.words[1:])], line.page))
            taken.add(id(line))
            previous = line
        elif previous is not None and previous.page == line.page:
            notes[-1][1].append(line.raw_text())
            taken.add(id(line))
            previous = line
    return notes, taken


def _raised(word: Word, line: _Line) -> bool:
    """A word in small type above its line's baseline: a note's marker."""
    return word.size <= 0.8 * line.size and word.bottom <= line.bottom - 0.15 * line.size


def _line_text(line: _Line, note_numbers: set[str]) -> str:
    """The line's text, without the raised small digits that mark its footnotes."""
    out = ""
    previous: Word | None = None
    for word in line.words:
        marker = _raised(word, line) and all(
            part in note_numbers for part in re.split(r"[,–-]", word.text)
        )
        if marker:
            continue
        if previous is not None:
            # Words split only by a change of font (a bold letter) stay one word.
            out += "" if word.x0 - previous.x1 < 0.1 * line.size else " "
        out += word.text
        previous = word
    return out


# ------------------------------------------------------------------- paragraphs

_BULLET = re.compile(r"[•▪◦‣●■]\s")  # a new list item, never a line going on
_LIST_ITEM = re.compile(r"(?:[•▪◦‣●■–*-]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")
_SENTENCE_END = (".", "!", "?", ".”", '."', "?”", "!”", ":")


def _paragraphs(items: list[_Item]) -> list[list[_Line] | _Table]:
    """Lines grouped into blocks; a table goes after the paragraph it interrupts."""
    pitch = _leading(items)
    out: list[list[_Line] | _Table] = []
    current: list[_Line] = []
    pending: list[_Table] = []

    def flush() -> None:
        if current:
            out.append(list(current))
            current.clear()
        out.extend(pending)
        pending.clear()

    for item in items:
        if isinstance(item, _Table):
            if current:
                pending.append(item)
            else:
                out.append(item)
            continue
        if current and not _continues(current[-1], item, pitch):
            flush()
        current.append(item)
    flush()
    return out


def _leading(items: list[_Item]) -> float:
    """The usual distance between baselines, as a multiple of the type size."""
    ratios = []
    previous: _Line | None = None
    for item in items:
        if isinstance(item, _Line):
            if (
                previous is not None
                and previous.flow == item.flow
                and abs(previous.size - item.size) < 0.3
                and item.top > previous.top
            ):
                ratios.append((item.bottom - previous.bottom) / item.size)
            previous = item
    # Paragraph gaps widen some of the distances: the usual one is among the smallest.
    return sorted(ratios)[len(ratios) // 5] if ratios else 1.2


def _continues(previous: _Line, line: _Line, pitch: float) -> bool:
    same_size = abs(previous.size - line.size) <= max(0.05 * line.size, 0.3)
    ending = previous.text
    starts_lower = line.text[:1].islower()
    if same_size and re.search(r"\w[-\u00ad\u2010]$", ending) and starts_lower:
        return True  # a word broken across the lines
    if not same_size or previous.font != line.font or _BULLET.match(line.text):
        return False
    indented = line.x0 - line.left >= 0.8 * line.size
    full = previous.x1 >= previous.right - max(1.5 * previous.size, 0.03 * _width(previous))
    ended = ending.endswith(_SENTENCE_END)
    if previous.flow != line.flow:
        if previous.page == line.page and previous.column == -1 and line.column != -1:
            # From lines across the page into a column: only a full line goes on (a
            # byline or a short heading above the columns ends there).
            return starts_lower or (full and not ended)
        # A column or page break: the paragraph goes on unless it had ended.
        return starts_lower or not ended or (full and not indented)
    if line.bottom - previous.bottom > (pitch + 0.4) * line.size:
        return False
    if starts_lower and not ended:
        return True  # a sentence going on, whatever its indent (a list item's next line)
    if indented and previous.x0 - previous.left < 0.5 * line.size and not _LIST_ITEM.match(ending):
        return False
    return not (ended and not full)


def _width(line: _Line) -> float:
    return max(line.right - line.left, 1.0)


# --------------------------------------------------------------------- hyphens


class _Vocabulary:
    """The words of a document, to rejoin words hyphenated at line ends.

    A break at a hyphen is a typesetter's hyphenation ("coop-/eration") or a compound
    that happened to break there ("Indo-/Pacific"). The document decides where it can:
    the hyphenated or the joined form written elsewhere in it. Otherwise a capital or a
    digit after the hyphen, or two whole words on either side, mean a compound.
    """

    _PREFIXES = frozenset(["non", "self", "anti", "semi", "quasi", "multi", "well"])

    def __init__(self, blocks: Iterable[Sequence[str]]) -> None:
        self.words: set[str] = set()
        self.compounds: set[str] = set()
        # A producer that marks its own hyphenation (U+2010 from WeasyPrint and
        # Chromium, a soft hyphen) leaves "-" at a line end only where the word has one.
        self.marked = False
        for lines in blocks:
            for number, line in enumerate(lines):
                if number + 1 < len(lines) and line.endswith(("\u2010", "\u00ad")):
                    self.marked = True
                tokens = line.split()
                if number + 1 < len(lines) and line.endswith("-") and tokens:
                    tokens = tokens[:-1]  # the first half of a broken word
                if number > 0 and lines[number - 1].endswith("-") and tokens:
                    tokens = tokens[1:]  # and its second half
                for token in tokens:
                    token = token.strip(".,;:!?()[]“”\"'‘’").casefold()
                    if "-" in token.strip("-"):
                        self.compounds.add(token)
                        self.words.update(part for part in token.split("-") if part)
                    elif token:
                        self.words.add(token)

    def join(self, lines: Sequence[str]) -> str:
        out = ""
        for line in lines:
            line = line.strip()
            if not line:
                continue
            if not out:
                out = line
            elif out.endswith(("\u00ad", "\u2010")) and re.match(r"\w", line):
                # Soft hyphen, or U+2010 which WeasyPrint and Chromium draw where they
                # hyphenate (a compound's own hyphen is written "-").
                out = out[:-1] + line
            elif re.search(r"\w -$", out) and line[:1].islower():
                # LibreOffice sets its hyphenation mark apart from the syllable ("Cen -").
                out = out[:-2] + "-"
                head = re.search(r"([\w’']+)-$", out)
                tail = re.match(r"[\w’']+", line)
                keep = head is not None and tail is not None and self.compound(head[1], tail[0])
                out = (out if keep else out[:-1]) + line
            elif re.search(r"\w-$", out) and re.match(r"\w", line):
                head = re.search(r"([\w’']+)-$", out)
                tail = re.match(r"[\w’']+", line)
                assert head is not None and tail is not None
                # A break before a hyphen's word ("first-of-/a-kind") is at the chain's.
                chain = re.match(r"[\w’']+-\w", line)
                keep = bool(chain) or self.compound(head[1], tail[0])
                out = (out if keep else out[:-1]) + line
            else:
                out += " " + line
        return out

    def compound(self, head: str, tail: str) -> bool:
        """Whether "head-" at a line end and "tail" after it are one hyphenated word."""
        hyphenated = f"{head}-{tail}".casefold()
        joined = f"{head}{tail}".casefold()
        if self.marked or any(c.startswith(hyphenated) for c in self.compounds):
            return True
        if joined in self.words:
            return False
        # Then English (training/build_wordlist.py measures this on Wikipedia text): a word
        # a spell checker knows when joined ("multi-/plied", "trans-/pose") was hyphenated
        # by the typesetter. Two common words ("low-/carbon") are a compound, unless the
        # joined form is written nearly as often as the rarer of them: "longterm" and
        # "socalled" are typed on the web too, but far less than "long" and "term".
        english = _english_words()
        head_zipf, tail_zipf = english.zipf(head.casefold()), english.zipf(tail.casefold())
        if head.casefold() in self._PREFIXES and tail_zipf >= _PREFIXED_WORD:
            # "non-/member": the dictionary's American "nonmember" is a house style, but a
            # prefix before a common word is mostly written with its hyphen.
            return True
        if english.spelled(joined):
            return False
        rarer = min(head_zipf, tail_zipf)
        if len(head) >= 2 and len(tail) >= 2 and rarer >= _COMMON:
            return english.zipf(joined, inflected=True) < rarer - _CLOSED_MARGIN
        if tail[:1].isupper() or tail[:1].isdigit() or head[-1:].isdigit():
            return True
        if head.casefold() in self._PREFIXES:
            return True
        return (
            len(head) >= 3
            and len(tail) >= 3
            and head.casefold() in self.words
            and tail.casefold() in self.words
        )


_INFLECTIONS = ("s", "es", "ed", "d", "ing", "ly", "er", "ers")
# Zipf frequencies (log10 of uses per billion words, plus 9): a half used at least once in
# ten million words is a word of its own; a joined form within 1.75 of the rarer half (at
# least one use in 56 of the half's) is a closed compound. Chosen, with _PREFIXED_WORD, by
# the fewest wrong decisions on the development text of training/build_wordlist.py.
_COMMON = 2.0
_CLOSED_MARGIN = 1.75
# A prefix ("non-", "multi-") keeps its hyphen before a word used once in a million.
_PREFIXED_WORD = 3.0


@dataclass(frozen=True)
class _English:
    """English words: the ones a spell checker knows, and how often each is used."""

    dictionary: frozenset[str]
    frequency: dict[str, float]  # Zipf, where at least 1.5

    def spelled(self, word: str) -> bool:
        """Whether the dictionary has the word, or its stem with a plain inflection."""
        return word in self.dictionary or any(
            word.endswith(end) and len(word) > len(end) + 2 and word[: -len(end)] in self.dictionary
            for end in _INFLECTIONS
        )

    def zipf(self, word: str, *, inflected: bool = False) -> float:
        """The word's Zipf frequency (0 if rare), or with ``inflected`` its stem's if higher."""
        found = self.frequency.get(word, 0.0)
        if inflected:
            for end in _INFLECTIONS:
                if word.endswith(end) and len(word) > len(end) + 2:
                    found = max(found, self.frequency.get(word[: -len(end)], 0.0))
        return found


@functools.cache
def _english_words() -> _English:
    """The word list shipped as package data (english-words.README.md: SCOWL's American and
    British spell-checker words, and wordfreq's frequencies, CC BY-SA 4.0)."""
    packed = resources.files("briefqa").joinpath("english-words.tsv.xz").read_bytes()
    dictionary: set[str] = set()
    frequency: dict[str, float] = {}
    for line in lzma.decompress(packed).decode("ascii").splitlines():
        word, zipf, spelled = line.split("\t")
        if zipf != "0":
            frequency[word] = int(zipf) / 10
        if spelled == "1":
            dictionary.add(word)
    return _English(frozenset(dictionary), frequency)


# ---------------------------------------------------------------- classification


def _bold(font: str) -> bool:
    return re.search(r"bold|black|heavy|semibold|demi", font, re.I) is not None


def _title_group(groups: list[list[_Line] | _Table], body_size: float) -> list[_Line] | None:
    """The block in the largest type in the top half of page 1, if it is larger than
    the body text."""
    best: list[_Line] | None = None
    for group in groups:
        if isinstance(group, _Table) or group[0].page != 1:
            continue
        line = group[0]
        if line.top > 0.5 * line.page_height or line.size < 1.3 * body_size:
            continue
        if best is None or line.size > best[0].size + 0.1:
            best = group
    return best


_CREDIT_LINE = re.compile(r"(?:photo(?:graph)?s?|credits?|fot\.?|foto)\s*[:：]|©", re.I)
_CAPTION = re.compile(r"(?:table|figure|fig\.|chart|map|graph|source)\s*\d*[.:]?\s", re.I)


def _is_heading(group: list[_Line], text: str, body_size: float, body_font: str) -> bool:
    line = group[0]
    larger = line.size >= 1.12 * body_size
    bolder = _bold(line.font) and not _bold(body_font)
    return (
        (larger or bolder)
        and len(group) <= 3
        and 0 < len(text) <= 150
        and len(text.split()) <= 20
        and not text.endswith((".", ",", ";", ":"))
        and (text[0].isupper() or text[0].isdigit())
        and not _CAPTION.match(text)
    )


def _author_names(text: str) -> tuple[str, ...]:
    if len(text) > 160:
        return ()
    text = re.sub(r"^(?:by|authors?\s*[:：])\s+", "", text.strip().rstrip("."), flags=re.I)
    return split_authors(text)
