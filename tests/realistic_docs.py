"""The seed bulletin written out as the institute publishes it: DOCX, HTML and Markdown.

Each builder lays out :func:`tests.seed_layout.seed_layout` the way that format really
arrives, with the parts that used to go missing or leak into answers: a table, a
footnote, an author line, a photo credit, metadata outside the visible text, site
navigation and boilerplate around an HTML article.

Where each format carries the bulletin's number:

- DOCX: a visible "No. 116 (2235), 24 August 2023" line under the title, as in print.
- HTML: a visible "PISM Bulletin No. 116 (2235)" line above the headline (the date is in
  a ``<time datetime>``); nothing in ``<meta>`` states the number, so the reader must find
  it in the text.
- Markdown: only in the front matter (``number: 116``), as a static-site generator's
  content file holds it.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import zipfile
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.text.paragraph import Paragraph

from .seed_layout import Layout

# ------------------------------------------------------------------------------- DOCX

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_FOOTNOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
_FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def _anchor_split(paragraph: str, anchor: str) -> tuple[str, str]:
    """The paragraph before and after the note marker, which follows ``anchor``."""
    end = paragraph.index(anchor) + len(anchor)
    return paragraph[:end], paragraph[end:]


def brief_docx(layout: Layout, path: Path) -> Path:
    """The bulletin as Word saves it: Title style, core properties, a running header, a
    byline, Heading 1 sections, a captioned table with a repeated header row, and a real
    footnote (a ``w:footnoteReference`` run and a ``word/footnotes.xml`` part)."""
    document = docx.Document()
    props = document.core_properties
    props.title = layout.title
    props.author = "; ".join(layout.authors)
    props.created = dt.datetime.combine(layout.date, dt.time(9, 30))
    props.last_modified_by = "Editorial Office"
    document.sections[0].header.paragraphs[0].text = layout.running_header

    document.add_paragraph(layout.title, style="Title")
    document.add_paragraph(f"No. {layout.number} ({layout.issue}), {layout.date:%-d %B %Y}")
    document.add_paragraph(f"By {' and '.join(layout.authors)}")
    lead = document.add_paragraph()
    lead.add_run(layout.lead).bold = True
    credit = document.add_paragraph(layout.credit)
    credit.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    credit.runs[0].italic = True

    for paragraph in layout.intro:
        if layout.footnote.anchor in paragraph:
            before, after = _anchor_split(paragraph, layout.footnote.anchor)
            p = document.add_paragraph(before)
            _add_footnote_reference(p, 1)
            p.add_run(after)
        else:
            document.add_paragraph(paragraph)

    for name, paragraphs in layout.sections:
        document.add_heading(name, level=1)
        for i, paragraph in enumerate(paragraphs):
            document.add_paragraph(paragraph)
            if i == 0 and name == layout.table.section:
                _add_table(document, layout)

    document.save(str(path))
    _add_footnotes_part(path, {1: layout.footnote.text})
    return path


def _add_footnote_reference(paragraph: Paragraph, note_id: int) -> None:
    paragraph._p.append(
        parse_xml(
            f'<w:r {nsdecls("w")}><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
            f'<w:footnoteReference w:id="{note_id}"/></w:r>'
        )
    )


def _add_table(document: DocxDocument, layout: Layout) -> None:
    document.add_paragraph(layout.table.caption, style="Caption")
    table = document.add_table(rows=1, cols=len(layout.table.header))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, layout.table.header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(name).bold = True
    # Word's "Repeat as header row at the top of each page".
    table.rows[0]._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader {nsdecls('w')}/>"))
    for row in layout.table.rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value


def _add_footnotes_part(path: Path, notes: dict[int, str]) -> None:
    """python-docx cannot write footnotes: add the part, its relationship and its content
    type to the saved package, as Word would."""
    body = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:pPr><w:pStyle w:val="FootnoteText"/></w:pPr>'
        f'<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteRef/></w:r>'
        f'<w:r><w:t xml:space="preserve"> {html.escape(text)}</w:t></w:r></w:p></w:footnote>'
        for i, text in notes.items()
    )
    footnotes = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes xmlns:w="{_W}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        "</w:footnote>"
        '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r>'
        "<w:continuationSeparator/></w:r></w:p></w:footnote>"
        f"{body}</w:footnotes>"
    )
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    rels = parts["word/_rels/document.xml.rels"].decode()
    rels = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rIdFootnotes" Type="{_FOOTNOTES_REL}" Target="footnotes.xml"/>'
        "</Relationships>",
    )
    types = parts["[Content_Types].xml"].decode()
    types = types.replace(
        "</Types>",
        f'<Override PartName="/word/footnotes.xml" ContentType="{_FOOTNOTES_TYPE}"/></Types>',
    )
    parts["word/_rels/document.xml.rels"] = rels.encode()
    parts["[Content_Types].xml"] = types.encode()
    parts["word/footnotes.xml"] = footnotes.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def docx_body_xml(path: Path) -> str:
    """The document part's XML, for tests that look at what Word wrote."""
    with zipfile.ZipFile(path) as archive:
        return archive.read("word/document.xml").decode()


# ------------------------------------------------------------------------------- HTML

SITE = "PISM"


