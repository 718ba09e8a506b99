"""Raw blocks, and how they become a :class:`Brief`.

Each format reader turns a file into raw blocks (title, heading, paragraph, table, note)
and the metadata the file declares (:class:`Declared`); :func:`assemble` then normalises
them once, recognises the bulletin front matter (number, date, author line, photo
credit) and builds the brief's text, in which every offset lives. What the visible text
says wins over what the file declares: a page's <title> or a PDF's document info is
often a site name or a template's leftover. The helpers the readers share (decoding
text, dates, author lines, titles) are here too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DocumentError
from ..schema import Block, BlockKind, Brief
from ..text import normalize

RawKind = Literal["title", "heading", "paragraph", "table", "note"]

#: Titles and section headings longer than this are cut (at a word boundary, with "…"):
#: they label every chunk's embedding text, which must leave room for the passage.
MAX_HEADING_CHARS = 200


@dataclass
class RawBlock:
    """A block as a reader found it.

    ``table`` blocks carry their cells in ``rows`` (the first row is the header when
    ``header`` is true) and no text; ``note`` blocks are a footnote's or endnote's text,
    its marker already taken out of the body by the reader.
    """

    kind: RawKind
    text: str
    page: int | None = None
    rows: list[list[str]] | None = None
    header: bool = False


@dataclass
class Declared:
    """Metadata a file declares outside its visible text (document properties, <meta>,
    JSON-LD, front matter). ``date`` is ISO 8601 (YYYY-MM-DD)."""

    title: str | None = None
    number: str | None = None
    date: str | None = None
    authors: tuple[str, ...] = ()


#: What a format reader returns.
Parsed = tuple[list[RawBlock], Declared]


# --------------------------------------------------------------------------- assembling


def assemble(
    raws: list[RawBlock],
    *,
    declared: Declared | None = None,
    source: str,
    sha256: str,
    fmt: str,
    fallback_title: str,
    structured: bool,
) -> Brief:
    """Normalise raw blocks and build a :class:`Brief` with offsets into its text.

    ``structured`` formats mark their headings; for plain text, headings are recognised
    from the layout (a short line without end punctuation before a paragraph). Table
    rows become one block each and notes follow the body, labelled "Notes".
    """
    declared = declared or Declared()
    blocks = [_normalized(r) for r in raws]
    blocks = [b for b in blocks if b.text or b.rows]
    if not blocks:
        raise DocumentError(source, "no text found in the file")
    notes = [b for b in blocks if b.kind == "note"]
    blocks = [b for b in blocks if b.kind != "note"]
    if not blocks:
        raise DocumentError(source, "no text found in the file (only notes)")

    titled = [i for i, b in enumerate(blocks) if b.kind == "title"]
    under_title = blocks[titled[0] + 1] if titled and titled[0] + 1 < len(blocks) else None
    title = _cap_heading(
        _take_title(blocks, structured) or normalize(declared.title or "") or fallback_title
    )
    number, date, blocks = _take_front_matter(blocks)
    number = number or declared.number
    date = date or declared.date
    authors, roles, blocks = _take_authors(blocks, declared.authors, under_title)
    # Headings from the text's shape only where the reader saw none: a PDF whose layout
    # marks headings (type size, weight) must not gain a short body line as one.
    if not structured and not any(b.kind == "heading" for b in blocks):
        _mark_headings(blocks)
    if not any(b.kind in ("paragraph", "table") for b in blocks):
        raise DocumentError(source, "no paragraphs of text found (only headings)")

    parts: list[str] = []
    spans: list[Block] = []
    offset = 0
    section: str | None = None
    sections: list[str] = []

    def add(kind: BlockKind, text: str, page: int | None) -> None:
        nonlocal offset
        if parts:
            offset += 2  # the "\n\n" joining blocks
        parts.append(text)
        spans.append(Block(kind, offset, offset + len(text), section, page))
        offset += len(text)

    add("meta", title, blocks[0].page)
    for meta in (number, date):
        if meta:
            add("meta", meta, blocks[0].page)
    for block in blocks:
        if block.kind == "heading":
            section = _cap_heading(block.text)
            sections.append(section)
            add("heading", section, block.page)
        elif block.kind == "table":
            for row in table_rows(block.rows or [], header=block.header):
                add("table", row, block.page)
        else:
            add("paragraph", block.text, block.page)
    section = NOTES_SECTION
    for note in notes:
        add("note", note.text, note.page)
    text = "\n\n".join(parts)
    return Brief(
        doc_id=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        title=title,
        text=text,
        blocks=tuple(spans),
        source=source,
        sha256=sha256,
        format=fmt,
        number=number,
        date=date,
        sections=tuple(sections),
        authors=authors,
        author_roles=roles,
    )


#: The section label of a brief's footnotes and endnotes (not one of its ``sections``:
#: the brief has no such heading).
NOTES_SECTION = "Notes"


def _normalized(raw: RawBlock) -> RawBlock:
    rows = None
    if raw.rows is not None:
        rows = [[normalize(cell) for cell in row] for row in raw.rows]
        rows = [row for row in rows if any(row)]
    return RawBlock(raw.kind, normalize(raw.text), raw.page, rows, raw.header)


def table_rows(rows: list[list[str]], *, header: bool) -> list[str]:
    """A table as one readable line per row: the row's first cell, then each other cell
    after its column's header ("Australia — ITPP signed: 8 August 2023; Areas: cyber").

    Without a header the cells are joined with " — ". A one-row table with a header is
    read as data (a header alone says nothing).
    """
    rows = [[cell.replace("\n", " ").strip() for cell in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if header and len(rows) > 1:
        names, body = rows[0], rows[1:]
    else:
        names, body = [], rows
    lines = []
    for row in body:
        first, rest = row[0], row[1:]
        cells = []
        for i, cell in enumerate(rest, start=1):
            if not cell:
                continue
            name = names[i] if i < len(names) else ""
            cells.append(f"{name}: {cell}" if name else cell)
        joiner = "; " if names else " — "
        tail = joiner.join(cells)
        if first and tail:
            lines.append(f"{first} — {tail}")
        else:
            lines.append(first or tail)
    return [line for line in lines if line]


# "By Jan Kowalski", "Authors: Anna Nowak and Jan Kowalski", "Written by …"
_AUTHOR_LINE = re.compile(r"(?:authors?\s*[:：]|written by|by)\s+(?P<names>[^.!?]{3,150})", re.I)
_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_NAME = re.compile(rf"[{_UPPER}][\w'’.-]*(?:\s+[{_UPPER}][\w'’.-]*){{1,3}}")
_AUTHOR_SCAN = 10


_NOT_IN_NAMES = frozenset("a an the of for and in on to at with from new".split())
_PERSON = (
    rf"[{_UPPER}][\w'’.-]*(?:\s+(?:(?:de|van|von|der|den|da|di|du|del|la|le)\s+)*"
    rf"[{_UPPER}][\w'’.-]*){{1,3}}"
)
# Entries of a byline: "Name, role" separated by ";", ", and" or "," before the next
# name (a role's own "and", "the Climate and Resources Programme", has no comma).
_BYLINE_SPLIT = re.compile(
    rf"\s*;\s*|,\s+and\s+(?={_PERSON})|,\s*(?={_PERSON}\s*,)"
    # one entry per line, the lines joined: "…Energy Programme Piotr Nowak, head of…"
    rf"|(?<=[a-z])\s+(?=[{_UPPER}][\w'’-]+\s+[{_UPPER}][\w'’-]+\s*,\s*(?!and\b)[a-z])"
)
_BYLINE_ENTRY = re.compile(rf"(?P<name>{_PERSON})(?:\s*,\s*(?P<role>[a-z][^;]{{2,120}}))?")


# What a byline's role names: a position, or where the author works.
_ROLE = re.compile(
    r"\b(?:analyst|fellow|head|director|researcher|expert|professor|lecturer|"
    r"coordinator|specialist|advis[eo]r|chair|manager|editor|associate|deputy|"
    r"economist|scholar|programme|program|institute|department|centre|center|"
    r"university|team|unit|office)s?\b",
    re.I,
)


def byline_people(text: str) -> tuple[tuple[str, str], ...]:
    """ "Maria Lopez, analyst in the Economic Security Programme, and Tomasz Wrona, head
    of the Arctic Programme" → ((name, role), ...); () unless every entry is a name with
    at most a role (in lower case: "analyst in …", "senior fellow at …") and one has a
    role — a line of bare names is :func:`split_authors`' to read."""
    entries = [
        e.strip(" ,") for e in _BYLINE_SPLIT.split(text.strip().rstrip(".")) if e.strip(" ,")
    ]
    people = []
    for entry in entries:
        match = _BYLINE_ENTRY.fullmatch(entry)
        if match is None or not _is_name(match["name"]):
            return ()
        role = (match["role"] or "").strip()
        if role and not _ROLE.search(role):
            # "Jens Stoltenberg, the Secretary General, announced …" is a sentence.
            return ()
        people.append((match["name"], role))
    if not people or not any(role for _, role in people):
        return ()
    return tuple(people)


