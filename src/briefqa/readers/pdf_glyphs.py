"""A page's glyphs and drawn shapes from PDFium, in pdfplumber's terms.

pdfplumber (pdfminer.six underneath) interprets a page's content stream in Python: a
page from Chromium costs 150-250 ms, nine tenths of a brief's parse time. PDFium does
the same work in C++, and pypdfium2 exposes it. The layout code in :mod:`briefqa.pdf`
needs little of a page: its characters with their boxes, type size and font
(:func:`page_chars`), the boxes of what is drawn on it (:func:`page_shapes`) to find
sidebars and figures, and its size (:func:`page_size`). They are given here as
pdfplumber gives them (points from the page's top left, pdfminer's box conventions), so
the layout's thresholds hold whichever parser read the page; on the benchmark briefs of
five producers the layout's words come out the same from both.

What PDFium does differently, and what is done about it:

- Its text page is made for selecting and searching text, so it *adds* characters that
  are not in the file: a space where it sees a gap between words, CR LF at the end of
  a line. Those are flagged as generated and left out. A space glyph drawn on its own
  (Chromium draws each inter-word space with a ``Tj`` of its own; fpdf2's and
  WeasyPrint's spaces often go too) it replaces by a generated one, so that space goes;
  the gap it leaves is the space's width, more than the layout's word gap, and the
  words part where they did. The zero-width spaces Chromium writes at hyphenation
  points it drops: the layout does not break a word at them either.
- It marks a hyphen at a line end ("-" or a soft hyphen) as U+0002; it is "-" here.
- Its loose box is the union of the glyph's advance box and its ink, its top and
  bottom from the font's ascent and descent or its bounding box. Here, as pdfminer
  has them: x0 is the glyph's origin, x1 the origin plus its advance (the font's
  width where the ink overhangs the advance, as an italic "f" or a "K" do), the bottom
  is the baseline less the font's declared descent, the top one type size higher.
- It keeps a font's widths in whole thousandths of an em (Chromium's are fractional):
  along a long ``Tj`` its glyphs drift from pdfminer's places, 0.2 pt over a line.
- Its font size is the one set with ``Tf``; pdfminer's is the size on the page (scaled
  by the text and graphics matrices), which the layout compares.
- It gives a ligature glyph as one char per letter, all at the glyph's origin (and
  cuts the box into pieces where the font maps the glyph to "ﬁ", U+FB01). They are
  one char again here, with the letters as its text: pdfminer's is "fi" or "ﬁ", as the
  font maps it, so a Chromium brief reads "financed" where pdfplumber has "ﬁnanced".
- Its font names are pdfminer's, but that a TrueType or Type 1 font's subset prefix
  ("ABCDEF+") is dropped, as the layout drops it anyway.
- It leaves out a text object drawn twice over itself (fake bold); pdfminer keeps both.

Coordinates run from the MediaBox's top left corner. pdfplumber's differ where the
MediaBox does not start at (0, 0): its x is the file's and its top is measured from
the MediaBox's height. A page with /Rotate is not turned upright here (pdfplumber turns
it: its text is then upright where it is not here, and the other way round).
PDFium is not thread-safe: one document at a time per process.
"""

from __future__ import annotations

import ctypes
import io
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pypdfium2
import pypdfium2.raw as pdfium_c

__all__ = ["font_descents", "page_chars", "page_shapes", "page_size"]

Box = tuple[float, float, float, float]  # x0, top, x1, bottom

_P = ctypes.c_void_p
_INT = ctypes.c_int
_DOUBLE = ctypes.c_double


def _bind(name: str, restype: Any, *argtypes: Any) -> Callable[..., Any]:
    """PDFium's function ``name`` with plain C types: handles in and out as integers.

    pypdfium2's own bindings return typed pointer objects; integers are cheaper to pass,
    and they can key a dict (the text objects and fonts met on a page are cached by
    their address). Out-parameters are passed as the address of a preallocated buffer.
    """
    address = ctypes.cast(getattr(pdfium_c, name), ctypes.c_void_p).value
    if not address:
        raise ImportError(f"PDFium has no {name}")
    function: Callable[..., Any] = ctypes.CFUNCTYPE(restype, *argtypes)(address)
    return function


