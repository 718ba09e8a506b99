"""One brief however many copies: near-duplicate detection over briefs' content.

Institutes publish every brief as a PDF and a web page, often also as DOCX or Markdown.
Each copy parses to slightly different text (a running header left in, a table laid out
differently), so exact hashes miss them; stored as separate briefs, one sentence fills
the top five passages five times. A brief's fingerprint is a MinHash of the word
5-grams of its body (paragraphs, table rows, notes); two briefs whose estimated Jaccard
similarity reaches :data:`NEAR_DUPLICATE` are copies of one brief.

Which copy's text is kept follows one rule (:func:`preference`): formats that declare
their structure (DOCX, Markdown, HTML) before those whose structure is inferred from
the layout (PDF, plain text); among copies of one format, the longer text. The other
copies become further sources of that brief, and fill the metadata it lacks.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Protocol

import numpy as np

from ..schema import Brief

#: Estimated Jaccard similarity of word 5-grams from which two briefs are one brief.
#: The seed bulletin as PDF (one or two columns), DOCX, HTML, Markdown and text scores
#: 0.97–1.0 against each other; of the 177,906 pairs of ClapNQ passages, the 4 copies
#: found are one passage under two ids (numbers in docs/ingestion.md).
NEAR_DUPLICATE = 0.8
#: For a text shorter than :data:`SHORT_CHARS` the estimate is coarse and a shared
#: boilerplate ("This article needs additional citations…") is most of it: nearly the
#: same text is asked for.
SHORT_NEAR_DUPLICATE = 0.95
SHORT_CHARS = 1000

PERMUTATIONS = 128
_BANDS, _ROWS = 32, 4  # LSH: pairs at 0.8 share a band with probability > 0.9999
_SHINGLE = 5
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20231124)  # fixed: fingerprints are stored and compared
_A = _rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_WORD = re.compile(r"\w+")
_SLICE = 8192  # shingles hashed at once

#: The order in which copies' formats are preferred as the brief's text.
FORMAT_PREFERENCE = ("docx", "md", "html", "pdf", "txt")


def fingerprint(texts: Iterable[str]) -> np.ndarray:
    """MinHash signature (``PERMUTATIONS`` uint32) of the word 5-grams of ``texts``."""
    words = [w for text in texts for w in _WORD.findall(text.casefold())]
    if not words:
        return np.full(PERMUTATIONS, 0xFFFFFFFF, dtype=np.uint32)
    size = min(_SHINGLE, len(words))
    shingles = {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}
    hashes = np.fromiter(
        (zlib.crc32(s.encode()) for s in shingles), dtype=np.uint64, count=len(shingles)
    )
    # Universal hashing, one function a permutation; products stay under 2**64 because
    # hashes are 32-bit and the multipliers are reduced to 32 bits first. In slices, so
    # that a book-length file needs no more memory than a brief.
    low = np.full(PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    for at in range(0, len(hashes), _SLICE):
        part = hashes[None, at : at + _SLICE]
        mixed = (part * (_A[:, None] >> np.uint64(32)) + _B[:, None]) % np.uint64(_PRIME)
        low = np.minimum(low, mixed.min(axis=1))
    signature: np.ndarray = (low & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return signature


def brief_fingerprint(brief: Brief) -> np.ndarray:
    """A brief's fingerprint: of its body, not its title and front matter (which a web
    page's template or a PDF's header may change)."""
    return fingerprint(
        brief.text[b.start : b.end]
        for b in brief.blocks
        if b.kind in ("paragraph", "table", "note")
    )


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two fingerprints' 5-gram sets."""
    return float(np.mean(a == b))


def preference(fmt: str, length: int) -> tuple[int, int]:
    """Sort key of a copy as the brief's text: higher is preferred."""
    rank = FORMAT_PREFERENCE.index(fmt) if fmt in FORMAT_PREFERENCE else len(FORMAT_PREFERENCE)
    return (-rank, length)


class Described(Protocol):
    """What a copy says about its brief besides the text (a Brief, a BriefInfo)."""

    @property
    def number(self) -> str | None: ...
    @property
    def date(self) -> str | None: ...
    @property
    def authors(self) -> tuple[str, ...]: ...


def merged(kept: Brief, others: Iterable[Described]) -> Brief:
    """``kept`` with the number, date and authors it lacks taken from other copies
    (their text is not merged: the brief's text stays the kept copy's)."""
    number, date, authors = kept.number, kept.date, kept.authors
    for other in others:
        number = number or other.number
        date = date or other.date
        authors = authors or other.authors
    return replace(kept, number=number, date=date, authors=authors)


class CopyIndex:
    """Fingerprints of briefs, found again by locality-sensitive hashing: each lookup
    compares a brief only with those sharing a band of its signature."""

    def __init__(self) -> None:
        self._signatures: dict[str, np.ndarray] = {}
        self._lengths: dict[str, int] = {}
        self._buckets: dict[tuple[int, bytes], set[str]] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def add(self, doc_id: str, signature: np.ndarray, length: int) -> None:
        """Index a brief's fingerprint; ``length`` is its text's length in characters."""
        self.discard(doc_id)
        self._signatures[doc_id] = signature
        self._lengths[doc_id] = length
        for key in _bands(signature):
            self._buckets.setdefault(key, set()).add(doc_id)

    def discard(self, doc_id: str) -> None:
        signature = self._signatures.pop(doc_id, None)
        self._lengths.pop(doc_id, None)
        if signature is None:
            return
        for key in _bands(signature):
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.discard(doc_id)
                if not bucket:
                    del self._buckets[key]

    def nearest(self, signature: np.ndarray, length: int) -> tuple[str, float] | None:
        """The most similar brief that is a copy of this one (see :func:`is_copy`)."""
        candidates = set().union(*(self._buckets.get(key, ()) for key in _bands(signature)))
        best: tuple[str, float] | None = None
        for doc_id in sorted(candidates):
            score = similarity(signature, self._signatures[doc_id])
            if is_copy(score, length, self._lengths[doc_id]) and (best is None or score > best[1]):
                best = (doc_id, score)
        return best

    def pairs(self) -> list[tuple[str, str, float]]:
        """Every pair of near-duplicate briefs, most similar first."""
        seen: set[tuple[str, str]] = set()
        found: list[tuple[str, str, float]] = []
        for bucket in self._buckets.values():
            members = sorted(bucket)
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    if (a, b) in seen:
                        continue
                    seen.add((a, b))
                    score = similarity(self._signatures[a], self._signatures[b])
                    if is_copy(score, self._lengths[a], self._lengths[b]):
                        found.append((a, b, round(score, 3)))
        return sorted(found, key=lambda p: (-p[2], p[0], p[1]))


def is_copy(score: float, length: int, other_length: int) -> bool:
    """Are two briefs this alike (their texts this long) copies of one brief?"""
    short = min(length, other_length) < SHORT_CHARS
    return score >= (SHORT_NEAR_DUPLICATE if short else NEAR_DUPLICATE)


def _bands(signature: np.ndarray) -> Iterator[tuple[int, bytes]]:
    for band in range(_BANDS):
        yield band, signature[band * _ROWS : (band + 1) * _ROWS].tobytes()
