"""HTML briefs: an article page's main content, its tables, footnotes and metadata.

trafilatura picks the main content (it drops navigation, footers, comments) and writes
it as Markdown. Before it does, the page is prepared with lxml: the metadata is read
(``<meta>``, JSON-LD, ``<time datetime>``, a byline), footnotes are taken out (their
markers from the text, their texts as notes) and data tables are swapped for
placeholders, so that each comes back as a table block with its cells rather than as
Markdown pipes or run-on text.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from ..text import normalize
from .blocks import (
    Declared,
    Parsed,
    RawBlock,
    declared_date,
    decode_text,
    mark_title,
    number_in,
    split_authors,
)
from .markdown_text import read_markdown

_CODE = "//script|//style|//noscript|//template|//iframe|//object|//embed"

#: Longer elements are never read as a footnote.
MAX_NOTE_CHARS = 3000

#: A table is read as data when it has no nested table and no cell longer than this;
#: others lay out a page (the whole article in one cell).
MAX_TABLE_CELL_CHARS = 500

# Back-links from a note to its marker: "↩", "↩︎", "↑", "^".
_BACKLINK_TEXT = re.compile(r"\s*(?:↩\ufe0e?|↑|\^|⤴)\s*")
# A note marker's text: "1", "[1]", "(1)", "*", "†", "a".
_MARKER_TEXT = re.compile(r"\s*[\[(]?\s*(?:\d{1,3}|[*†‡§]{1,3}|[a-z])\s*[\])]?\s*")
# Fragment ids that name notes and markers in the usual generators (Pandoc, kramdown,
# Word's "Save as Web Page", Google Docs, WordPress plugins).
_NOTE_ID = re.compile(r"(?i)^(?:_?(?:ftn|edn)|fn|footnote|endnote|note|ftnt|cite_note)")
_NOTE_CLASS = re.compile(r"(?i)foot-?notes?\b|end-?notes?\b")
_MARKER_CLASS = re.compile(r"(?i)footnote-?ref|fn-?ref|noteref|footnote-link|fnref")
_BYLINE = (
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' byline ')]"
    "|//*[@rel='author']/ancestor::p[1]|//address|//*[@itemprop='author']"
)
_ARTICLE_TYPES = re.compile(r"(?i)article|report|posting|scholarly|creativework")


def read_html(path: Path, data: bytes) -> Parsed:
    """Read an HTML page: its main content as blocks, footnotes as notes, data tables
    as table blocks, and what its metadata declares.

    Raises:
        DocumentError: the page has no readable text.
    """
    import trafilatura

    html = original = decode_text(path, data)
    root = _parse(html)
    declared = Declared()
    notes: list[str] = []
    tables: dict[str, _Table] = {}
    if root is not None:
        declared = _declared(root)  # before the scripts go: JSON-LD is a script
        for bad in root.xpath(_CODE):
            bad.drop_tree()
        notes = _take_notes(root)
        tables = _take_tables(root)
        html = _tostring(root)
    # Main content only: trafilatura drops navigation, footers and comments.
    extracted = trafilatura.extract(
        html,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        favor_recall=True,
        with_metadata=False,
    )
    if not extracted:
        extracted = _fallback_text(html)
    if not extracted or not extracted.strip():
        raise DocumentError(path, "no readable text in the HTML page")
    parsed, _ = read_markdown(extracted)
    blocks = _put_tables(parsed, tables)
    # No extensive date search: it guesses a date from any year in the text.
    metadata = trafilatura.extract_metadata(
        original, extensive=False, date_config={"extensive_search": False, "original_date": True}
    )
    if metadata is not None:
        declared = Declared(
            title=declared.title or _clean_title(metadata.title or "", metadata.sitename),
            number=declared.number,
            date=declared.date or (declared_date(metadata.date) if metadata.date else None),
            authors=declared.authors or _authors(metadata.author or ""),
        )
    titles = [t for t in (declared.title, metadata.title if metadata else None) if t]
    mark_title(blocks, titles)
    return blocks + [RawBlock("note", n) for n in notes], declared


def _parse(html: str) -> Any:
    import lxml.html

    for attempt in (html, re.sub(r"^\s*<\?xml[^>]*\?>", "", html)):
        try:
            return lxml.html.document_fromstring(attempt)
        except Exception:  # lxml raises several unrelated types on broken input
            continue
    return None


def _tostring(root: Any) -> str:
    import lxml.html

    return str(lxml.html.tostring(root, encoding="unicode"))


def _text(element: Any) -> str:
    """An element's text, with line breaks and block boundaries as spaces."""
    for br in element.iter("br"):
        br.tail = " " + (br.tail or "")
    return normalize(" ".join(element.itertext()))


