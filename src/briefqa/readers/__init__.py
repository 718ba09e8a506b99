"""Reading briefs: .txt, .md, .pdf, .html and .docx files into :class:`Brief` objects.

This package owns the first stage of the pipeline. :func:`load_brief` picks the reader
for a file's suffix from one table; each format has a module that turns a file into raw
blocks (``pdf``, with ``pdf_glyphs`` for PDFium's glyphs; ``word``; ``htmlpage``;
``markdown_text``; plain text is read here), imported only when a file of its kind comes
in; :mod:`.blocks` holds what they share and :func:`~.blocks.assemble`, which makes the
brief. To add a format: a module with a ``read_<format>(path, data) -> Parsed``, a row
in ``_FORMATS`` and ``_READERS``, and a suffix in ``SUPPORTED_SUFFIXES``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path, PurePath

from ..errors import DocumentError, UnsupportedFormat
from ..schema import Brief
from .blocks import Declared, Parsed, RawBlock, assemble, decode_text

#: Raised whenever a reader changes what it makes of a file: an index read by other
#: readers has every file read again on its next ingest (bytes unchanged or not).
READER_VERSION = "3"

#: File suffixes briefqa can ingest.
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx")


def brief_format(path: str | PurePath) -> str:
    """The reader a file name calls for ("pdf", "md", ...).

    Raises:
        UnsupportedFormat: the suffix has no reader.
    """
    suffix = PurePath(path).suffix
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        raise UnsupportedFormat(
            path,
            f"unsupported file type {suffix or '(none)'!r}; "
            f"briefqa reads {', '.join(SUPPORTED_SUFFIXES)}",
        )
    return fmt


def load_brief(path: str | Path, *, max_pages: int | None = None) -> Brief:
    """Read and parse one brief (a PDF of more than ``max_pages`` pages is refused before
    its pages are read). :func:`briefqa.index.isolation.read_brief` does it within limits of
    memory and time, for files from outside.

    Raises:
        UnsupportedFormat: the suffix has no reader.
        DocumentError: the file cannot be read, is corrupt, encrypted, binary, empty or
            over the page limit.
    """
    path = Path(path)
    fmt = brief_format(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise DocumentError(path, "the file is empty")
    if fmt == "pdf" and max_pages:
        pages = pdf_pages(data)
        if pages is not None and pages > max_pages:
            raise DocumentError(
                path,
                f"the PDF has {pages:,} pages, over the limit of {max_pages:,} "
                "(BRIEFQA_PARSE_MAX_PAGES)",
            )
    try:
        raws, declared = _READERS[fmt](path, data)
    except DocumentError:
        raise
    except Exception as exc:  # a reader's bug on one odd file must not stop an ingest
        raise DocumentError(
            path, f"could not read the {fmt} file ({type(exc).__name__}: {exc})"
        ) from exc
    return assemble(
        raws,
        declared=declared,
        source=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        fmt=fmt,
        fallback_title=path.stem.replace("_", " ").replace("-", " ").strip(),
        structured=fmt in ("md", "html", "docx"),
    )


def _read_txt(path: Path, data: bytes) -> Parsed:
    text = decode_text(path, data)
    return [RawBlock("paragraph", part) for part in re.split(r"\n[ \t]*\n", text)], Declared()


def markdown_blocks(text: str) -> list[RawBlock]:
    """The blocks of a Markdown text, its front matter's title, number and date
    included as a reader sees them (see :func:`briefqa.readers.markdown_text.markdown_blocks`)."""
    from .markdown_text import markdown_blocks as blocks

    return blocks(text)


def _read_md(path: Path, data: bytes) -> Parsed:
    from .markdown_text import read_markdown

    return read_markdown(decode_text(path, data))


def _read_html(path: Path, data: bytes) -> Parsed:
    from .htmlpage import read_html

    return read_html(path, data)


def _read_pdf(path: Path, data: bytes) -> Parsed:
    from .pdf import read_pdf

    return read_pdf(path, data)


def pdf_pages(data: bytes) -> int | None:
    """How many pages a PDF has (None if PDFium cannot open it: its reader says why)."""
    from .pdf import page_count

    return page_count(data)


def _read_docx(path: Path, data: bytes) -> Parsed:
    from .word import read_docx

    return read_docx(path, data)


_FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
_READERS: dict[str, Callable[[Path, bytes], Parsed]] = {
    "txt": _read_txt,
    "md": _read_md,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
}
