"""Word (.docx) briefs: the body in document order, tables, footnotes and endnotes.

python-docx's ``document.paragraphs`` skips tables, content controls and tracked
insertions, and it has no footnotes at all; so the body is walked here, element by
element, and the footnotes and endnotes parts are read from the package. Core
properties (title, author, created) become :class:`Declared` metadata.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from ..text import normalize
from .blocks import Declared, Parsed, RawBlock, RawKind, mark_title, split_authors

# A .docx is a zip; refuse ones that would expand beyond this (zip bombs).
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_DOCX_RATIO = 200

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_NS = {"w": _W[1:-1]}
_FOOTNOTES = "/relationships/footnotes"
_ENDNOTES = "/relationships/endnotes"

# Elements whose text is not the paragraph's: deleted revisions, field codes, properties,
# text boxes (a sidebar anchored mid-sentence), and the fallback copy of new content.
_SKIP = {
    f"{_W}{tag}" for tag in ("del", "moveFrom", "delText", "instrText", "rPr", "pPr", "txbxContent")
} | {_MC_FALLBACK}

# Titles templates and converters leave in the core properties.
_PLACEHOLDER_TITLE = re.compile(
    r"(?i)word document|document\d*|untitled|title|microsoft word - .*|\s*"
)
# The creation date python-docx's own template carries into every file it makes.
_PYTHON_DOCX_CREATED = dt.datetime(2013, 12, 23, 23, 15)


def read_docx(path: Path, data: bytes) -> Parsed:
    """Read a .docx: blocks in document order (tables as rows of cells), its footnotes
    and endnotes as notes, and its core properties as declared metadata.

    Raises:
        DocumentError: not a .docx, a zip bomb, or a part that cannot be parsed.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise DocumentError(path, "not a readable .docx (the zip container is corrupt)") from exc
    expanded = sum(info.file_size for info in infos)
    ratio = expanded / len(data)
    if expanded > MAX_DOCX_UNCOMPRESSED or (expanded > 10_000_000 and ratio > MAX_DOCX_RATIO):
        raise DocumentError(
            path, f"refused: the .docx would expand to {expanded // 1_000_000} MB (a zip bomb?)"
        )
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        return _parse(document)
    except DocumentError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types on broken parts
        raise DocumentError(path, f"not a readable .docx ({type(exc).__name__})") from exc


def _parse(document: Any) -> Parsed:
    styles = _Styles(document.styles.element)
    refs: list[tuple[str, str]] = []  # ("footnote" | "endnote", id) in reading order
    blocks: list[RawBlock] = []
    for element in _block_elements(document.element.body):
        if element.tag == f"{_W}tbl":
            rows, header = _table(element, styles, refs)
            if rows:
                blocks.append(RawBlock("table", "", rows=rows, header=header))
            continue
        text = _text(element, refs)
        kind = styles.paragraph_kind(element)
        if text.strip() and kind is not None:
            blocks.append(RawBlock(kind, text))
    notes = _notes(document, "footnote", refs) + _notes(document, "endnote", refs)

    core = document.core_properties
    title = normalize(core.title or "")
    if _PLACEHOLDER_TITLE.fullmatch(title):
        title = ""
    mark_title(blocks, [title] if title else [])
    created = core.created
    date = None
    if isinstance(created, dt.datetime) and created.replace(tzinfo=None) != _PYTHON_DOCX_CREATED:
        date = created.date().isoformat()
    authors = split_authors(core.author or "")
    return blocks + notes, Declared(title=title or None, date=date, authors=authors)


def _block_elements(container: Any) -> Iterator[Any]:
    """The paragraphs and tables of a body or cell, in order."""
    return _children(container, "p", "tbl")


def _children(element: Any, *names: str) -> Iterator[Any]:
    """The child elements named ``names`` (w:p, w:tr, ...), in order, also those inside
    content controls (``w:sdt``) and custom XML, which python-docx does not see."""
    tags = {f"{_W}{name}" for name in names}
    for child in element:
        if child.tag in tags:
            yield child
        elif child.tag in (f"{_W}sdt", f"{_W}customXml"):
            content = child.find(f"{_W}sdtContent") if child.tag == f"{_W}sdt" else child
            if content is not None:
                yield from _children(content, *names)