# ----------------------------------------------------------------------------- metadata


def _declared(root: Any) -> Declared:
    meta: dict[str, list[str]] = {}
    for element in root.iter("meta"):
        key = element.get("name") or element.get("property") or element.get("itemprop") or ""
        content = normalize(element.get("content") or "")
        if key and content:
            meta.setdefault(key.strip().lower(), []).append(content)
    ld = list(_json_ld(root))

    def first(*keys: str) -> str | None:
        return next((meta[k][0] for k in keys if k in meta), None)

    titles = [
        first("citation_title", "dc.title", "dcterms.title"),
        *(normalize(str(item.get("headline") or "")) for item in ld),
        first("og:title", "twitter:title"),
        _h1(root),
        _clean_title(_title_tag(root), first("og:site_name", "application-name")),
    ]
    title = next((t for t in titles if t), None)

    dates = [
        *(str(item.get("datePublished") or "") for item in ld),
        first("citation_publication_date", "citation_date", "citation_online_date"),
        first("article:published_time", "og:published_time", "og:article:published_time"),
        first("dc.date", "dcterms.date", "dcterms.issued", "date", "pubdate", "publish-date"),
        *_time_dates(root),
        *(str(item.get("dateCreated") or "") for item in ld),
    ]
    date = next((d for d in (declared_date(v) for v in dates if v) if d), None)

    author_sources: list[tuple[str, ...]] = [
        tuple(a for value in meta.get("citation_author", []) for a in _authors(value)),
        *(_ld_authors(item.get("author")) for item in ld),
        _authors("; ".join(v for v in meta.get("article:author", []) if "://" not in v)),
        _authors("; ".join(meta.get("author", []) + meta.get("dc.creator", []))),
        _byline(root),
    ]
    authors = next((a for a in author_sources if a), ())

    numbers = [
        first("citation_issue", "citation_technical_report_number", "citation_report_number"),
        *(str(item.get("issueNumber") or "") for item in ld),
    ]
    number = next((n for n in (number_in(v) for v in numbers if v) if n), None)
    return Declared(title=title, number=number, date=date, authors=authors)


def _json_ld(root: Any) -> Iterator[dict[str, Any]]:
    """The article-like objects of the page's JSON-LD (within lists and @graph)."""

    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, list):
            for item in value:
                yield from walk(item)
        elif isinstance(value, dict):
            kinds = value.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
                yield value
            yield from walk(value.get("@graph"))

    for script in root.xpath("//script[contains(@type, 'ld+json')]"):
        try:
            yield from walk(json.loads(script.text or ""))
        except (ValueError, RecursionError):
            continue  # a broken JSON-LD block says nothing


