"""Text normalisation and sentence splitting.

Every brief is normalised exactly once, block by block, and all offsets (chunks,
citations, quotes) refer to the normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Characters that carry no text: soft hyphen, zero-width space/joiners, BOM, word joiner.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# A word broken across a line end ("inter-\nnational"): rejoin when the next line goes
# on in lower case, which is how typesetters mark a hyphenation rather than a compound.
_HYPHENATED = re.compile(r"(\w)-[ \t]*\n[ \t]*(?=[a-z])")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Normalise one block of text into a single clean line.

    NFKC folds compatibility characters (non-breaking and other odd spaces, ligatures
    such as "ﬁ" from PDFs); invisible characters go; words hyphenated across line
    breaks are rejoined; every run of whitespace becomes one space.
    """
    # Invisible characters go before NFKC, not after: removed afterwards, they left
    # sequences NFKC had not composed ("e\u200b\u0301" gave "e\u0301", not "é"), so
    # normalising twice changed the text.
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHENATED.sub(r"\1", text)
    return _SPACE.sub(" ", text).strip()


# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "no",
        "nos",
        "vol",
        "pp",
        "p",
        "fig",
        "al",
        "etc",
        "vs",
        "cf",
        "approx",
        "ca",
        "dept",
        "est",
        "gen",
        "col",
        "lt",
        "sgt",
        "gov",
        "sen",
        "rep",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "e.g",
        "i.e",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "u.s.a",
        "a.m",
        "p.m",
    ]
)
# End of a sentence: terminal punctuation, optional closing quotes/brackets, whitespace,
# then something that can open a sentence.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"([\w.]+)$")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` offsets of the sentences of ``text[start:end]``.

    A blank line always ends a sentence: blocks of a brief's text (a table row, a list
    item, a caption) need not end in punctuation. Spans are trimmed of surrounding
    whitespace and cover all non-space characters, so joining the spans with the gaps
    between them gives back the input.
    """
    end = len(text) if end is None else end
    block = start
    for brk in _BLOCK_BREAK.finditer(text, start, end):
        yield from _sentences(text, block, brk.start())
        block = brk.end()
    yield from _sentences(text, block, end)


_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*")


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        if text[match.start()] == "." and _is_abbreviation(text, cursor, match.start()):
            continue
        span = _trim(text, cursor, stop)
        if span:
            yield span
        cursor = stop
    span = _trim(text, cursor, end)
    if span:
        yield span


def _is_abbreviation(text: str, sentence_start: int, dot: int) -> bool:
    word = _LAST_WORD.search(text, sentence_start, dot)
    if word is None:
        return False
    token = word.group(1).lower().rstrip(".")
    # Single capital letters are initials ("J. Stoltenberg"), not sentence ends.
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves according among amongst per via upon
    whose whether within without yet towards toward""".split()
)
_TERM = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


# Stems and roots are asked for the same few thousand words on every question (each
# candidate passage's words): remembered, a question's evidence costs a third less.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English stemmer: enough to match "allies"/"ally", "threats"/"threat"."""
    for suffix, repl in (("’s", ""), ("'s", ""), ("ies", "y"), ("sses", "ss"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def content_terms(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words: the unit of lexical matching."""
    words = (w.lower() for w in _TERM.findall(unicodedata.normalize("NFKC", text)))
    return [stem(w) for w in words if w not in STOPWORDS]


def term_overlap(query: str, passage: str) -> float:
    """Share of ``query``'s content terms that ``passage`` contains (0–1)."""
    terms = set(content_terms(query))
    return len(terms & set(content_terms(passage))) / len(terms) if terms else 0.0


_NAME = re.compile(r"\b(?:[A-Z][\w’'-]*[a-z][\w’'-]*|[A-Z0-9]*[A-Z][A-Z0-9]+|[A-Z]+\d+\w*)\b")
_COMMON_OPENERS = STOPWORDS | {"however", "thus", "therefore", "moreover", "according", "both"}


def names(text: str, *, ignore: frozenset[str] = frozenset()) -> set[str]:
    """Names in ``text``, lower-cased: capitalised words, acronyms and codes ("NATO",
    "K2"). A sentence's first word counts unless it is a common word ("The", "However")
    or in ``ignore``."""
    found = set()
    for match in _NAME.finditer(text):
        word = match.group().lower().removesuffix("’s").removesuffix("'s")
        if match.start() == 0 and (word in _COMMON_OPENERS or word in ignore):
            continue
        found.add(word)
    return found


def with_marker(sentence: str, marker: str) -> str:
    """``"Text [1]."``: put a citation marker before the sentence's closing punctuation."""
    body = sentence.rstrip()
    end = len(body)
    while end and body[end - 1] in ".!?…\"'”’":
        end -= 1
    return f"{body[:end]} {marker}{body[end:]}" if marker else body


# Endings :func:`root` strips, longest first: inflections, -ise/-ize verbs and their
# nouns, and demonyms ("Ukrainian", "Japanese").
_ROOT_SUFFIXES = tuple(
    sorted(
        """isations izations isation ization ations ation itions ition ions ion ised ized
        ises izes ise ize ings ing ated ates ate ied ies ed es s ians ian ans an ese ly
        ments ment""".split(),
        key=len,
        reverse=True,
    )
)


@lru_cache(maxsize=1 << 16)
def root(term: str) -> str:
    """A harder stem than :func:`stem`, for matching a question's words to a passage's
    when it does not matter which form the passage uses: "discussion" and "discussed",
    "authorise" and "authorised", "Ukraine" and "Ukrainians" share a root. Too coarse
    for ranking; only equality of roots is meaningful."""
    word = stem(term.lower())
    for suffix in _ROOT_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] in "aey":
        word = word[:-1]
    return word


@lru_cache(maxsize=4096)
def roots(text: str) -> frozenset[str]:
    """The roots of ``text``'s content words (the same passages come back question after
    question, so the last few thousand texts' roots are remembered)."""
    return frozenset(root(t) for t in content_terms(text))