_count_chars = _bind("FPDFText_CountChars", _INT, _P)
_unicode = _bind("FPDFText_GetUnicode", ctypes.c_uint, _P, _INT)
_is_generated = _bind("FPDFText_IsGenerated", _INT, _P, _INT)
_text_object = _bind("FPDFText_GetTextObject", _P, _P, _INT)
_char_origin = _bind("FPDFText_GetCharOrigin", _INT, _P, _INT, _P, _P)
_char_box = _bind("FPDFText_GetCharBox", _INT, _P, _INT, _P, _P, _P, _P)
_loose_box = _bind("FPDFText_GetLooseCharBox", _INT, _P, _INT, _P)
_char_matrix = _bind("FPDFText_GetMatrix", _INT, _P, _INT, _P)
_font_size = _bind("FPDFText_GetFontSize", _DOUBLE, _P, _INT)
_font_info = _bind("FPDFText_GetFontInfo", ctypes.c_ulong, _P, _INT, _P, ctypes.c_ulong, _P)
_object_font = _bind("FPDFTextObj_GetFont", _P, _P)
_font_descent = _bind("FPDFFont_GetDescent", _INT, _P, ctypes.c_float, _P)
_glyph_width = _bind("FPDFFont_GetGlyphWidth", _INT, _P, ctypes.c_uint, ctypes.c_float, _P)

_count_objects = _bind("FPDFPage_CountObjects", _INT, _P)
_page_object = _bind("FPDFPage_GetObject", _P, _P, _INT)
_count_form_objects = _bind("FPDFFormObj_CountObjects", _INT, _P)
_form_object = _bind("FPDFFormObj_GetObject", _P, _P, ctypes.c_ulong)
_object_type = _bind("FPDFPageObj_GetType", _INT, _P)
_object_matrix = _bind("FPDFPageObj_GetMatrix", _INT, _P, _P)
_count_segments = _bind("FPDFPath_CountSegments", _INT, _P)
_path_segment = _bind("FPDFPath_GetPathSegment", _P, _P, _INT)
_segment_point = _bind("FPDFPathSegment_GetPoint", _INT, _P, _P, _P)
_segment_type = _bind("FPDFPathSegment_GetType", _INT, _P)
_segment_close = _bind("FPDFPathSegment_GetClose", _INT, _P)

_LINE_BREAKS = frozenset((0x0A, 0x0D))
#: PDFium's marks for a hyphen ("-" or U+00AD) at a line end: U+0002 in its char list,
#: U+FFFE in its text.
_HYPHEN_MARKS = {0xFFFE: "-", 0x0002: "-"}
_PATH, _IMAGE, _FORM = 2, 3, 5
_MOVETO, _BEZIERTO = 2, 1

Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _handle(obj: Any) -> int:
    """The address behind a pypdfium2 object (a page, a text page) or a raw pointer."""
    raw = getattr(obj, "raw", obj)
    return int(ctypes.cast(raw, ctypes.c_void_p).value or 0)


def _media_box(page: pypdfium2.PdfPage) -> tuple[float, float, float, float]:
    """The page's MediaBox (left, bottom, right, top), as pdfplumber measures the page.

    PDFium reads a page's own /MediaBox only (pypdfium2 then falls back to US Letter);
    one inherited from the page tree (fpdf2 writes it there) shows in the page's
    bounding box, the MediaBox cut to the CropBox.
    """
    box = page.get_mediabox(fallback_ok=False) or page.get_bbox()
    left, right = sorted((float(box[0]), float(box[2])))
    bottom, top = sorted((float(box[1]), float(box[3])))
    return left, bottom, right, top


def page_size(page: pypdfium2.PdfPage) -> tuple[float, float]:
    """The page's width and height in points: its MediaBox, as pdfplumber's
    ``page.width`` and ``page.height`` (PDFium's own page size is the CropBox's)."""
    left, bottom, right, top = _media_box(page)
    return right - left, top - bottom


