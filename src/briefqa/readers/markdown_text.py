"""Markdown briefs: front matter, headings, paragraphs, lists, pipe tables, footnotes.

Also the reader of what trafilatura extracts from an HTML page (it writes Markdown).
Front matter becomes :class:`Declared` metadata, except the title, which a Markdown
file's author sets on purpose and which therefore stays the brief's title. ``[^1]``
footnote markers leave the text and their definitions become notes; a pipe table
becomes a table block with its cells.
"""

from __future__ import annotations

import re

from ..text import normalize
from .blocks import Declared, Parsed, RawBlock, declared_date, number_in, split_authors

_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_RULE = re.compile(r"\s*([-*_=])\1{2,}\s*")
# YAML front matter; the closing "---" may end the file without a newline.
_FRONT_MATTER = re.compile(r"---[ \t]*\n(?:(.*?)\n)?---[ \t]*(?:\n|$)", re.S)

# Footnotes: "[^1]" in the text, "[^1]: text" at the start of a line (its continuation
# lines indented), and Pandoc's inline "^[text]".
# The bounded repeats keep a hostile line ("[^[^[^…") from costing quadratic time.
_NOTE_REF = re.compile(r"\[\^([^\]\s]{1,64})\](?!:)")
_NOTE_DEF = re.compile(r"^ {0,3}\[\^([^\]\s]{1,64})\]:[ \t]*(.*)$")
_INLINE_NOTE = re.compile(r"\^\[([^\[\]]{1,2000})\]")

# A pipe table's delimiter row: "|---|:--:|", "--- | ---".
_TABLE_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

# Backslash escapes ("\*", "\|", "\_") are set aside while inline markup is removed, so
# that an escaped character is never read as markup, then restored as plain text.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ESCAPED_BASE = 0xF0000  # a Unicode private-use plane no brief's text uses
_ESCAPED = re.compile("[\U000f0000-\U000f00ff]")

_INLINE = [
    (re.compile(r"!\[[^\]]{0,1000}\]\([^)]{0,2000}\)"), ""),  # images
    (re.compile(r"\[([^\]]{1,1000})\]\([^)]{0,2000}\)"), r"\1"),  # links keep their text
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    # Raw HTML note markers ("South Korea.<sup>1</sup>", not "km<sup>2</sup>"), inline tags.
    (re.compile(r"(?<=[.,;:!?)\]”\"’'])<sup>\s*\[?\d{1,3}\]?\s*</sup>", re.I), ""),
    (re.compile(r"<br\s*/?>", re.I), " "),
    (
        re.compile(
            r"</?(?:sup|sub|span|em|strong|b|i|u|small|mark|abbr|cite|q|a)\b[^>]{0,500}>", re.I
        ),
        "",
    ),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"↩\ufe0e?"), ""),  # footnote back-links, as HTML-to-Markdown leaves them
]


def read_markdown(text: str) -> Parsed:
    """Markdown to blocks and the metadata its front matter declares.

    Blocks: ATX and Setext headings, paragraphs, one block per list item, pipe tables,
    and notes (footnote definitions, in the order the text refers to them). Lines
    inside fenced code blocks are kept as text, never read as headings, lists or tables.
    """
    text = text.replace("\r\n", "\n")
    declared = Declared()
    blocks: list[RawBlock] = []
    front = _FRONT_MATTER.match(text)
    if front and not _looks_like_front_matter(front[1] or ""):
        front = None  # a thematic break ("---") opening the text, not front matter
    if front:
        text = text[front.end() :]
        declared = _declared(front_matter(front[1] or ""))
        if declared.title:
            blocks.append(RawBlock("title", declared.title))
    parser = _Parser(blocks)
    parser.feed(text.split("\n"))
    body = parser.blocks
    if declared.title:
        # The title repeated as the first heading is the title, not a section.
        first = next((i for i, b in enumerate(body) if b.kind != "title"), None)
        if (
            first is not None
            and body[first].kind == "heading"
            and _same(body[first].text, declared.title)
        ):
            del body[first]
    return body + parser.notes(), declared


_FRONT_LINE = re.compile(r"\s*(?:#.*|[\w-]+\s*:.*|-\s+.*|)")


def _looks_like_front_matter(text: str) -> bool:
    """Every line a ``key: value``, a ``- item`` of a list, a comment or blank."""
    return all(_FRONT_LINE.fullmatch(line) for line in text.split("\n"))