def brief_html(layout: Layout, path: Path, *, time_tag: bool = True) -> Path:
    """The bulletin as an article page on the institute's site: metadata in <head> (og:,
    citation_, article:, JSON-LD), navigation, a byline, a photo with its credit, a
    captioned table, a footnote with a back-link, and site boilerplate."""
    e = html.escape
    iso = layout.date.isoformat()
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": layout.title,
        "datePublished": f"{iso}T08:00:00+02:00",
        "author": [{"@type": "Person", "name": name} for name in layout.authors],
        "publisher": {"@type": "Organization", "name": "Polish Institute of International Affairs"},
    }
    intro = []
    for paragraph in layout.intro:
        if layout.footnote.anchor in paragraph:
            before, after = _anchor_split(paragraph, layout.footnote.anchor)
            intro.append(
                f"<p>{e(before)}<sup id='fnref1'><a href='#fn1' class='footnote-ref'>1</a>"
                f"</sup>{e(after)}</p>"
            )
        else:
            intro.append(f"<p>{e(paragraph)}</p>")
    sections = []
    for name, paragraphs in layout.sections:
        sections.append(f"<h2>{e(name)}</h2>")
        for i, paragraph in enumerate(paragraphs):
            sections.append(f"<p>{e(paragraph)}</p>")
            if i == 0 and name == layout.table.section:
                sections.append(_html_table(layout))
    published = (
        f'<time datetime="{iso}">{layout.date:%-d %B %Y}</time>'
        if time_tag
        else f"{layout.date:%-d %B %Y}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(layout.title)} | {SITE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(layout.lead[:150])}">
<meta property="og:site_name" content="{SITE}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(layout.title)}">
<meta property="og:url" content="https://www.pism.pl/publications/nato-ap4">
<meta property="article:published_time" content="{iso}T08:00:00+02:00">
<meta name="citation_title" content="{e(layout.title)}">
{"".join(f'<meta name="citation_author" content="{e(a)}">' for a in layout.authors)}
<link rel="stylesheet" href="/css/site.css">
<script type="application/ld+json">{json.dumps(ld)}</script>
<script>window.dataLayer = window.dataLayer || []; gtag('config', 'UA-0000');</script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site-header"><a href="/" class="logo">{SITE}</a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/publications">Publications</a></li>
<li><a href="/events">Events</a></li><li><a href="/about">About us</a></li></ul></nav>
</header>
<main id="main">
<nav class="breadcrumbs"><a href="/">Home</a> › <a href="/publications">Publications</a>
 › <a href="/publications/bulletin">Bulletin</a></nav>
<article>
<header>
<p class="series">{SITE} Bulletin No. {layout.number} ({layout.issue})</p>
<h1>{e(layout.title)}</h1>
<p class="meta">{published}</p>
<p class="byline">By <a rel="author" href="/experts/kowalska">{e(layout.authors[0])}</a> and
<a rel="author" href="/experts/nowak">{e(layout.authors[1])}</a></p>
</header>
<p class="lead"><strong>{e(layout.lead)}</strong></p>
<figure><img src="/img/vilnius.jpg" alt="NATO summit in Vilnius">
<figcaption>{e(layout.credit)}</figcaption></figure>
{"".join(intro)}
{"".join(sections)}
<section class="footnotes" role="doc-endnotes"><hr><ol>
<li id="fn1"><p>{e(layout.footnote.text)} <a href="#fnref1" class="footnote-back"
 role="doc-backlink">↩</a></p></li>
</ol></section>
</article>
<aside class="related"><h3>Related publications</h3><ul>
<li><a href="/p/1">The Vilnius Summit: Outcomes for the Eastern Flank</a></li>
<li><a href="/p/2">Japan’s New Security Strategy</a></li></ul></aside>
</main>
<footer class="site-footer"><p>Polish Institute of International Affairs, ul. Warecka 1a,
00-950 Warsaw</p><p>© 2023 {SITE}. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/cookies">Cookie settings</a></p></footer>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def _html_table(layout: Layout) -> str:
    e = html.escape
    head = "".join(f"<th scope='col'>{e(h)}</th>" for h in layout.table.header)
    body = "".join(
        f"<tr><th scope='row'>{e(row[0])}</th>{''.join(f'<td>{e(c)}</td>' for c in row[1:])}</tr>"
        for row in layout.table.rows
    )
    return (
        f"<div class='table-wrap'><table class='data'><caption>{e(layout.table.caption)}"
        f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- Markdown


def brief_markdown(layout: Layout, path: Path) -> Path:
    """The bulletin as a static-site content file: YAML front matter (title, date,
    number, authors), the title repeated as the first heading, an image with its
    credit, a pipe table and a ``[^1]`` footnote."""
    lines = [
        "---",
        f'title: "{layout.title}"',
        f"date: {layout.date.isoformat()}",
        f"number: {layout.number}",
        "authors:",
        *(f"  - {name}" for name in layout.authors),
        "tags: [NATO, Indo-Pacific, security]",
        "---",
        "",
        f"# {layout.title}",
        "",
        f"**{layout.lead}**",
        "",
        "![NATO summit in Vilnius](/img/vilnius.jpg)",
        f"*{layout.credit}*",
        "",
    ]
    for paragraph in layout.intro:
        if layout.footnote.anchor in paragraph:
            before, after = _anchor_split(paragraph, layout.footnote.anchor)
            paragraph = f"{before}[^1]{after}"
        lines += [_wrap(paragraph), ""]
    for name, paragraphs in layout.sections:
        lines += [f"## {name}", ""]
        for i, paragraph in enumerate(paragraphs):
            lines += [_wrap(paragraph), ""]
            if i == 0 and name == layout.table.section:
                lines += [f"*{layout.table.caption}*", "", *_pipe_table(layout), ""]
    lines += [f"[^1]: {layout.footnote.text}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _wrap(paragraph: str, width: int = 88) -> str:
    """Hard-wrapped, as editors save Markdown."""
    out: list[str] = []
    line = ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*out, line])


def _pipe_table(layout: Layout) -> list[str]:
    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(re.sub(r"\|", r"\\|", c) for c in cells) + " |"

    return [
        row(layout.table.header),
        "|" + "|".join(":---" for _ in layout.table.header) + "|",
        *(row(r) for r in layout.table.rows),
    ]