class _Style:
    """The font, size and orientation shared by the characters of text objects."""

    __slots__ = ("descent", "font", "name", "scale", "size", "upright")

    def __init__(
        self,
        tp: int,
        index: int,
        font: int,
        tf_size: float,
        matrix: tuple[float, float, float, float],
        declared: Mapping[str, float],
    ) -> None:
        a, b, c, d = matrix
        buffer = ctypes.create_string_buffer(128)
        flags = _INT()
        length = _font_info(tp, index, ctypes.addressof(buffer), 128, ctypes.addressof(flags))
        if length > 128:
            buffer = ctypes.create_string_buffer(length)
            _font_info(tp, index, ctypes.addressof(buffer), length, ctypes.addressof(flags))
        self.name = buffer.value.decode("utf-8", "replace")
        #: pdfminer's size: the height of a type-size box under the char's matrix
        self.size = tf_size * math.hypot(c, d)
        #: page units of advance per unit of glyph width (glyph widths at size 1)
        self.scale = tf_size * math.hypot(a, b)
        self.upright = a * d > 0 and b * c <= 0
        self.font = font
        declared_descent = declared.get(self.name)
        #: the font's descent per unit of type size (<= 0)
        self.descent = _descent(font) if declared_descent is None else declared_descent


class _Styles:
    """Each text object's :class:`_Style`, shared by the objects alike: Chromium draws
    every glyph as a text object of its own."""

    def __init__(self, tp: int, declared: Mapping[str, float]) -> None:
        self.tp = tp
        self.declared = declared
        self.by_object: dict[int, _Style] = {}
        self.by_look: dict[tuple[int, float, float, float, float, float], _Style] = {}
        self.matrix = (ctypes.c_float * 6)()
        self.pmatrix = ctypes.addressof(self.matrix)

    def get(self, obj: int, index: int) -> _Style:
        style = self.by_object.get(obj)
        if style is not None:
            return style
        font = int(_object_font(obj) or 0) if obj else 0
        tf_size = _font_size(self.tp, index)
        _char_matrix(self.tp, index, self.pmatrix)
        m = self.matrix
        look = (font, tf_size, m[0], m[1], m[2], m[3])
        style = self.by_look.get(look)
        if style is None:
            style = _Style(self.tp, index, font, tf_size, look[2:], self.declared)
            self.by_look[look] = style
        self.by_object[obj] = style
        return style


def page_chars(
    page: pypdfium2.PdfPage, descents: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """The page's characters as pdfplumber gives them, with the keys the layout reads:
    ``text``, ``x0``, ``x1``, ``top``, ``bottom`` (points from the page's top left),
    ``size`` (type size on the page), ``fontname`` and ``upright``.

    Only glyphs drawn in the file are given: PDFium's generated spaces and line breaks
    are dropped. x0 to x1 is the glyph's advance (origin to origin + width), top to
    bottom the type size above the font's descent, as pdfminer computes them.

    ``descents`` (from :func:`font_descents`) gives the descents the fonts declare;
    without it PDFium's are used, which differ where a font declares none (LibreOffice
    writes 0, and PDFium then takes the font's bounding box: bottoms 0.3 em lower).
    """
    left, _, _, top = _media_box(page)
    textpage = page.get_textpage()
    try:
        return _chars(_handle(textpage), left, top, descents or {})
    finally:
        textpage.close()


def _chars(tp: int, left: float, top: float, declared: Mapping[str, float]) -> list[dict[str, Any]]:
    """The text page's real glyphs as pdfplumber's chars, in PDFium's order.

    One pass, four PDFium calls a glyph (its Unicode value, text object, origin and
    loose box); the rest is cached per text object, font and letter.
    """
    x, y = _DOUBLE(), _DOUBLE()
    px, py = ctypes.addressof(x), ctypes.addressof(y)
    loose = (ctypes.c_float * 4)()  # FS_RECTF: left, top, right, bottom
    ploose = ctypes.addressof(loose)
    styles = _Styles(tp, declared)
    by_object = styles.by_object
    widths: dict[tuple[int, int], float] = {}
    out: list[dict[str, Any]] = []
    # The glyph before, open to more letters of a ligature: its text object and origin.
    last: _Last | None = None
    last_object, last_x, last_y = 0, math.nan, math.nan
    high = 0  # a UTF-16 high surrogate waiting for its low half
    for index in range(_count_chars(tp)):
        code = _unicode(tp, index)
        if code == 0x20:
            if _is_generated(tp, index):
                continue  # PDFium's own space between words
        elif code in _LINE_BREAKS:
            continue  # PDFium's line break (a file's own CR or LF draws nothing)
        elif 0xD800 <= code < 0xDC00:
            high = code  # UTF-16 from PDFium built for Windows: the low half follows
            continue
        elif 0xDC00 <= code < 0xE000:
            code = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00) if high else 0xFFFD
        elif code > 0x10FFFF:
            code = 0xFFFD
        high = 0
        text = _HYPHEN_MARKS.get(code) or chr(code)
        handle = _text_object(tp, index) or 0
        _char_origin(tp, index, px, py)
        ox, oy = x.value, y.value
        if (
            last is not None
            and handle == last_object
            and ox == last_x
            and oy == last_y
            and code != 0x20
            and last.char["text"] != " "
        ):
            # A ligature's letters ("ﬁ" is "f", "i") share its origin: one glyph again.
            _loose_box(tp, index, ploose)
            last.add(tp, text, loose[2], _ink_right(tp, index))
            continue
        if last is not None and last.letters:
            last.close(widths, ox, oy)
        style = by_object.get(handle) or styles.get(handle, index)
        _loose_box(tp, index, ploose)
        right = loose[2]
        size = style.size
        width = widths.get((style.font, code))
        if width is None:
            width = widths[(style.font, code)] = _glyph_advance(style.font, code)
        end = ox + width * style.scale
        # The loose box reaching past the advance the font gives: the ink overhangs it
        # (an italic "f"), or the width found is another glyph's. The ink's box tells.
        if (
            ox < end < right - 0.01
            and end > right - 0.3 * size
            and _ink_right(tp, index) >= right - 0.01
        ):
            right = end
        bottom = top - oy - style.descent * size
        char = {
            "text": text,
            "x0": ox - left,
            "x1": right - left,
            "top": bottom - size,
            "bottom": bottom,
            "size": size,
            "fontname": style.name,
            "upright": style.upright,
        }
        out.append(char)
        last = _Last(char, style, index, ox, oy, loose[2])
        last_object, last_x, last_y = handle, ox, oy
    if last is not None and last.letters:
        last.close(widths, math.nan, math.nan)
    return out