def markdown_blocks(text: str) -> list[RawBlock]:
    """The blocks of a Markdown text, front matter included as a reader sees it: its
    title as the title block, its number and date as front-matter lines (which
    :func:`assemble` recognises). Notes are left out."""
    blocks, declared = read_markdown(text)
    folded = [RawBlock("paragraph", value) for value in (declared.number, declared.date) if value]
    at = 1 if blocks and blocks[0].kind == "title" else 0
    blocks[at:at] = folded
    return [b for b in blocks if b.kind != "note"]


def front_matter(text: str) -> dict[str, str | list[str]]:
    """The keys of a YAML front matter block: ``key: value``, ``key: [a, b]`` and
    ``key:`` followed by ``- item`` lines (an item may be ``- name: Anna``).

    A deliberately small subset of YAML: a brief's front matter needs no more, and a
    real YAML parser would accept aliases that expand without bound.
    """
    data: dict[str, str | list[str]] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"\s*-\s+(.*)$", line)
        pair = re.match(r"([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$", line.strip())
        if item and key is not None:
            value = _scalar(re.sub(r"^(?:name|full_name)\s*:\s*", "", item[1]))
            current = data.get(key)
            data[key] = [*(current if isinstance(current, list) else []), value]
        elif pair and not line[:1].isspace():
            key = pair[1].lower()
            raw = (pair[2] or "").strip()
            if raw.startswith("[") and raw.endswith("]"):
                data[key] = [_scalar(v) for v in raw[1:-1].split(",") if v.strip()]
            elif raw and raw not in ("|", ">"):
                data[key] = _scalar(raw)
        elif pair and key is not None and pair[1].lower() in ("name", "full_name"):
            # "author:\n  name: Anna Kowalska"
            current = data.get(key)
            data[key] = [*(current if isinstance(current, list) else []), _scalar(pair[2] or "")]
    return data