def _is_name(text: str) -> bool:
    return not any(word.casefold() in _NOT_IN_NAMES for word in text.split())


def split_authors(names: str) -> tuple[str, ...]:
    """ "Anna Nowak, Jan Kowalski and Ewa Lis" → its names, or () if any part is not a name
    (two to four capitalised words)."""
    parts = re.split(r"\s*(?:,|;|&|\band\b|\boraz\b|\bi\b)\s*", names.strip())
    parts = [p.strip() for p in parts if p.strip()]
    if not parts or not all(_NAME.fullmatch(p) and _is_name(p) for p in parts):
        return ()
    return tuple(parts)


def _take_authors(
    blocks: list[RawBlock], declared: tuple[str, ...], under_title: RawBlock | None = None
) -> tuple[tuple[str, ...], tuple[str, ...], list[RawBlock]]:
    """The brief's authors, their roles (where the byline gives them, else ()), and the
    blocks without its author line.

    An author line is a short paragraph near the top or at the end that says "By …" or
    "Author(s): …", one that is exactly the declared authors' names, a byline near the
    top whose names carry roles ("Name, analyst in …"), or a line of names right under
    the title. The visible line wins over the declaration.
    """
    wanted = {normalize(a).casefold() for a in declared}
    last = len(blocks) - 1
    for i, block in enumerate(blocks):
        if block.kind != "paragraph" or len(block.text) > 300 or (_AUTHOR_SCAN <= i < last - 1):
            continue
        text = block.text.rstrip(".")
        match = _AUTHOR_LINE.fullmatch(text) if len(text) <= 160 else None
        names = split_authors(match["names"]) if match else ()
        roles: tuple[str, ...] = ()
        if not names and i < _AUTHOR_SCAN:
            people = byline_people(text)
            names = tuple(name for name, _ in people)
            roles = tuple(role for _, role in people)
        if not names and block is under_title and len(text) <= 120:
            names = split_authors(text)  # a line of names right under the title
        if not names and wanted:
            found = split_authors(text)
            if found and {n.casefold() for n in found} == wanted:
                names = found
        if names:
            return names, roles, blocks[:i] + blocks[i + 1 :]
    return tuple(normalize(a) for a in declared if normalize(a)), (), blocks