#: Ligatures by their letters, to look a ligature glyph's width up.
_LIGATURE_CODES = {"ff": 0xFB00, "fi": 0xFB01, "fl": 0xFB02, "ffi": 0xFB03, "ffl": 0xFB04}


class _Last:
    """The char just made, while more letters of a ligature may follow: PDFium gives a
    ligature glyph as one char per letter, at the glyph's origin."""

    __slots__ = ("char", "index", "ink", "letters", "right", "style", "x", "y")

    def __init__(
        self, char: dict[str, Any], style: _Style, index: int, x: float, y: float, right: float
    ) -> None:
        self.char, self.style, self.index = char, style, index
        self.x, self.y = x, y  # origin, in PDFium's coordinates
        self.right = right  # loose right edge
        self.ink = -math.inf  # ink's right edge, once letters are added
        self.letters = False  # whether letters were added: a ligature

    def add(self, tp: int, text: str, right: float, ink: float) -> None:
        if not self.letters:
            self.ink = _ink_right(tp, self.index)
            self.letters = True
        self.char["text"] += text
        self.right = max(self.right, right)
        self.ink = max(self.ink, ink)

    def close(self, widths: dict[tuple[int, int], float], next_x: float, next_y: float) -> None:
        """Set the ligature's text and where its advance ends, given the next glyph's
        origin (NaN at the end of the page)."""
        char = self.char
        text = char["text"].replace("\u00ad", "") or char["text"]  # Chromium's, in a "ﬀ"
        char["text"] = text
        char["x1"] = self._end(widths, text, next_x, next_y) + char["x0"] - self.x

    def _end(
        self, widths: dict[tuple[int, int], float], text: str, next_x: float, next_y: float
    ) -> float:
        """Where the advance ends, in PDFium's coordinates.

        The letters' loose boxes are the whole glyph's (its advance and ink together)
        or pieces cut from its ink. Where the ink ends short of the loose box, the box
        ends with the advance. Else: the next glyph's origin if it is close enough to be
        the word's next letter ("ﬀ" and "e" of "diﬀer"); the ligature's width if the
        font maps one and it is about its letters' widths together (a font without it
        answers its default width); the ink's edge, tenths of a point too far at most.
        """
        style, size = self.style, self.style.size
        if self.ink < self.right - 0.01:
            return self.right
        if abs(next_y - self.y) < 0.01 and self.x < next_x <= self.right + 0.15 * size:
            return next_x
        code = _LIGATURE_CODES.get(text)
        if code is not None and style.font:
            width = _cached_advance(widths, style.font, code)
            letters = sum(_cached_advance(widths, style.font, ord(c)) for c in text)
            end = self.x + width * style.scale
            if abs(width - letters) <= 0.12 * letters and end <= self.ink + 0.01:
                return end
        return self.right


