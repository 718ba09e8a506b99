"""What the generators share: note markers in the briefs' sources, the byline and
soft-hyphen helpers, the brief with inline notes (pdfLaTeX, LibreOffice), and the check
that a PDF's line ends show the hyphen features its truth claims."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__:
    from .truth import Person, Truth
else:  # imported by a generator run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from truth import Person, Truth

PDFS = Path(__file__).resolve().parent / "pdfs"

#: A note marker in a Chromium, WeasyPrint or fpdf2 source: "[^2]", the note's number.
MARKER = re.compile(r"\[\^(\d+)\]")
#: A note written inline in a pdfLaTeX or LibreOffice source: "[[the note's text]]".
INLINE_NOTE = re.compile(r"\[\[(.+?)\]\]")


def unmarked(text: str) -> str:
    """A paragraph as the truth has it: no note markers."""
    return MARKER.sub("", text)


def typo(text: str) -> str:
    """The text as the PDF shows it: typographic apostrophes."""
    return text.replace("'", "\u2019")


def without_notes(text: str) -> str:
    """A paragraph with inline notes as the truth has it: no notes, typographic
    apostrophes."""
    return typo(INLINE_NOTE.sub("", text))


def byline(authors: list[Person]) -> str:
    """The byline as printed: "A, role, and B, role" or "A and B"."""
    parts = [f"{p.name}, {p.role}" if p.role else p.name for p in authors]
    if len(parts) == 1:
        return parts[0]
    joiner = ", and " if any(p.role for p in authors) else " and "
    return ", ".join(parts[:-1]) + joiner + parts[-1]


def hyphenation_points(listing: str) -> dict[str, str]:
    """ "ac-cel-er-a-tors ac-cord-ing …" → {"accelerators": "ac-cel-er-a-tors", …}."""
    return {word.replace("-", ""): word for word in listing.split()}


def soft(text: str, points: Mapping[str, str]) -> str:
    """Insert U+00AD at the hyphenation points ``points`` gives for the long words."""

    def repl(match: re.Match[str]) -> str:
        word = match.group(0)
        pattern = points.get(word.lower())
        if pattern is None:
            return word
        out, i = [], 0
        for piece in pattern.split("-"):
            out.append(word[i : i + len(piece)])
            i += len(piece)
        return "\u00ad".join(out)

    return re.sub(r"[A-Za-z]{8,}", repl, text)


@dataclass
class InlineNotesBrief:
    """A brief whose source writes its notes inline ([[…]]), typeset by pdfLaTeX or
    LibreOffice; ``extra`` holds what one layout needs (tables, sidebars, headers)."""

    layout: str
    features: list[str]
    title: str
    number: str
    masthead: str  # the number and date exactly as printed
    date: str  # ISO
    authors: list[Person]
    lead: str
    sections: list[tuple[str, list[str]]]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def byline(self) -> str:
        return "; ".join(f"{a.name}, {a.role}" if a.role else a.name for a in self.authors)

    def paragraphs(self) -> list[str]:
        return [self.lead] + [p for _, ps in self.sections for p in ps]

    def notes(self) -> list[str]:
        return [typo(n) for p in self.paragraphs() for n in INLINE_NOTE.findall(p)]


def check_hyphen_features(pdf: Path, truth: Truth) -> list[str]:
    """What the PDF's line ends say about the hyphen features ``truth`` claims: a
    warning for each claim that pdftotext (when installed) cannot confirm."""
    exe = shutil.which("pdftotext")
    if exe is None:
        return []
    text = subprocess.run([exe, "-raw", str(pdf), "-"], capture_output=True, text=True).stdout
    text = unicodedata.normalize("NFC", text)
    body = " ".join(truth.body)
    hard = soft_found = False
    for line, nxt in zip(text.split("\n"), text.split("\n")[1:], strict=False):
        m, n = re.search(r"(\w+) ?-$", line), re.match(r"\s*(\w+)", nxt)
        if m and n:
            hard |= f"{m.group(1)}-{n.group(1)}" in body
            soft_found |= re.search(rf"\b{m.group(1)}{n.group(1)}", body) is not None
    found = {"hard-hyphens": hard, "soft-hyphens": soft_found}
    return [
        f"{pdf.name}: claims {f} but no line end shows one"
        for f, ok in found.items()
        if f in truth.features and not ok
    ]