def _scalar(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"') and raw.endswith(raw[0]) and len(raw) > 1:
        return raw[1:-1]
    return re.sub(r"\s+#.*$", "", raw)  # a trailing comment


def _declared(data: dict[str, str | list[str]]) -> Declared:
    def text(*keys: str) -> str | None:
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if value and normalize(value):
                return normalize(value)
        return None

    authors: tuple[str, ...] = ()
    for key in ("authors", "author", "creator", "creators"):
        value = data.get(key)
        if isinstance(value, list):
            authors = tuple(normalize(v) for v in value if normalize(v))
        elif value:
            authors = split_authors(value) or (normalize(value),)
        if authors:
            break
    date = text("date", "published", "publishdate", "pubdate", "created")
    number = text("number", "issue", "no")
    return Declared(
        title=text("title"),
        number=number_in(number) if number else None,
        date=declared_date(date) if date else None,
        authors=authors,
    )


def _same(a: str, b: str) -> bool:
    return normalize(a).casefold() == normalize(b).casefold()


class _Parser:
    """The line-by-line block parser (its state: the open paragraph, fence, footnote)."""

    def __init__(self, blocks: list[RawBlock]) -> None:
        self.blocks = blocks
        self.current: list[str] = []
        self.in_list = False  # ``current`` holds a list item (no Setext underline follows)
        self.definitions: dict[str, list[str]] = {}
        self.refs: list[str] = []  # note ids in the order the text first refers to them
        self.inline_notes: list[str] = []

    def feed(self, lines: list[str]) -> None:
        fence: str | None = None  # the open code fence's marker
        code: list[str] = []
        note: str | None = None  # the footnote definition being read
        note_gap = False  # a blank line inside it (only indented lines continue it)
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            opening = _FENCE.match(line)
            if fence is not None:
                closing = (  # the same marker, at least as long, and no info string
                    opening is not None
                    and opening[1][0] == fence[0]
                    and len(opening[1]) >= len(fence)
                    and not opening[2].strip()
                )
                if closing:
                    fence = None
                    if code:
                        self.blocks.append(RawBlock("paragraph", "\n".join(code)))
                        code.clear()
                else:
                    code.append(line)
                continue
            definition = _NOTE_DEF.match(line)
            if definition:
                self.flush()
                note, note_gap = definition[1], False
                self.definitions.setdefault(note, []).append(definition[2])
                continue
            if note is not None:
                if not line.strip():
                    note_gap = True
                    continue
                if line.startswith(("    ", "\t")) or not (
                    note_gap or _HEADING.match(line) or opening
                ):
                    self.definitions[note].append(line.strip())
                    continue
                note = None
            if opening and not (opening[1][0] == "`" and "`" in opening[2]):
                self.flush()
                fence = opening[1]
                continue
            if "|" in line and i < len(lines) and self._table_starts(line, lines[i]):
                self.flush()
                i = self._table(lines, i - 1)
                continue
            heading = _HEADING.match(line)
            if heading:
                self.flush()
                self.blocks.append(RawBlock("heading", self.inline(heading[2])))
            elif self.current and not self.in_list and _SETEXT.fullmatch(line):
                joined = " ".join(part.strip() for part in self.current)
                self.blocks.append(RawBlock("heading", self.inline(joined)))
                self.current.clear()
            elif not line.strip() or _RULE.fullmatch(line):
                self.flush()
            elif _LIST.match(line) and not self._continues_paragraph(line):
                self.flush()
                self.in_list = True
                self.current.append(_LIST.sub("", line))
            elif line.lstrip().startswith(">"):
                self.current.append(line.lstrip().lstrip(">").strip())
            else:
                self.current.append(line)
        self.flush()
        if code:  # a fence left open runs to the end of the file
            self.blocks.append(RawBlock("paragraph", "\n".join(code)))

    def _continues_paragraph(self, line: str) -> bool:
        """CommonMark: a numbered item other than 1 cannot interrupt a paragraph
        ("…at length in Vilnius this\n2023. The allies…" is one paragraph)."""
        ordered = re.match(r"\s*(\d+)[.)]\s", line)
        return bool(ordered and self.current and not self.in_list and int(ordered[1]) != 1)

    def flush(self) -> None:
        if self.current:
            self.blocks.append(RawBlock("paragraph", self.inline("\n".join(self.current))))
            self.current.clear()
        self.in_list = False

    def inline(self, text: str) -> str:
        """Text without inline markup and note markers (their ids recorded)."""

        def reference(match: re.Match[str]) -> str:
            if match[1] not in self.refs:
                self.refs.append(match[1])
            return ""

        def inline_note(match: re.Match[str]) -> str:
            self.inline_notes.append(match[1])
            return ""

        text = _ESCAPE.sub(lambda m: chr(_ESCAPED_BASE + ord(m[1])), text)
        text = _NOTE_REF.sub(reference, text)
        text = _INLINE_NOTE.sub(inline_note, text)
        for pattern, repl in _INLINE:
            text = pattern.sub(repl, text)
        return _ESCAPED.sub(lambda m: chr(ord(m[0]) - _ESCAPED_BASE), text)

    def notes(self) -> list[RawBlock]:
        """Footnote definitions, referred-to ones first, then inline notes."""
        order = [r for r in self.refs if r in self.definitions]
        order += [d for d in self.definitions if d not in order]
        texts = [self.inline("\n".join(self.definitions[d])) for d in order]
        texts += [self.inline(n) for n in self.inline_notes]
        return [RawBlock("note", t) for t in texts]

    # ------------------------------------------------------------------ pipe tables

    @staticmethod
    def _table_starts(header: str, delimiter: str) -> bool:
        return (
            "|" in delimiter
            and _TABLE_DELIMITER.fullmatch(delimiter) is not None
            and not _HEADING.match(header)
            and len(_cells(header)) == len(_cells(delimiter))
        )

    def _table(self, lines: list[str], start: int) -> int:
        """Read the table whose header row is ``lines[start]``; the index after it."""
        width = len(_cells(lines[start]))
        rows = [_cells(lines[start])]
        i = start + 2
        # GFM ends a table at a blank line or another block; a line without a pipe
        # ends it too (a paragraph written straight after a table).
        while (
            i < len(lines)
            and "|" in lines[i]
            and not _HEADING.match(lines[i])
            and not _FENCE.match(lines[i])
        ):
            row = _cells(lines[i])[:width]
            rows.append(row + [""] * (width - len(row)))
            i += 1
        rows = [[self.inline(cell) for cell in row] for row in rows]
        header = any(rows[0])
        self.blocks.append(RawBlock("table", "", rows=rows if header else rows[1:], header=header))
        return i


def _cells(line: str) -> list[str]:
    """A table row's cells: split at pipes that are not escaped (GFM splits at them
    even inside code spans), the outer pipes optional."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in _CELL_SPLIT.split(line)]