def _cached_advance(widths: dict[tuple[int, int], float], font: int, code: int) -> float:
    width = widths.get((font, code))
    if width is None:
        width = widths[(font, code)] = _glyph_advance(font, code)
    return width


def _ink_right(tp: int, index: int) -> float:
    """The right edge of the glyph's ink (its tight box)."""
    box = (_DOUBLE * 4)()  # left, right, bottom, top
    address = ctypes.addressof(box)
    _char_box(tp, index, address, address + 8, address + 16, address + 24)
    return float(box[1])


def _descent(font: int) -> float:
    """The font's descent per unit of type size as PDFium has it (<= 0): the declared
    one where the font declares one, else the bottom of its bounding box or of its
    glyphs."""
    value = ctypes.c_float()
    if not font or not _font_descent(font, 1.0, ctypes.addressof(value)):
        return 0.0
    return min(value.value, -value.value)  # pdfminer: a positive descent goes below


def _glyph_advance(font: int, code: int) -> float:
    """A glyph's advance width at type size 1, looked up by its Unicode value; 0 if
    PDFium cannot tell. PDFium maps the letter back to a glyph of the font: where
    several glyphs give one letter it may pick another, so the answer is checked."""
    width = ctypes.c_float()
    if not font or not _glyph_width(font, code, 1.0, ctypes.addressof(width)):
        return 0.0
    return float(width.value)


#: The fonts pdfminer measures by its own metrics (the standard 14 and their aliases),
#: whatever the file declares, and their descents per 1000 units of type size.
_STANDARD_DESCENTS = {
    **{f"Courier{style}": -194.0 for style in ("", "-Bold", "-BoldOblique", "-Oblique")},
    **{f"Helvetica{style}": -207.0 for style in ("", "-Bold", "-BoldOblique", "-Oblique")},
    **{f"Times-{style}": -217.0 for style in ("Roman", "Bold", "BoldItalic", "Italic")},
    **{
        f"{family}{style}": descent
        for family, descent in (
            ("Arial", -207.0),
            ("CourierNew", -194.0),
            ("TimesNewRoman", -217.0),
        )
        for style in ("", ",Italic", ",Bold", ",BoldItalic")
    },
    "Symbol": 0.0,
    "ZapfDingbats": 0.0,
}


def font_descents(data: bytes) -> dict[str, float]:
    """The descents the document's fonts declare, per unit of type size, by font name
    (with and without a subset prefix): what pdfminer places the bottom of a glyph's
    box by, and PDFium does not tell when it is 0 or missing.

    Read with pypdf from the font dictionaries of the pages and the forms they draw; a
    font that cannot be read is left out (PDFium's descent stands for it).
    """
    import pypdf

    out: dict[str, float] = {}
    seen: set[int] = set()

    def visit_resources(resources: Any, depth: int) -> None:
        resources = resources.get_object() if resources is not None else None
        if not isinstance(resources, dict) or depth > 8:
            return
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else None
        if isinstance(fonts, dict):
            for ref in fonts.values():
                visit_font(ref)
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else None
        if isinstance(xobjects, dict):
            for ref in xobjects.values():
                key = id(ref.get_object()) if not hasattr(ref, "idnum") else ref.idnum
                if key in seen:
                    continue
                seen.add(key)
                xobject = ref.get_object()
                if xobject.get("/Subtype") == "/Form":
                    visit_resources(xobject.get("/Resources"), depth + 1)

    def visit_font(ref: Any) -> None:
        font = ref.get_object()
        if not isinstance(font, dict) or font.get("/Subtype") == "/Type3":
            return  # pdfminer boxes Type 3 glyphs by the font's own matrix and box
        name = str(font.get("/BaseFont", "")).lstrip("/")
        if not name:
            return
        descent = _STANDARD_DESCENTS.get(name)
        if descent is None:
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descendant = font["/DescendantFonts"].get_object()[0].get_object()
                descriptor = descendant.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            descent = -abs(float(descriptor.get("/Descent", 0) or 0))
        for key in (name, name.split("+", 1)[-1]):
            out.setdefault(key, descent / 1000)

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = list(reader.pages)
    except Exception:  # not a PDF pypdf reads: PDFium's descents for every font
        return out
    for page in pages:
        try:
            visit_resources(page.get("/Resources"), 0)
        except Exception:  # a damaged page: PDFium's descents for its other fonts
            continue
    return out


