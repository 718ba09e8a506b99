"""The seed bulletin as the institute publishes it, for the real-file fixtures.

The text comes from ``corpus/``; the extras a published brief carries (an author line, a
footnote, a small table, the running header) are added here once, so that the PDF,
DOCX, HTML and Markdown builders all lay out the same brief and the tests can say
exactly what every reader must recover.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "nato-indo-pacific-partners-116-2023-08-24.txt"


@dataclass(frozen=True)
class Table:
    section: str  # the section it sits in, after that section's first paragraph
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def lines(self) -> list[str]:
        """How briefqa renders each row (loaders.table_rows)."""
        out = []
        for row in self.rows:
            cells = "; ".join(f"{h}: {c}" for h, c in zip(self.header[1:], row[1:], strict=True))
            out.append(f"{row[0]} — {cells}")
        return out


@dataclass(frozen=True)
class Footnote:
    anchor: str  # the sentence whose end carries the marker (full sentence text)
    text: str  # the note's text, without its number


@dataclass(frozen=True)
class Layout:
    title: str
    number: str
    issue: str  # the series number in brackets: "No. 116 (2235)"
    date: dt.date
    authors: tuple[str, ...]
    lead: str
    credit: str
    intro: tuple[str, ...]  # paragraphs between the photo credit and the first heading
    sections: tuple[tuple[str, tuple[str, ...]], ...]  # heading, its paragraphs
    table: Table
    footnote: Footnote

    @property
    def running_header(self) -> str:
        return f"PISM BULLETIN No. {self.number} ({self.issue}), {self.date:%-d %B %Y} © PISM"

    @property
    def section_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.sections)

    def body_paragraphs(self) -> list[str]:
        return [self.lead, *self.intro] + [p for _, ps in self.sections for p in ps]

    def sentences(self) -> list[str]:
        """Every sentence of the brief's body, as it must survive intact in some chunk."""
        out: list[str] = []
        for paragraph in self.body_paragraphs():
            out += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"(])", paragraph) if s]
        return out


def seed_layout() -> Layout:
    blocks = [b.strip() for b in SEED.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    title, front, lead, credit, *rest = blocks
    number = front.split()[0]
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for block in rest:
        if len(block) < 60 and not block.endswith("."):
            sections.append((block, []))
        else:
            (sections[-1][1] if sections else intro).append(block)
    anchor = next(
        s
        for s in re.split(r"(?<=[.!?])\s+", intro[0])
        if "Individually Tailored Partnership Programmes" in s
    )
    return Layout(
        title=title,
        number=number,
        issue="2235",
        date=dt.date(2023, 8, 24),
        authors=("Anna Kowalska", "Piotr Nowak"),
        lead=lead,
        credit=credit,
        intro=tuple(intro),
        sections=tuple((name, tuple(paragraphs)) for name, paragraphs in sections),
        table=Table(
            section=sections[0][0],
            caption="Table 1. Individually Tailored Partnership Programmes with the AP4",
            header=("Partner", "ITPP signed", "Priority areas"),
            rows=(
                ("Japan", "12 July 2023", "cyber defence, space"),
                ("South Korea", "12 July 2023", "hybrid threats, arms control"),
                ("Australia", "8 August 2023", "maritime security"),
                ("New Zealand", "under negotiation", "climate security"),
            ),
        ),
        footnote=Footnote(
            anchor=anchor,
            text="The ITPPs replace the Individual Partnership and Cooperation Programmes "
            "agreed with the four partners in 2014.",
        ),
    )