def _ld_authors(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(a for item in value for a in _ld_authors(item))
    if isinstance(value, dict):
        if str(value.get("@type", "Person")) not in ("Person", "person"):
            return ()  # an organisation is the publisher, not an author
        value = value.get("name")
    return _authors(value) if isinstance(value, str) else ()


def _authors(value: str) -> tuple[str, ...]:
    """Names in a metadata value: "Anna Kowalska; Piotr Nowak", "By Anna Kowalska",
    or a catalogue's "Kowalska, Anna"."""
    value = re.sub(r"(?i)^\s*(?:written\s+)?by\s+|^\s*authors?\s*[:：]\s*", "", normalize(value))
    names = split_authors(value)
    surname_first = re.fullmatch(r"([^,;]+),\s*([^,;]+)", value)
    if surname_first and (not names or all(len(n.split()) == 1 for n in names)):
        names = split_authors(f"{surname_first[2]} {surname_first[1]}")
    return names


def _byline(root: Any) -> tuple[str, ...]:
    for element in root.xpath(_BYLINE):
        names = _authors(_text(element))
        if names:
            return names
    return ()


def _h1(root: Any) -> str | None:
    found = root.xpath("//article//h1|//main//h1|//h1")
    return _text(found[0]) or None if found else None


def _title_tag(root: Any) -> str:
    found = root.find(".//title")
    return _text(found) if found is not None else ""


def _clean_title(title: str, site: str | None) -> str | None:
    """A <title> without the site's name ("Title | PISM", "PISM – Title" → "Title"):
    the part that is the site's declared name, or else a short last part."""
    title = normalize(title)
    site = normalize(site or "").casefold()
    suffix = re.fullmatch(r"(.*\S)\s+[|–—·»-]\s+([^|–—·»]+)", title)
    if suffix and (
        suffix[2].casefold() == site
        or (not site and len(suffix[2].split()) <= 3 and len(suffix[1]) > len(suffix[2]))
    ):
        return suffix[1]
    prefix = re.fullmatch(r"([^|–—·»]+?)\s+[|–—·»-]\s+(.*\S)", title)
    if prefix and site and prefix[1].casefold() == site:
        return prefix[2]
    return title or None


def _time_dates(root: Any) -> list[str]:
    """``<time datetime>`` values, a publication date's first (pubdate, itemprop)."""
    marked = root.xpath("//time[@pubdate or @itemprop='datePublished']/@datetime")
    content = root.xpath("//article//time/@datetime|//main//time/@datetime")
    return [str(v) for v in [*marked, *content, *root.xpath("//time/@datetime")]]


# ---------------------------------------------------------------------------- footnotes


def _take_notes(root: Any) -> list[str]:
    """Take the footnotes out of the page: the markers from the text, the notes (and
    their emptied list or section) from the tree. Returns the notes' texts, in the order
    the text refers to them, then any in a footnotes section nothing refers to."""
    ids: dict[str, Any] = {}
    for element in root.xpath("//*[@id]|//a[@name]"):
        ids.setdefault(element.get("id") or element.get("name"), element)
    found: list[Any] = []  # note elements, in reference order
    # lxml hands out the same proxy for an element while a reference to it lives (the
    # list above holds them), so ids identify the notes found.
    found_ids: set[int] = set()

    def in_found(element: Any) -> bool:
        return any(id(a) in found_ids for a in element.iterancestors())

    # Markers come before their notes: a link inside a note found already is its
    # back-link or its own number, never a marker.
    for link in root.xpath("//a[starts-with(@href, '#')]"):
        target = ids.get(link.get("href", "")[1:])
        if (
            target is None
            or link.getparent() is None
            or in_found(link)
            or not _is_marker(link, target)
        ):
            continue
        note = _note_element(target)
        if note is None or _contains(note, link):
            continue
        if id(note) not in found_ids:
            found.append(note)
            found_ids.add(id(note))
        _drop_marker(link)
    # Note lists nothing links to: a footnotes section, an <ol> of "fn1" items.
    for container in root.xpath(
        "//section|//div|//aside|//ol|//*[@role='doc-endnotes' or @role='doc-footnotes']"
        "|//*[@role='doc-footnote' or @role='doc-endnote']"
    ):
        if container.get("role") in ("doc-footnote", "doc-endnote"):
            items = [container]  # one note, marked as such
        elif _notes_container(container):
            items = container.xpath(".//li") or container.xpath("./p|./div")
        else:
            continue
        for item in items:
            inside = any(id(e) in found_ids for e in item.iter())  # holds a note found
            if id(item) not in found_ids and not in_found(item) and not inside:
                found.append(item)
                found_ids.add(id(item))
    texts = []
    for note in found:
        text = _note_text(note)
        if text:
            texts.append(text)
    _drop_emptied(found)
    # Bare markers: "South Korea.<sup>1</sup>" with no link (a unit's "km<sup>2</sup>"
    # follows a letter, and stays).
    for sup in root.xpath("//sup"):
        if len(sup) == 0 and _MARKER_TEXT.fullmatch(sup.text or "") and _after_punctuation(sup):
            sup.drop_tree()
    for link in root.xpath("//a"):
        if _BACKLINK_TEXT.fullmatch(link.text_content() or "") and link.getparent() is not None:
            link.drop_tree()
    return texts


def _is_marker(link: Any, target: Any) -> bool:
    """Whether a fragment link is a note marker: short text, and a note at its target
    (one that links back, or a target or marker named or classed as a note)."""
    if not _MARKER_TEXT.fullmatch(link.text_content() or ""):
        return False
    marks = [link, *link.iterancestors("sup", "span")][:3]
    if any(m.get("role") == "doc-noteref" for m in marks):
        return True
    if any(_MARKER_CLASS.search(m.get("class") or "") for m in marks):
        return True
    back = {m.get("id") or m.get("name") for m in marks if m.get("id") or m.get("name")}
    note = _note_element(target)
    if note is not None and any(
        (a.get("href") or "")[1:] in back for a in note.iter("a") if a.get("href")
    ):
        return True
    return bool(_NOTE_ID.match(link.get("href", "")[1:]))


def _note_element(target: Any) -> Any:
    """The element holding a note's text: the target itself, or, when the target is an
    anchor inside the note (Word's ``<a name="_ftn1">``), its paragraph or item. None
    for anything too long to be a note (a section a contents link points to)."""
    note = target
    if target.tag not in ("li", "aside", "div", "p", "section", "dd"):
        note = next(target.iterancestors("li", "p", "div", "aside", "dd"), None)
    if note is None or len(note.text_content()) > MAX_NOTE_CHARS:
        return None
    return note


def _contains(outer: Any, inner: Any) -> bool:
    return any(a is outer for a in inner.iterancestors())


def _drop_marker(link: Any) -> None:
    """Remove a marker link, and the <sup> or <span> around it when that holds nothing
    else (the text after it stays)."""
    outer = link
    for parent in link.iterancestors("sup", "span"):
        if normalize(parent.text_content()) == normalize(outer.text_content()):
            outer = parent
        else:
            break
    if outer.getparent() is not None:
        outer.drop_tree()


def _notes_container(element: Any) -> bool:
    if element.get("role") in ("doc-endnotes", "doc-footnotes"):
        return True
    if element.tag == "ol":
        items = element.findall("li")
        return bool(items) and all(_NOTE_ID.match(li.get("id") or "") for li in items)
    return bool(_NOTE_CLASS.search(element.get("class") or "")) and element.tag in (
        "section",
        "div",
        "aside",
    )


def _note_text(note: Any) -> str:
    """A note's text, without its back-links and its own leading marker ("[1]")."""
    copy = _copy(note)
    for link in copy.iter("a"):
        href = link.get("href") or ""
        if link.getparent() is not None and (
            link.get("role") == "doc-backlink"
            or _BACKLINK_TEXT.fullmatch(link.text_content() or "")
            or (href.startswith("#") and _MARKER_TEXT.fullmatch(link.text_content() or ""))
        ):
            link.drop_tree()
    text = _text(copy)
    return normalize(re.sub(r"^(?:\[\d{1,3}\]|\d{1,3}[.)])\s+(?=\S)|↩\ufe0e?", "", text))


def _copy(element: Any) -> Any:
    import copy

    duplicate = copy.deepcopy(element)
    duplicate.tail = None
    return duplicate


def _drop_emptied(notes: list[Any]) -> None:
    """Remove the notes, then the lists, sections or asides they leave without text."""
    parents = []
    for note in notes:
        parent = note.getparent()
        if parent is not None:
            parents.append(parent)
            note.drop_tree()
    for parent in parents:
        while (
            parent is not None
            and parent.getparent() is not None
            and parent.tag not in ("body", "html", "article", "main")
            and not parent.text_content().strip()
        ):
            grandparent = parent.getparent()
            parent.drop_tree()
            parent = grandparent


def _after_punctuation(element: Any) -> bool:
    previous = element.getprevious()
    before = (previous.tail if previous is not None else element.getparent().text) or ""
    if previous is not None and not before:
        before = previous.text_content() or ""
    return bool(re.search(r"[.,;:!?)\]”\"’']\s*$", before))


# ------------------------------------------------------------------------------- tables


@dataclass
class _Table:
    """A data table taken out of the page, and where it stood."""

    block: RawBlock
    anchors: list[str]  # its caption, the text before it: to place it if its key is lost


def _take_tables(root: Any) -> dict[str, _Table]:
    """Swap each data table for a placeholder paragraph (its caption before it), keyed
    by the placeholder's text. Tables that lay out the page become plain blocks."""
    import lxml.html

    tables: dict[str, _Table] = {}
    for table in root.xpath("//table"):
        if table.getparent() is None:
            continue
        if not _is_data_table(table):
            # A table that lays out the page: its cells are blocks of text, and read as
            # such (as a table, trafilatura would run them into one Markdown row).
            own = [
                e
                for e in table.iter("thead", "tbody", "tfoot", "tr", "td", "th")
                if next(e.iterancestors("table"), None) is table  # not a nested table's
            ]
            for element in [table, *own]:
                element.tag = "div"
            continue
        rows, header = _table_rows(table)
        if not rows:
            continue
        caption_element = table.find("caption")
        caption = _text(caption_element) if caption_element is not None else ""
        before = table.xpath(f"preceding::*[{_BLOCKS}][1]")
        anchors = [a for a in (caption, _text(before[0]) if before else "") if a]
        key = f"briefqatable{secrets.token_hex(6)}"
        tables[key] = _Table(RawBlock("table", "", rows=rows, header=header), anchors)
        # A bare <p> each: trafilatura keeps a short paragraph among paragraphs, but can
        # drop one wrapped in a <div> of its own.
        placeholder = lxml.html.Element("p")
        placeholder.text = key
        placeholder.tail = table.tail
        table.getparent().replace(table, placeholder)
        if caption:
            paragraph = lxml.html.Element("p")
            paragraph.text = caption
            placeholder.addprevious(paragraph)
    return tables


_BLOCKS = " or ".join(f"self::{t}" for t in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li"))
_PLACEHOLDER = re.compile(r"briefqatable[0-9a-f]{12}")


def _put_tables(blocks: list[RawBlock], tables: dict[str, _Table]) -> list[RawBlock]:
    """The blocks with each table placeholder replaced by its table (text the extractor
    ran into a placeholder stays, as paragraphs around it). A table whose placeholder
    the extractor dropped goes after its caption, or the text before it, if that is
    still there; if not, the table was outside the main content, and is dropped too."""
    out: list[RawBlock] = []
    placed: set[str] = set()
    for block in blocks:
        if block.kind != "paragraph" or not _PLACEHOLDER.search(block.text):
            out.append(block)
            continue
        start = 0
        for match in _PLACEHOLDER.finditer(block.text):
            before = block.text[start : match.start()]
            if before.strip():
                out.append(RawBlock("paragraph", before))
            if match[0] in tables:
                out.append(tables[match[0]].block)
                placed.add(match[0])
            start = match.end()
        if block.text[start:].strip():
            out.append(RawBlock("paragraph", block.text[start:]))
    for key, table in tables.items():
        if key in placed:
            continue
        for anchor in table.anchors:
            at = [i for i, b in enumerate(out) if normalize(b.text) == anchor]
            if at:
                out.insert(at[0] + 1, table.block)
                break
    return out


def _is_data_table(table: Any) -> bool:
    if table.get("role") in ("presentation", "none") or table.xpath(".//table"):
        return False
    cells = table.xpath(".//td|.//th")
    return bool(cells) and all(len(_text(_copy(c))) <= MAX_TABLE_CELL_CHARS for c in cells)


def _table_rows(table: Any) -> tuple[list[list[str]], bool]:
    """A table's rows of cell texts, and whether its first row is a header (in <thead>,
    or all <th>). Spanning cells keep the grid: a cell spanning columns is followed by
    empty cells, one spanning rows repeats its text in each."""
    rows: list[list[str]] = []
    carried: dict[int, tuple[str, int]] = {}  # column -> (text, rows still to fill)
    trs = table.xpath("./thead/tr|./tbody/tr|./tr|./tfoot/tr")
    for tr in trs:
        row: list[str] = []
        cells = tr.xpath("./td|./th")
        while cells or len(row) in carried:
            column = len(row)
            if column in carried:
                text, left = carried.pop(column)
                row.append(text)
                if left > 1:
                    carried[column] = (text, left - 1)
                continue
            cell = cells.pop(0)
            text = _text(_copy(cell))
            span = _span(cell.get("colspan"))
            down = _span(cell.get("rowspan"))
            for offset in range(span):
                row.append(text if offset == 0 else "")
                if down > 1:
                    carried[column + offset] = (text if offset == 0 else "", down - 1)
        rows.append(row)
    header = bool(trs) and (
        trs[0].getparent().tag == "thead" or all(c.tag == "th" for c in trs[0].xpath("./td|./th"))
    )
    return [r for r in rows if any(c.strip() for c in r)], header


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or "1"), 100))
    except ValueError:
        return 1


def _fallback_text(html: str) -> str:
    """Pages too short for trafilatura's content heuristics: the body's text."""
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except Exception:  # lxml raises several unrelated types on broken input
        return ""
    for bad in root.xpath(f"{_CODE}|//nav|//footer"):
        bad.drop_tree()
    parts = []
    for el in root.iter("h1", "h2", "h3", "h4", "p", "li", "blockquote", "pre", "td"):
        text = el.text_content().strip()
        if text:
            prefix = "#" * int(el.tag[1]) + " " if el.tag in ("h1", "h2", "h3", "h4") else ""
            parts.append(prefix + text)
    return "\n\n".join(parts)