# ------------------------------------------------------------------------ shapes


def page_shapes(page: pypdfium2.PdfPage) -> list[Box]:
    """Boxes (x0, top, x1, bottom) of what is drawn on the page: filled or stroked paths
    and images, inside Form XObjects too, in the coordinates of :func:`page_chars`.

    As in pdfminer (pdfplumber's ``rects``, ``curves`` and ``images``): a path is taken
    apart into its subpaths, each with its own box, from the points of its segments
    (a curve's control points aside) and without the stroke's width; a subpath that is
    a single straight line is a ruling, not a shape, and is left out.
    """
    left, _, _, top = _media_box(page)
    shapes: list[Box] = []
    _collect(_handle(page), False, _IDENTITY, shapes, 0)
    return [(x0 - left, top - y1, x1 - left, top - y0) for x0, y0, x1, y1 in shapes]


def _collect(parent: int, form: bool, outer: Matrix, out: list[Box], depth: int) -> None:
    """The boxes of the page's (or a form's) paths and images, and of its forms'."""
    count, get = (_count_form_objects, _form_object) if form else (_count_objects, _page_object)
    matrix = (ctypes.c_float * 6)()
    pmatrix = ctypes.addressof(matrix)
    for index in range(count(parent)):
        obj = get(parent, index)
        kind = _object_type(obj) if obj else 0
        if kind not in (_PATH, _IMAGE, _FORM) or not _object_matrix(obj, pmatrix):
            continue
        a, b, c, d, e, f = matrix
        m = _multiply((a, b, c, d, e, f), outer)
        if kind == _FORM:
            if depth < 15:  # as deep as pypdfium2 goes
                _collect(obj, True, m, out, depth + 1)
        elif kind == _IMAGE:
            corners = [_apply(m, px, py) for px, py in ((0, 0), (1, 0), (0, 1), (1, 1))]
            out.append(_bounds(corners))
        else:
            out.extend(_subpaths(obj, m))


def _subpaths(path: int, m: Matrix) -> Iterator[Box]:
    """The boxes of a path object's subpaths, as pdfminer draws them apart."""
    x, y = ctypes.c_float(), ctypes.c_float()
    px, py = ctypes.addressof(x), ctypes.addressof(y)
    ops: list[str] = []  # pdfminer's letters: m, l, c, h
    points: list[tuple[float, float]] = []
    bezier = 0  # position within a Bézier segment's three points
    for index in range(_count_segments(path)):
        segment = _path_segment(path, index)
        if not segment or not _segment_point(segment, px, py):
            continue
        kind = _segment_type(segment)
        point = _apply(m, x.value, y.value)
        if kind == _MOVETO:
            if ops:
                yield from _subpath_box(ops, points)
            ops, points, bezier = ["m"], [point], 0
            continue
        if not ops:
            continue  # no subpath started: pdfminer ignores it too
        if kind == _BEZIERTO:
            bezier = (bezier + 1) % 3
            if bezier:
                continue  # a control point: pdfminer boxes a curve by its end points
            ops.append("c")
        else:
            # PDFium closes a subpath with a line back to its start: pdfminer's "h".
            closing = _segment_close(segment) and point == points[0]
            ops.append("h" if closing else "l")
        points.append(point)
        if _segment_close(segment) and ops[-1] != "h":
            ops.append("h")
            points.append(points[0])
    if ops:
        yield from _subpath_box(ops, points)


def _subpath_box(ops: list[str], points: list[tuple[float, float]]) -> Iterator[Box]:
    if len(ops) > 3 and ops[-2:] == ["l", "h"] and points[-2] == points[0]:
        ops, points = [*ops[:-2], "h"], [*points[:-2], points[-1]]  # pdfminer drops it
    if ops in (["m", "l"], ["m", "l", "h"]):
        return  # a straight line: pdfplumber's ``lines``, which the layout does not use
    yield _bounds(points)


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF's row-vector convention, as a ``cm`` inside a form)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def _bounds(points: list[tuple[float, float]]) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))
