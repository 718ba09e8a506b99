"""The seed bulletin typeset as a PDF the way the institute publishes it.

:func:`magazine_pdf` lays out :mod:`tests.seed_layout` as a magazine page: a running
header and a "Page N of M" footer on every page, and on page 1 the number and date, a
large bold title, the author line, the lead and the photo credit across the full width
above two justified columns; headings in larger bold type, a superscript footnote marker
with its note at the foot of the page, and a ruled table in a column. :func:`simple_pdf`
is the plain variant: one column, with the same running header and footer.

The text is set line by line here (not with fpdf2's own flowing) so that the tests know
what a reader faces: words hyphenated at line ends, and "Indo-Pacific" broken across a
line at its hyphen. Both builders check that this happened and say so if it did not.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

from tests.seed_layout import Layout

PAGE_W, PAGE_H = 595.28, 841.89  # A4 in points
MARGIN = 50.0
GUTTER = 20.0
TEXT_W = PAGE_W - 2 * MARGIN
COLUMN_W = (TEXT_W - GUTTER) / 2
BODY_TOP = 68.0
BODY_BOTTOM = PAGE_H - 62.0

FONT_FILES = {
    ("Sans", ""): "DejaVuSans.ttf",
    ("Sans", "B"): "DejaVuSans-Bold.ttf",
    ("Sans", "I"): "DejaVuSans-Oblique.ttf",
    ("Serif", ""): "DejaVuSerif.ttf",
    ("Serif", "I"): "DejaVuSerif-Italic.ttf",
}


def font_dir() -> Path | None:
    """A folder holding the DejaVu TTFs (the system's, or matplotlib's copy), or None."""
    candidates = [Path("/usr/share/fonts/truetype/dejavu")]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for folder in candidates:
        if all((folder / name).is_file() for name in FONT_FILES.values()):
            return folder
    return None


@dataclass(frozen=True)
class Style:
    family: str
    style: str
    size: float
    leading: float


NUMBER_LINE = Style("Sans", "", 9.0, 12.0)
TITLE = Style("Sans", "B", 22.0, 26.0)
AUTHORS = Style("Sans", "I", 10.5, 14.0)
LEAD = Style("Sans", "B", 10.5, 14.0)
CREDIT = Style("Sans", "", 6.5, 8.0)
HEADING = Style("Sans", "B", 12.0, 15.0)
BODY = Style("Serif", "", 9.5, 12.5)
CAPTION = Style("Serif", "I", 8.5, 11.0)
CELL = Style("Sans", "", 7.5, 9.5)
CELL_HEAD = Style("Sans", "B", 7.5, 9.5)
NOTE = Style("Sans", "", 7.0, 9.0)
RUNNING = Style("Sans", "", 7.5, 9.0)
MARKER_SIZE = 5.5
MARKER_RISE = 3.5
PARAGRAPH_GAP = 5.0
HEADING_GAP = 9.0

_VOWELS = set("aeiouyAEIOUY")


class _Typesetter:
    """Line breaking and drawing on an fpdf2 document, in points."""

    def __init__(self, layout: Layout, fonts: Path) -> None:
        self.layout = layout
        self.pdf = FPDF(unit="pt", format="A4")
        self.pdf.set_auto_page_break(False)
        for (family, style), name in FONT_FILES.items():
            self.pdf.add_font(family, style, str(fonts / name))
        # Document info as a word processor leaves it: the visible text must win.
        self.pdf.set_title("Microsoft Word - PISM_Bulletin_116_final.docx")
        self.pdf.set_author("PISM")
        self.pdf.set_creation_date(dt.datetime(2023, 8, 23, 16, 5, tzinfo=dt.UTC))
        self.broken_compounds = 0  # "Indo-" at a line end
        self.hyphenated = 0  # ordinary words split with a hyphen

    def use(self, style: Style) -> None:
        self.pdf.set_font(style.family, style.style, style.size)

    def width(self, text: str, style: Style) -> float:
        self.use(style)
        return float(self.pdf.get_string_width(text))

    # ------------------------------------------------------------------ line breaking

    def lines(self, text: str, style: Style, width: float, marker_after: int = -1) -> list[_Line]:
        """``text`` broken into lines of at most ``width``; the word at index
        ``marker_after`` carries the footnote marker."""
        words = text.split()
        marker_w = self.marker_width()
        out: list[_Line] = []
        current: list[tuple[str, bool]] = []
        space = self.width(" ", style)

        def used(items: list[tuple[str, bool]]) -> float:
            total = sum(self.width(w, style) + (marker_w if m else 0.0) for w, m in items)
            return total + space * max(len(items) - 1, 0)

        for index, word in enumerate(words):
            marked = index == marker_after
            if used([*current, (word, marked)]) <= width:
                current.append((word, marked))
                continue
            line = list(current)
            split = self._split(word, lambda head, line=line: used([*line, (head, False)]) <= width)
            if split is not None:
                head, tail = split
                current.append((head, False))
                word = tail
            out.append(_Line(current, justify=True))
            current = [(word, marked)]
        out.append(_Line(current, justify=False))
        return out

    def _split(self, word: str, fits: Callable[[str], bool]) -> tuple[str, str] | None:
        if "-" in word.strip("-"):  # a compound breaks at its own hyphen
            cut = word.index("-", 1) + 1
            if fits(word[:cut]) and word[cut:]:
                if word.startswith("Indo-"):
                    self.broken_compounds += 1
                return word[:cut], word[cut:]
            return None
        core = re.match(r"[A-Za-z’']+", word)
        if core is None or len(core[0]) < 7 or "’" in core[0] or "'" in core[0]:
            return None
        letters = core[0]
        # Hyphenate between a vowel and a consonant followed by a vowel (co-op-er-a-tion),
        # three letters at least on each side; the longest head that fits.
        for cut in range(len(letters) - 3, 2, -1):
            if not (
                letters[cut - 1] in _VOWELS
                and letters[cut] not in _VOWELS
                and cut + 1 < len(letters)
                and letters[cut + 1] in _VOWELS
            ):
                continue
            if fits(word[:cut] + "-"):
                self.hyphenated += 1
                return word[:cut] + "-", word[cut:]
        return None

    def marker_width(self) -> float:
        self.pdf.set_font("Serif", "", MARKER_SIZE)
        return float(self.pdf.get_string_width("1"))

    # ------------------------------------------------------------------------ drawing

    def draw(self, line: _Line, style: Style, x: float, baseline: float, width: float) -> None:
        widths = [self.width(w, style) + (self.marker_width() if m else 0.0) for w, m in line.words]
        space = self.width(" ", style)
        if line.justify and len(line.words) > 1:
            space = (width - sum(widths)) / (len(line.words) - 1)
        last = len(line.words) - 1
        for number, ((word, marked), w) in enumerate(zip(line.words, widths, strict=True)):
            end = x + self.width(word, style)
            # Each word is followed by a real space glyph, as word processors write them.
            self.use(style)
            self.pdf.text(x, baseline, word if marked or number == last else word + " ")
            if marked:
                self.pdf.set_font("Serif", "", MARKER_SIZE)
                self.pdf.text(end, baseline - MARKER_RISE, "1" if number == last else "1 ")
            x += w + space

    def draw_right(self, text: str, style: Style, right: float, baseline: float) -> None:
        self.use(style)
        self.pdf.text(right - self.pdf.get_string_width(text), baseline, text)

    def draw_centered(self, text: str, style: Style, baseline: float) -> None:
        self.use(style)
        self.pdf.text((PAGE_W - self.pdf.get_string_width(text)) / 2, baseline, text)


@dataclass
class _Line:
    words: list[tuple[str, bool]]  # a word, and whether the footnote marker follows it
    justify: bool


def _marker_index(layout: Layout) -> tuple[int, int]:
    """(paragraph index in the body, word index) of the word that carries the marker."""
    for number, paragraph in enumerate(layout.body_paragraphs()):
        at = paragraph.find(layout.footnote.anchor)
        if at >= 0:
            end = at + len(layout.footnote.anchor)
            return number, len(paragraph[:end].split()) - 1
    raise ValueError("the footnote's anchor sentence is not in the brief")


def _items(layout: Layout) -> Iterator[tuple[str, object]]:
    """The column flow: ("para", text), ("heading", text), ("table", None)."""
    for paragraph in layout.intro:
        yield "para", paragraph
    for name, paragraphs in layout.sections:
        yield "heading", name
        for number, paragraph in enumerate(paragraphs):
            yield "para", paragraph
            if number == 0 and name == layout.table.section:
                yield "caption", layout.table.caption
                yield "table", None


def magazine_pdf(layout: Layout, path: Path) -> Path:
    """Write the brief as a two-column magazine-layout PDF at ``path``.

    Raises:
        RuntimeError: no DejaVu fonts are installed, or the layout did not break a word
            and an "Indo-Pacific" at line ends (the fixture would then test less).
    """
    fonts = _fonts()
    # Set twice: the footer says "Page N of M", and M is known once the text has flowed.
    pages = _magazine(layout, fonts, total=0).pdf.page
    ts = _magazine(layout, fonts, total=pages)
    _check(ts)
    ts.pdf.output(str(path))
    return path


def _fonts() -> Path:
    fonts = font_dir()
    if fonts is None:
        raise RuntimeError("no DejaVu TTF fonts found (install fonts-dejavu or matplotlib)")
    return fonts


def _magazine(layout: Layout, fonts: Path, total: int) -> _Typesetter:
    ts = _Typesetter(layout, fonts)
    pdf = ts.pdf
    marker_paragraph, marker_word = _marker_index(layout)
    note_lines = ts.lines(layout.footnote.text, NOTE, TEXT_W - 8)

    # ---- page 1, full width
    _new_page(ts, layout, total)
    y = BODY_TOP
    y += NUMBER_LINE.leading
    ts.use(NUMBER_LINE)
    pdf.text(MARGIN, y, f"No. {layout.number} ({layout.issue}), {layout.date:%-d %B %Y}")
    y += 14
    for line in ts.lines(layout.title, TITLE, TEXT_W):
        y += TITLE.leading
        ts.draw(_Line(line.words, False), TITLE, MARGIN, y, TEXT_W)
    y += 8 + AUTHORS.leading
    ts.use(AUTHORS)
    pdf.text(MARGIN, y, ", ".join(layout.authors))
    y += 10
    for line in ts.lines(layout.lead, LEAD, TEXT_W):
        y += LEAD.leading
        ts.draw(line, LEAD, MARGIN, y, TEXT_W)
    y += 12 + CREDIT.leading
    ts.draw_right(layout.credit, CREDIT, MARGIN + TEXT_W, y)
    y += 16

    # ---- the footnote at the foot of page 1, under a short rule
    note_top = BODY_BOTTOM - len(note_lines) * NOTE.leading - 8
    pdf.set_line_width(0.5)
    pdf.line(MARGIN, note_top, MARGIN + 80, note_top)
    note_y = note_top + 2
    for number, line in enumerate(note_lines):
        note_y += NOTE.leading
        if number == 0:
            pdf.set_font("Sans", "", MARKER_SIZE)
            pdf.text(MARGIN, note_y - MARKER_RISE, "1")
        ts.draw(line, NOTE, MARGIN + 8, note_y, TEXT_W - 8)
    column_bottom = {1: note_top - 6}

    # ---- the columns
    column = 0
    top_of_columns = y
    cursor = y

    def advance(height: float) -> None:
        """Make room for ``height`` in the current column, moving on if needed."""
        nonlocal column, cursor, top_of_columns
        if cursor + height <= column_bottom.get(pdf.page, BODY_BOTTOM):
            return
        if column == 0:
            column = 1
        else:
            _new_page(ts, layout, total)
            column = 0
            top_of_columns = BODY_TOP
        cursor = top_of_columns

    def x_of_column() -> float:
        return MARGIN + column * (COLUMN_W + GUTTER)

    body_number = 1  # the lead is body paragraph 0
    for kind, content in _items(layout):
        if kind == "heading":
            assert isinstance(content, str)
            lines = ts.lines(content, HEADING, COLUMN_W)
            if cursor > top_of_columns:
                cursor += HEADING_GAP
            # Keep the heading with two lines of its paragraph.
            advance(len(lines) * HEADING.leading + 2 * BODY.leading)
            for line in lines:
                cursor += HEADING.leading
                ts.draw(_Line(line.words, False), HEADING, x_of_column(), cursor, COLUMN_W)
            cursor += 3
        elif kind == "caption":
            assert isinstance(content, str)
            lines = ts.lines(content, CAPTION, COLUMN_W)
            advance(len(lines) * CAPTION.leading + 4 + 110)  # the table's height, about
            for line in lines:
                cursor += CAPTION.leading
                ts.draw(_Line(line.words, False), CAPTION, x_of_column(), cursor, COLUMN_W)
            cursor += 4
        elif kind == "table":
            cursor = _table(ts, layout, x_of_column(), cursor) + PARAGRAPH_GAP
        else:
            assert isinstance(content, str)
            marker = marker_word if body_number == marker_paragraph else -1
            body_number += 1
            for line in ts.lines(content, BODY, COLUMN_W, marker_after=marker):
                advance(BODY.leading)
                cursor += BODY.leading
                ts.draw(line, BODY, x_of_column(), cursor, COLUMN_W)
            cursor += PARAGRAPH_GAP
    return ts


def _table(ts: _Typesetter, layout: Layout, x: float, top: float) -> float:
    """Draw the ruled table at (x, top); return its bottom."""
    pdf = ts.pdf
    widths = [58.0, 68.0, COLUMN_W - 126.0]
    pad = 3.0
    y = top
    pdf.set_line_width(0.4)
    for number, row in enumerate([layout.table.header, *layout.table.rows]):
        style = CELL_HEAD if number == 0 else CELL
        cells = [ts.lines(cell, style, w - 2 * pad) for cell, w in zip(row, widths, strict=True)]
        height = max(len(c) for c in cells) * style.leading + 2 * pad
        left = x
        for lines, w in zip(cells, widths, strict=True):
            baseline = y + pad
            for line in lines:
                baseline += style.leading
                ts.draw(_Line(line.words, False), style, left + pad, baseline - 2, w)
            pdf.rect(left, y, w, height)
            left += w
        y += height
    return y


def _new_page(ts: _Typesetter, layout: Layout, total: int) -> None:
    """A new page with the running header and the "Page N of M" footer."""
    ts.pdf.add_page()
    ts.use(RUNNING)
    ts.pdf.text(MARGIN, 36, layout.running_header)
    ts.draw_centered(f"Page {ts.pdf.page} of {total}", RUNNING, PAGE_H - 36)


def _check(ts: _Typesetter) -> None:
    if not ts.broken_compounds or not ts.hyphenated:
        raise RuntimeError(
            f"the layout broke {ts.broken_compounds} 'Indo-Pacific' and hyphenated "
            f"{ts.hyphenated} words at line ends; the fixture needs at least one of each"
        )


def simple_pdf(layout: Layout, path: Path) -> Path:
    """Write the brief as a plain one-column PDF with a running header and footer."""
    fonts = _fonts()
    pages = _simple(layout, fonts, total=0).pdf.page
    _simple(layout, fonts, total=pages).pdf.output(str(path))
    return path


def _simple(layout: Layout, fonts: Path, total: int) -> _Typesetter:
    ts = _Typesetter(layout, fonts)
    _new_page(ts, layout, total)
    y = BODY_TOP
    for line in ts.lines(layout.title, TITLE, TEXT_W):
        y += TITLE.leading
        ts.draw(_Line(line.words, False), TITLE, MARGIN, y, TEXT_W)
    y += 6

    def block(text: str, style: Style, gap: float) -> None:
        nonlocal y
        for line in ts.lines(text, style, TEXT_W):
            if y + style.leading > BODY_BOTTOM:
                _new_page(ts, layout, total)
                y = BODY_TOP
            y += style.leading
            ts.draw(line, style, MARGIN, y, TEXT_W)
        y += gap

    block(f"No. {layout.number} ({layout.issue}), {layout.date:%-d %B %Y}", NUMBER_LINE, 6)
    for paragraph in [layout.lead, *layout.intro]:
        block(paragraph, BODY, PARAGRAPH_GAP)
    for name, paragraphs in layout.sections:
        y += HEADING_GAP
        if y + HEADING.leading + 3 * BODY.leading > BODY_BOTTOM:
            _new_page(ts, layout, total)
            y = BODY_TOP
        block(name, HEADING, 3)
        for paragraph in paragraphs:
            block(paragraph, BODY, PARAGRAPH_GAP)
    return ts