def _on(element: Any, name: str) -> bool:
    """Whether an on/off property (``<w:b/>``, ``<w:b w:val="0"/>``) is set."""
    found = element.find(name, _NS) if element is not None else None
    return found is not None and found.get(f"{_W}val", "true") not in ("0", "false", "off")


def _text(paragraph: Any, refs: list[tuple[str, str]]) -> str:
    """A paragraph's visible text, note references recorded in ``refs`` and left out.

    Unlike python-docx's ``paragraph.text``, this keeps tracked insertions, fields' shown
    results, hyperlinks and inline content controls, and drops hidden text.
    """
    parts: list[str] = []

    def walk(element: Any) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == f"{_W}r":
                run(child)
            else:
                walk(child)

    def run(r: Any) -> None:
        props = r.find(f"{_W}rPr")
        if _on(props, "w:vanish"):
            return
        style = props.find("w:rStyle", _NS) if props is not None else None
        marker_style = style is not None and style.get(f"{_W}val", "") in (
            "FootnoteReference",
            "EndnoteReference",
        )
        custom_mark = False
        for child in r:
            tag = child.tag
            if tag in (f"{_W}footnoteReference", f"{_W}endnoteReference"):
                kind = "footnote" if tag == f"{_W}footnoteReference" else "endnote"
                refs.append((kind, child.get(f"{_W}id", "")))
                # A custom mark ("*") follows as the run's text: it is the marker too.
                custom_mark = custom_mark or child.get(f"{_W}customMarkFollows") in ("1", "true")
            elif tag == f"{_W}t":
                # A number typed in the note-reference style is a marker, not text.
                if not custom_mark and not (marker_style and (child.text or "").strip().isdigit()):
                    parts.append(child.text or "")
            elif tag in (f"{_W}tab", f"{_W}ptab"):
                parts.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
            elif tag == f"{_W}noBreakHyphen":
                parts.append("-")
            elif isinstance(tag, str) and tag not in _SKIP:
                walk(child)  # an inline drawing's alternate content, a nested run

    walk(paragraph)
    return "".join(parts)


def _table(
    table: Any, styles: _Styles, refs: list[tuple[str, str]]
) -> tuple[list[list[str]], bool]:
    """A table's rows of cell texts, and whether its first row is a header.

    Merged cells keep the grid: a cell spanning columns is followed by empty cells, and
    a vertically merged cell repeats its text in each row it spans, so that every row
    reads whole.
    """
    rows: list[list[str]] = []
    above: dict[int, str] = {}  # grid column -> the text of the cell last started there
    for tr in _children(table, "tr"):
        row: list[str] = []
        for tc in _children(tr, "tc"):
            props = tc.find("w:tcPr", _NS)
            span_el = props.find("w:gridSpan", _NS) if props is not None else None
            span = int(span_el.get(f"{_W}val", "1")) if span_el is not None else 1
            merge = props.find("w:vMerge", _NS) if props is not None else None
            column = len(row)
            if merge is not None and merge.get(f"{_W}val", "continue") == "continue":
                text = above.get(column, "")
            else:
                text = _cell_text(tc, styles, refs)
                above[column] = text
            row += [text] + [""] * (max(span, 1) - 1)
        if any(cell.strip() for cell in row):
            rows.append(row)
    return rows, bool(rows) and _has_header(table, rows, styles)


def _cell_text(cell: Any, styles: _Styles, refs: list[tuple[str, str]]) -> str:
    parts = []
    for element in _block_elements(cell):
        if element.tag == f"{_W}tbl":  # a nested table, read row by row
            nested, _ = _table(element, styles, refs)
            parts += ["; ".join(c for c in row if c.strip()) for row in nested]
        else:
            parts.append(_text(element, refs))
    return " ".join(p.strip() for p in parts if p.strip())


