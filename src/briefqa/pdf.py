"""PDF briefs: text with its layout, rebuilt into blocks.

(Being rewritten for layout analysis; see issue 16.)
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import DocumentError
from .loaders import _CONTROLS, Declared, Parsed, RawBlock


def read_pdf(path: Path, data: bytes) -> Parsed:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "the PDF is password-protected; save an unprotected copy")
        # Text extraction can yield control characters (odd font encodings): as spaces,
        # like the other formats.
        pages = [(page.extract_text() or "").translate(_CONTROLS) for page in reader.pages]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # pypdf can fail deep inside on arbitrary corruption
        raise DocumentError(path, f"not a readable PDF ({type(exc).__name__})") from exc
    blocks = pdf_blocks(pages)
    if not blocks:
        raise DocumentError(
            path, "the PDF has no extractable text (a scanned image? run OCR on it first)"
        )
    return blocks, Declared()


def pdf_blocks(pages: list[str]) -> list[RawBlock]:
    """Rebuild paragraphs from the lines of each page's extracted text.

    A paragraph ends at a blank line, or at a line that ends a sentence and is clearly
    shorter than the page's full lines; a short line without end punctuation on its own
    is kept as its own block (a heading candidate). Bare page numbers are dropped, and a
    paragraph running over a page break stays one block, with the page where it starts.
    """
    blocks: list[RawBlock] = []
    current: list[str] = []
    page_of_current: int | None = None

    def flush() -> None:
        nonlocal page_of_current
        if current:
            blocks.append(RawBlock("paragraph", "\n".join(current), page_of_current))
            current.clear()
        page_of_current = None

    for number, page_text in enumerate(pages, start=1):
        lines = [line.rstrip() for line in page_text.split("\n")]
        # Running page numbers ("3", "- 3 -", "Page 3") at the top or bottom of a page.
        while lines and _is_page_number(lines[-1]):
            lines.pop()
        while lines and _is_page_number(lines[0]) and number > 1:
            lines.pop(0)
        width = max((len(line) for line in lines), default=0)

        def heading_like(line: str, width: int = width) -> bool:
            return (
                0 < len(line) < 0.6 * width
                and not line.endswith(_SENTENCE_END)
                and (line[:1].isupper() or line[:1].isdigit())
            )

        for i, line in enumerate(lines):
            stripped = line.strip()
            if not stripped:
                flush()
                continue
            if page_of_current is None:
                page_of_current = number
            ends_sentence = stripped.endswith(_SENTENCE_END)
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            standalone = not current and heading_like(stripped)
            current.append(stripped)
            if standalone or (
                ends_sentence and (len(stripped) < 0.8 * width or heading_like(following))
            ):
                flush()
    flush()
    return blocks


_SENTENCE_END = (".", "!", "?", ".”", '."', ":")


def _is_page_number(line: str) -> bool:
    return re.fullmatch(r"\s*(?:page\s*)?[-–]?\s*\d{1,4}\s*[-–]?\s*", line, re.I) is not None
