"""How well a reader's plain text keeps a brief's reading flow, measured against its truth.

Both the truth and the extracted text go through :func:`normalise` first. Then, over the
sentences of ``Truth.body`` (split by briefqa's own splitter):

* **intact**: the share of sentences found verbatim in the text;
* **order**: the share of consecutive sentence pairs, across the whole flow, whose two
  sentences are both found, the first before the second;
* **spliced**: sentences with text of another block (a float, a heading, another body
  paragraph) inserted between their first and last words;
* **broken words**: body words glued to their neighbours or split in two;
* **torn**: intact sentences that straddle a blank line of the text (a block break), which
  is where briefqa's chunker and sentence splitter cut.

Pure functions: nothing here reads a file or knows which reader made the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import pairwise

from briefqa.text import sentence_spans

from .truth import Truth

# Characters that carry no text; U+00AD is a soft hyphen, an invisible break point.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# Quotes and apostrophes folded to ASCII: producers (and smart-quote settings) differ
# only in these, and no metric should depend on which one the truth file was written with.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)
_SPACE = re.compile(r"\s+")
_BLOCK_BREAK = re.compile(r"\n[ \t\f\r]*\n")
_WORD = re.compile(r"\w+")
# A token's punctuation at either end (quotes, brackets, commas, full stops, hyphens).
_OUTER = re.compile(r"^[\W_]+|[\W_]+$")
_NOT_ALNUM = re.compile(r"[\W_]+")
_HYPHEN_END = ("-", "\u2010", "\u2011")
_SENTENCE_END = tuple(".!?:;,")

#: Words at each end of a sentence that locate it when it is not intact.
EDGE_WORDS = 5
#: The first and last words of a sentence must lie within this many times its length.
SPAN_FACTOR = 3
#: Consecutive words of another block that make an insertion a splice.
RUN = 4
EXAMPLES = 3
#: The most tokens one word split at several places is looked for in.
MAX_PIECES = 5


def normalise(text: str) -> str:
    """Fold the differences no reader should be judged on: NFKC (ligatures, odd spaces),
    curly quotes and apostrophes to straight ones, soft hyphens and zero-width characters
    removed, every run of whitespace to one space. Dashes and hyphens are kept as they are."""
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


def sentences(paragraph: str) -> list[str]:
    """The sentences of one truth paragraph, normalised, by briefqa's splitter (which
    knows "e.g.", "U.S.", "No. 5", initials and decimals)."""
    text = normalise(paragraph)
    return [text[start:end] for start, end in sentence_spans(text)]


@dataclass
class FileScore:
    """One reader's text of one file, scored (see the module's doc for each metric)."""

    sentences: int
    intact: float
    order: float
    spliced: int
    broken_words: int
    torn: int = 0
    examples: list[str] = field(default_factory=list)
    broken_examples: list[str] = field(default_factory=list)


def score(truth: Truth, text: str) -> FileScore:
    """Score the extracted ``text`` of the PDF ``truth`` describes."""
    flat = normalise(text)
    # (paragraph index, sentence) for every body sentence, in reading order.
    flow = [(i, s) for i, paragraph in enumerate(truth.body) for s in sentences(paragraph)]
    positions = _positions([s for _, s in flow], flat)
    found = sum(p is not None for p in positions)
    kept = sum(a is not None and b is not None and a < b for a, b in pairwise(positions))
    blocks = "\n\n".join(normalise(b) for b in _BLOCK_BREAK.split(text))
    torn = sum(p is not None and s not in blocks for (_, s), p in zip(flow, positions, strict=True))

    foreign = _Foreign(truth)
    spliced: list[str] = []
    failed: list[str] = []
    for (paragraph, sentence), position in zip(flow, positions, strict=True):
        if position is not None:
            continue
        insert = _splice(sentence, flat, foreign.of(paragraph))
        if insert is not None:
            spliced.append(insert)
        else:
            failed.append(_where_it_breaks(sentence, flat))
    broken, broken_examples = _broken_words(truth, flat)
    return FileScore(
        sentences=len(flow),
        intact=found / len(flow) if flow else 1.0,
        order=kept / (len(flow) - 1) if len(flow) > 1 else 1.0,
        spliced=len(spliced),
        broken_words=broken,
        torn=torn,
        examples=(spliced + failed)[:EXAMPLES],
        broken_examples=broken_examples[:5],
    )


def meta_score(
    truth: Truth,
    title: str | None,
    number: str | None,
    date: str | None,
    authors: list[str] | tuple[str, ...] | None,
) -> dict[str, bool]:
    """Whether a reader got the brief's metadata right: the title (case aside), the number
    and the ISO date as the truth gives them (both missing counts as right), and the set of
    author names (roles aside, order aside).

    The number is the series number: a "No." before it and the issue number in brackets
    after it ("No. 117 (2236)") are not required, so "117" matches "117 (2236)"."""

    def same(found: str | None, want: str | None) -> bool:
        return normalise(found or "").casefold() == normalise(want or "").casefold()

    return {
        "title": same(title, truth.title),
        "number": same(_series(number), _series(truth.number)),
        "date": same(date, truth.date),
        "authors": {normalise(a).casefold() for a in authors or ()}
        == {normalise(p.name).casefold() for p in truth.authors},
    }


_NUMBER_PREFIX = re.compile(r"^(?:no\.?|nr\.?|#)\s*", re.IGNORECASE)


def _series(number: str | None) -> str | None:
    if number is None:
        return None
    return _NUMBER_PREFIX.sub("", normalise(number)).split("(")[0].strip() or None


def _positions(flow: list[str], text: str) -> list[int | None]:
    """Where each sentence is in ``text``: the first occurrence after the previous found
    sentence, else the first anywhere (a pull quote may repeat a sentence earlier)."""
    positions: list[int | None] = []
    last = -1
    for sentence in flow:
        at = text.find(sentence, last + 1)
        if at < 0:
            at = text.find(sentence)
        positions.append(at if at >= 0 else None)
        if at >= 0:
            last = at
    return positions


class _Foreign:
    """The 4-word runs (and whole short texts) of every block but one body paragraph."""

    def __init__(self, truth: Truth) -> None:
        others = [f.text for f in truth.floats] + list(truth.headings)
        self._base = _runs(others)
        self._short = {tuple(w) for t in others if 0 < len(w := _words(t)) < RUN}
        self._paragraphs = [_runs([p]) for p in truth.body]
        self._cache: dict[int, set[tuple[str, ...]]] = {}

    def of(self, paragraph: int) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
        if paragraph not in self._cache:
            runs = set(self._base)
            for i, other in enumerate(self._paragraphs):
                if i != paragraph:
                    runs |= other
            self._cache[paragraph] = runs
        return self._cache[paragraph], self._short


def _words(text: str) -> list[str]:
    return _WORD.findall(normalise(text).casefold())


def _runs(texts: list[str]) -> set[tuple[str, ...]]:
    runs: set[tuple[str, ...]] = set()
    for text in texts:
        words = _words(text)
        runs.update(tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1))
    return runs


def _splice(
    sentence: str, text: str, foreign: tuple[set[tuple[str, ...]], set[tuple[str, ...]]]
) -> str | None:
    """The text of another block inserted into ``sentence`` in ``text``, or None.

    The sentence is located by its first and last :data:`EDGE_WORDS` words (fewer for a
    short one, down to two when those are not found), the end after the start and within
    :data:`SPAN_FACTOR` times its length. What lies between is aligned word by word with
    the sentence's middle; a splice is an inserted run holding :data:`RUN` consecutive
    words of a float, a heading or another paragraph, or the whole of a float or heading
    shorter than that ("Conclusions", "2").
    """
    words = sentence.split()
    k = min(EDGE_WORDS, len(words) // 2)
    runs, short = foreign
    # Fewer edge words when the insertion falls among the first or last few.
    for h, t in sorted(
        ((h, t) for h in range(k, 1, -1) for t in range(k, 1, -1)), key=lambda ht: -sum(ht)
    ):
        head, tail = " ".join(words[:h]), " ".join(words[-t:])
        middle = _WORD.findall(" ".join(words[h:-t]).casefold())
        start = text.find(head)
        while start >= 0:
            end = text.find(tail, start + len(head), start + SPAN_FACTOR * len(sentence))
            if end >= 0:
                between = _WORD.findall(text[start + len(head) : end].casefold())
                matcher = SequenceMatcher(None, middle, between, autojunk=False)
                for op, _, _, j1, j2 in matcher.get_opcodes():
                    inserted = tuple(between[j1:j2])
                    if op in ("insert", "replace") and (
                        inserted in short
                        or any(
                            inserted[i : i + RUN] in runs for i in range(len(inserted) - RUN + 1)
                        )
                    ):
                        shown = _clip(" ".join(inserted), 60)
                        return f'spliced: "…{_clip(head, 40)} [+{shown}]…"'
            start = text.find(head, start + 1)
    return None


def _where_it_breaks(sentence: str, text: str) -> str:
    """The longest start of ``sentence`` found in ``text`` and what follows it there."""
    words = sentence.split()
    low, high = 0, len(words)  # the first `low` words are found; all `high` are not
    while high - low > 1:
        mid = (low + high) // 2
        if " ".join(words[:mid]) in text:
            low = mid
        else:
            high = mid
    if low == 0:
        return f'missing: "{_clip(sentence, 80)}"'
    prefix = " ".join(words[:low])
    after = text.find(prefix) + len(prefix)
    return (
        f'breaks after "…{_clip(" ".join(words[max(0, low - 4) : low]), 40)}": '
        f'got "{_clip(text[after : after + 40].strip(), 40)}", '
        f'want "{_clip(" ".join(words[low : low + 5]), 40)}"'
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _token(raw: str) -> str:
    return _OUTER.sub("", raw.casefold())


def _key(token: str) -> str:
    return _NOT_ALNUM.sub("", token)


def _broken_words(truth: Truth, text: str) -> tuple[int, list[str]]:
    """Body words the text glues together or splits, and examples of each.

    A token of the text (split at whitespace, casefolded, outer punctuation dropped) that is
    no word of the truth counts when, letters and digits alone, it is

    * a run of 2+ consecutive body words ("nationalbudgetscover", "bill.The"): each word
      of the run counts;
    * one body word with a hyphen lost or added ("nuclearpowered", "can‐didate"): one.

    Two to :data:`MAX_PIECES` tokens in a row, none but the last ending a clause, that
    together spell one body word count once if they are not consecutive words of the truth
    and the first ends in a hyphen or one of them is no word of the truth ("can‐ didate",
    "can didate", "con tri bu tions", "nuclear- powered"). A split into real words only
    ("under take") goes uncounted.
    """
    everything = [truth.title, *truth.body, *truth.headings, *(f.text for f in truth.floats)]
    vocabulary: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for part in everything:
        tokens = [_token(t) for t in normalise(part).split()]
        vocabulary.update(tokens)
        pairs.update(pairwise(tokens))
    body = [_key(_token(t)) for p in truth.body for t in normalise(p).split()]
    body = [k for k in body if k]
    words = {k for k in body if len(k) >= 4}
    prefixes = {k[:n] for k in words for n in range(1, len(k) + 1)}
    starts: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(body):
        starts[k[0]].append(i)
    raw = text.split()
    tokens = [_token(t) for t in raw]

    def glued(key: str) -> int:
        """How many consecutive body words ``key`` is made of (0: fewer than two)."""
        for i in starts.get(key[0], ()):
            j, consumed = i, ""
            while j < len(body) and key.startswith(consumed + body[j]):
                consumed += body[j]
                j += 1
                if consumed == key:
                    return j - i if j - i >= 2 else 0
        return 0

    def split(i: int) -> int:
        """How many tokens from the ``i``-th on spell one body word (0: none)."""
        joined = ""
        for n in range(1, min(MAX_PIECES, len(tokens) - i) + 1):
            piece = _key(tokens[i + n - 1])
            if not piece or (n > 1 and raw[i + n - 2].endswith(_SENTENCE_END)):
                return 0
            joined += piece
            if n > 1 and joined in words:
                pieces = tokens[i : i + n]
                if all(pair in pairs for pair in pairwise(pieces)):
                    return 0
                unknown = any(t not in vocabulary for t in pieces)
                return n if unknown or raw[i].endswith(_HYPHEN_END) else 0
            if joined not in prefixes:
                return 0
        return 0

    count = 0
    examples: list[str] = []
    i = 0
    while i < len(tokens):
        key = _key(tokens[i])
        if key and tokens[i] not in vocabulary:
            n = 1 if key in words else glued(key)
            if n:
                count += n
                examples.append(raw[i])
                i += 1
                continue
        n = split(i)
        if n:
            count += 1
            examples.append(" ".join(raw[i : i + n]))
        i += max(n, 1)
    return count, examples