def _has_header(table: Any, rows: list[list[str]], styles: _Styles) -> bool:
    """Word marks a header row as "repeat at the top of each page", or styles it (the
    table style's first-row format, turned on in the table's look); authors often just
    make it bold."""
    first = next(_children(table, "tr"), None)
    if first is None or len(rows) < 2:
        return False
    if _on(first.find("w:trPr", _NS), "w:tblHeader"):
        return True
    look = table.find("w:tblPr/w:tblLook", _NS)
    style = table.find("w:tblPr/w:tblStyle", _NS)
    if look is not None and style is not None:
        value = look.get(f"{_W}firstRow")
        on = (
            value in ("1", "true")
            if value is not None
            else (int(look.get(f"{_W}val", "0") or "0", 16) & 0x0020 != 0)
        )
        if on and styles.has_first_row_format(style.get(f"{_W}val", "")):
            return True

    def bold(tr: Any) -> bool:
        runs = [r for r in tr.iter(f"{_W}r") if "".join(t.text or "" for t in r.iter(f"{_W}t"))]
        return bool(runs) and all(_on(r.find(f"{_W}rPr"), "w:b") for r in runs)

    others = list(_children(table, "tr"))[1:]
    return bold(first) and not all(bold(tr) for tr in others)


def _notes(document: Any, kind: str, refs: list[tuple[str, str]]) -> list[RawBlock]:
    """The footnotes (or endnotes) part's notes, in the order the body refers to them;
    any the body does not refer to (in a text box, a header) follow, so none is lost."""
    suffix = _FOOTNOTES if kind == "footnote" else _ENDNOTES
    part = next(
        (
            rel.target_part
            for rel in document.part.rels.values()
            if rel.reltype.endswith(suffix) and not rel.is_external
        ),
        None,
    )
    if part is None:
        return []
    from docx.oxml import parse_xml  # python-docx's parser: no entities, no network

    root = parse_xml(part.blob)
    texts: dict[str, str] = {}
    for note in root.findall(f"w:{kind}", _NS):
        if note.get(f"{_W}type", "normal") != "normal":
            continue  # the separator lines above the notes
        ignored: list[tuple[str, str]] = []
        text = " ".join(_text(p, ignored) for p in note.iter(f"{_W}p"))
        if text.strip():
            texts[note.get(f"{_W}id", "")] = text
    order = [i for k, i in refs if k == kind and i in texts]
    order = list(dict.fromkeys(order + list(texts)))
    return [RawBlock("note", texts[i]) for i in order]


class _Styles:
    """What the styles part says about paragraph and table styles."""

    def __init__(self, element: Any) -> None:
        self._styles = {s.get(f"{_W}styleId", ""): s for s in element.findall("w:style", _NS)}

    def _chain(self, style_id: str) -> Iterator[Any]:
        """The style and the styles it is based on (Word allows deep chains; loops
        happen in damaged files)."""
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self._styles:
            seen.add(style_id)
            style = self._styles[style_id]
            yield style
            based = style.find("w:basedOn", _NS)
            style_id = based.get(f"{_W}val", "") if based is not None else ""

    def paragraph_kind(self, paragraph: Any) -> RawKind | None:
        """The block a paragraph makes: "title", "heading" (a Heading style, one based
        on it, or an outline level) or "paragraph"; None for an entry of a table of
        contents (the headings again, with page numbers)."""
        level = paragraph.find("w:pPr/w:outlineLvl", _NS)
        style = paragraph.find("w:pPr/w:pStyle", _NS)
        style_id = style.get(f"{_W}val", "") if style is not None else ""
        for s in self._chain(style_id):
            name_el = s.find("w:name", _NS)
            name = (name_el.get(f"{_W}val", "") if name_el is not None else "").casefold()
            if name == "title":
                return "title"
            if re.fullmatch(r"toc \d|toc heading", name):
                return None
            if re.fullmatch(r"heading \d", name):
                return "heading"
            if level is None:
                level = s.find("w:pPr/w:outlineLvl", _NS)
        if level is not None and level.get(f"{_W}val", "9") in tuple("012345678"):
            return "heading"  # levels 0–8 show in the navigation pane; 9 is body text
        return "paragraph"

    def has_first_row_format(self, style_id: str) -> bool:
        return any(
            s.find("w:tblStylePr[@w:type='firstRow']", _NS) is not None
            for s in self._chain(style_id)
        )
