"""What a benchmark PDF says, written down before it is typeset.

Every generator writes, next to each ``<name>.pdf`` in ``benchmarks/producers/pdfs/``, a
``<name>.json`` holding one :class:`Truth`: the brief's metadata, its reading flow (the
paragraphs a reader should get back, in order) and the text that lies outside the flow
(captions, credits, sidebars, table cells, notes, running headers and footers, the
masthead). The benchmark scores each reader against these files only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Producers the benchmark covers (the program that wrote the PDF).
PRODUCERS = ("pdflatex", "libreoffice", "chromium", "weasyprint", "fpdf2")

#: Layout features a file can cover; each file lists the ones it has.
FEATURES = (
    "two-columns",
    "three-columns",
    "uneven-last-columns",  # the last page's columns end at different heights
    "one-page",
    "lead-beside-image",
    "caption",  # a photo caption and/or credit line
    "sidebar",  # a boxed "Key points" or similar
    "table-ruled",
    "table-unruled",
    "footnotes",
    "endnotes",
    "justified",
    "soft-hyphens",  # words broken at line ends by the producer's hyphenation
    "hard-hyphens",  # real compounds ("nuclear-powered") broken at their hyphen
    "running-header",
    "page-footer",  # "Page N of M" or a bare page number
    "masthead",  # number and date in a banner ("No. 117 (2236) 31.08.2023")
    "byline-roles",  # "Name, analyst in the X Programme"
)


@dataclass
class Person:
    """An author as the byline names them; ``role`` is the rest of their entry
    ("analyst in the Energy Programme"), empty when the byline gives none."""

    name: str
    role: str = ""


@dataclass
class Float:
    """Text outside the reading flow. ``kind`` is one of caption, credit, sidebar, table,
    note, header, footer, masthead, byline."""

    kind: str
    text: str


@dataclass
class Truth:
    """One benchmark PDF as written.

    ``body`` is the reading flow: the lead and every body paragraph, in order, each as
    one string with single spaces and no line-end hyphens (a real compound keeps its
    hyphen). ``headings`` are the section headings in order. Sentences of ``body`` are
    what "sentences intact" and "order kept" are measured on; no text of ``floats`` may
    appear inside one of them.
    """

    file: str
    producer: str
    features: list[str]
    title: str
    number: str | None
    date: str | None  # ISO 8601, the date printed on the brief
    authors: list[Person]
    body: list[str]
    headings: list[str] = field(default_factory=list)
    floats: list[Float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.producer not in PRODUCERS:
            raise ValueError(f"unknown producer {self.producer!r}")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")

    def save(self, folder: Path) -> Path:
        path = folder / (Path(self.file).stem + ".json")
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n")
        return path


def load_truth(path: Path) -> Truth:
    data = json.loads(path.read_text())
    data["authors"] = [Person(**a) for a in data["authors"]]
    data["floats"] = [Float(**f) for f in data.get("floats", [])]
    return Truth(**data)


def load_all(folder: Path) -> list[Truth]:
    """Every truth file in ``folder`` whose PDF exists, by file name."""
    truths = [load_truth(p) for p in sorted(folder.glob("*.json"))]
    return [t for t in truths if (folder / t.file).is_file()]