def _cap_heading(text: str, limit: int = MAX_HEADING_CHARS) -> str:
    """``text``, or its longest whole-word prefix under ``limit`` characters plus "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(" ,;:—–-") + "…"


def _take_title(blocks: list[RawBlock], structured: bool) -> str | None:
    for i, block in enumerate(blocks):
        if block.kind == "title" or (structured and block.kind == "heading" and i == 0):
            del blocks[i]
            return block.text
    first = blocks[0]
    if not structured and len(first.text) <= 200 and not first.text.endswith("."):
        del blocks[0]
        return first.text
    return None


_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], dt.date]]] = [
    (
        re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"),  # also "2023-08-24T08:00"
        lambda m: dt.date(int(m[1]), int(m[2]), int(m[3])),
    ),
    (  # European day-first dates, as the institute's bulletins use: 24.08.2023
        re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"),
        lambda m: dt.date(int(m[3]), int(m[2]), int(m[1])),
    ),
    (
        re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})\.?,?\s+(\d{{4}})\b", re.I),
        lambda m: dt.date(int(m[3]), _MONTHS[m[2].lower()], int(m[1])),
    ),
    (
        re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I),
        lambda m: dt.date(int(m[3]), _MONTHS[m[1].lower()], int(m[2])),
    ),
]
# "116", "No. 116", "Bulletin No. 7", "#12", "No. 116 (2232)"
_NUMBER = re.compile(
    r"(?:(?:[A-Z][\w-]*\s+){0,3}(?:no|nr|number|issue)\.?\s*|#\s*)?(\d{1,6})(?:\s*\(\d+\))?",
    re.I,
)
_CREDIT = re.compile(r"^(?:photo(?:graph)?|fot\.?|foto|image|picture|credit)s?\b|^©", re.I)
_SLASHED_CREDIT = re.compile(r"[^/.!?]{2,60}(?:/[^/.!?]{2,60}){1,4}")
_FRONT_MATTER_SCAN = 8


def find_date(text: str) -> str | None:
    """The first date written in ``text`` (any common format), as ISO 8601, or None."""
    found = _date_match(text)
    return found[0] if found else None


def _date_match(text: str) -> tuple[str, re.Match[str]] | None:
    """The first date written in ``text``: its ISO 8601 form and where it stands."""
    for pattern, build in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            try:
                return build(match).isoformat(), match
            except ValueError:
                continue
    return None


def _parse_front(text: str) -> tuple[str | None, str | None] | None:
    """(number, ISO date) if the block is nothing but a number and/or a date, or is a
    masthead: the series' or institute's name, "No." and a number, and a date
    ("MERIDIAN INSTITUTE FOR PUBLIC POLICY No. 117 (2236) 31.08.2023")."""
    if len(text) > 60:
        return _parse_masthead(text)
    date = None
    text_with_date = text
    for pattern, build in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            try:
                date = build(match).isoformat()
            except ValueError:
                continue
            text = text[: match.start()] + text[match.end() :]
            break
    rest = text.strip(" ,;|-–—·")
    if not rest:
        return (None, date) if date else None
    number = _NUMBER.fullmatch(rest)
    if number:
        return number[1], date
    return _parse_masthead(text_with_date) if date else None


_MASTHEAD = re.compile(
    r"(?:[^\W\d][\w’'&.-]*[\s,·|]+){0,8}(?:no|nr|number|issue)\.?\s*(\d{1,6})"
    r"(?:\s*\(\d+\))?[\s,·|–—-]*",
    re.I,
)


def _parse_masthead(text: str) -> tuple[str | None, str | None] | None:
    found = _date_match(text) if len(text) <= 120 else None
    if found is None:
        return None
    date, where = found
    rest = (text[: where.start()] + " " + text[where.end() :]).strip(" ,;|-–—·")
    match = _MASTHEAD.fullmatch(rest)
    return (match[1], date) if match else None


def _take_front_matter(
    blocks: list[RawBlock],
) -> tuple[str | None, str | None, list[RawBlock]]:
    """Pull out the bulletin number and date, and drop photo-credit lines."""
    number = date = None
    kept: list[RawBlock] = []
    for i, block in enumerate(blocks):
        if i < _FRONT_MATTER_SCAN and block.kind in ("paragraph", "heading"):
            # A masthead set in bold reads as a heading to the PDF reader.
            found = _parse_front(block.text)
            # A masthead may repeat what a line above gave (the number in a banner,
            # number and date below it): taken if it agrees, kept as text if not.
            if (
                found
                and not (found[0] and number and found[0] != number)
                and not (found[1] and date and found[1] != date)
            ):
                number = number or found[0]
                date = date or found[1]
                continue
            if _is_credit(
                block.text, before_first_heading=not any(b.kind == "heading" for b in kept)
            ):
                continue
        kept.append(block)
    return number, date, kept


def _is_credit(text: str, *, before_first_heading: bool) -> bool:
    if len(text) > 100 or text.endswith((".", "?", "!")):
        return False
    if _CREDIT.search(text):
        return True
    # Agency-style credits, "KACPER PEMPEL/Reuters/Forum", sit near the top.
    return before_first_heading and _SLASHED_CREDIT.fullmatch(text) is not None


def _mark_headings(blocks: list[RawBlock]) -> None:
    for i, block in enumerate(blocks[:-1]):
        nxt = blocks[i + 1]
        if (
            block.kind == "paragraph"
            and len(block.text) <= 100
            and len(block.text.split()) <= 12
            and block.text[0].isupper()
            and not block.text.endswith((".", ",", ";", ":", "!", "?", '"', "”"))
            and nxt.kind == "paragraph"
            and len(nxt.text) > max(2 * len(block.text), 120)
        ):
            block.kind = "heading"


# ---------------------------------------------------------------- shared by the readers


def decode_text(path: Path, data: bytes) -> str:
    """A text file's bytes as text: UTF-8 (with or without BOM), UTF-16 with a BOM, else
    Windows-1252 or Latin-1; line ends as "\\n", control characters as spaces.

    Raises:
        DocumentError: the bytes are binary data, not text.
    """
    head = data[:8192]
    if b"\x00" in head and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(path, "binary data, not text (is the file extension right?)")
    for encoding in (
        ("utf-8-sig", "utf-16")
        if data[:2] in (b"\xff\xfe", b"\xfe\xff")
        else ("utf-8-sig", "cp1252", "latin-1")  # latin-1 decodes any byte
    ):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A few stray control characters (a vertical tab) are fine; many mean binary data.
        controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\n\r\t\f")
        if controls > 0.1 * min(len(text), 8192):
            raise DocumentError(path, "binary data, not text (is the file extension right?)")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text.translate(CONTROLS)
    raise DocumentError(path, "unreadable text encoding: save the file as UTF-8")


#: C0 and C1 control characters (but tab, newline and form feed), read as spaces.
CONTROLS = {c: " " for c in (*range(32), *range(0x7F, 0xA0)) if chr(c) not in "\t\n\f"}


def declared_date(value: str) -> str | None:
    """A date as metadata states it ("2023-08-24T08:00:00+02:00", "2023/08/24",
    "24 August 2023"), as ISO 8601; None if it holds no whole date."""
    match = re.match(r"\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)", value)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            return None
    return find_date(value)


def number_in(value: str) -> str | None:
    """The bulletin number in a declared value ("116", "No. 116 (2235)"), or None."""
    match = _NUMBER.fullmatch(normalize(value))
    return match[1] if match else None


def mark_title(blocks: list[RawBlock], titles: list[str], *, scan: int = 4) -> None:
    """Make the brief's title a title block: the first of the top ``scan`` blocks that
    reads like one of ``titles`` (what the file declares) becomes it; if none does, the
    first title is put in front. Does nothing when a title block exists already or no
    title is declared."""
    if any(b.kind == "title" for b in blocks):
        return
    wanted = [normalize(t).casefold() for t in titles if normalize(t)]
    if not wanted:
        return
    for block in blocks[:scan]:
        if block.kind in ("heading", "paragraph") and normalize(block.text).casefold() in wanted:
            block.kind = "title"
            return
    blocks.insert(0, RawBlock("title", titles[0]))
