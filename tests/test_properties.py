"""Property tests: normalisation, loaders' block offsets, chunking, citation offsets.

Every offset briefqa stores (blocks, chunks, citation quotes) points into a brief's
normalised text, so these tests generate adversarial text (unicode, abbreviations,
decimals, odd whitespace, invisible and control characters, over-long words and
sentences, repeated sentences) and check the invariants the code promises. Token counts
come from :class:`~briefqa.testing.HashEmbedder`, so no model is loaded.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, example, given, reject, settings
from hypothesis import strategies as st

from briefqa.answer.verify import passage_sentences, split_markers, verify
from briefqa.errors import DocumentError
from briefqa.index.chunking import chunk_brief
from briefqa.readers import load_brief
from briefqa.readers.blocks import RawBlock, assemble
from briefqa.readers.pdf import PageText, Word, layout_blocks
from briefqa.schema import Brief, Chunk, Hit
from briefqa.testing import HashEmbedder
from briefqa.text import content_terms, normalize, sentence_spans, with_marker

F = TypeVar("F", bound=Callable[..., Any])

_EMBEDDER = HashEmbedder()
count_tokens = _EMBEDDER.count_tokens


def examples(n: int) -> Callable[[F], F]:
    """Deterministic, quick hypothesis settings: the same ``n`` examples on every run."""
    return settings(
        max_examples=n,
        derandomize=True,
        deadline=None,
        database=None,
        # The autouse fixture only sets environment variables: sharing it is harmless.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# ----------------------------------------------------------------------- strategies

INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
PLAIN = [
    "allies", "NATO", "Japan", "summit", "the", "partners", "Indo-Pacific", "Japan’s",
    "co-operation", "résumé", "Zürich", "Kraków", "東京", "Ελλάδα", "naïve", "policy",
]  # fmt: skip
TRICKY = [
    "U.S.", "U.K.", "e.g.", "i.e.", "Dr.", "No.", "etc.", "J.", "Aug.", "vs.", "3.5",
    "1,000", "24.08.2023", "$5.5", "(in", "total)", "“quoted”", "'single'", "—", "…",
    "?!", "...", "ﬁnally", "Co\u00adoperation", "fi\u200bnally", "\ufeffword", "x²", "①",
    "Ⅻ", "e\u200b\u0301", "[2]", "ΟΔΟΣ", "İstanbul", "a\u0308",
]  # fmt: skip
LONG = ["https://example.org/" + "x" * 300, "a." * 150, "interoperability" * 20]
OPENERS = ["The", "Allies", "NATO", "Japan", "In", "Ελλάδα", "3.5", "“Quoted", "Zürich"]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\u00a0", "\u2003", "\u3000", "\n", " \n ", "\u2028"]

random_words = st.text(st.characters(categories=["L", "M", "N", "P", "S"]), min_size=1, max_size=12)
words = st.one_of(
    st.sampled_from(PLAIN), st.sampled_from(PLAIN), st.sampled_from(TRICKY), random_words
)
separators = st.sampled_from(SEPARATORS)


@st.composite
def sentences(
    draw: st.DrawFn, word: st.SearchStrategy[str] = words, long_words: bool = True
) -> str:
    """A sentence: an opener, then words, then an end; with ``long_words``, now and then
    an over-long word (a URL) or a sentence far over any token budget."""
    body = [draw(st.sampled_from(OPENERS)), *draw(st.lists(word, max_size=14))]
    if long_words and draw(st.integers(0, 9)) == 0:
        body.insert(draw(st.integers(1, len(body))), draw(st.sampled_from(LONG)))
    if long_words and draw(st.integers(0, 9)) == 0:
        body += draw(st.lists(st.sampled_from(PLAIN), min_size=60, max_size=120))
    end = draw(st.sampled_from([".", ".", ".", "?", "!", "…", ".”", ""]))
    return _join(draw, body) + end


def _join(
    draw: Callable[[st.SearchStrategy[str]], str],
    parts: Sequence[str],
    sep: st.SearchStrategy[str] = separators,
) -> str:
    """``parts`` joined by drawn separators."""
    out = parts[0]
    for part in parts[1:]:
        out += draw(sep) + part
    return out


@st.composite
def paragraphs(draw: st.DrawFn, pool: Sequence[str]) -> str:
    """Sentences drawn from ``pool``, so that a brief repeats some of them."""
    return _join(draw, draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6)))


@st.composite
def briefs(draw: st.DrawFn) -> Brief:
    """A brief assembled from generated blocks, as every loader builds one."""
    pool = draw(st.lists(sentences(), min_size=1, max_size=10))
    headings = st.lists(st.sampled_from(PLAIN + TRICKY), min_size=1, max_size=8).map(" ".join)
    raws = [RawBlock("title", draw(headings))]
    for number in range(draw(st.integers(1, 4))):
        if number or draw(st.booleans()):
            raws.append(RawBlock("heading", draw(headings)))
        raws += [RawBlock("paragraph", p) for p in draw(st.lists(paragraphs(pool), max_size=4))]
    raws.append(RawBlock("paragraph", draw(paragraphs(pool))))
    try:
        return assemble(
            raws, source="gen.md", sha256="0" * 64, fmt="md", fallback_title="Gen", structured=True
        )
    except DocumentError:  # every paragraph dropped as front matter: not a brief
        reject()


# ----------------------------------------------------------------------- normalisation


# Arbitrary text, with more of what normalisation must get right than chance would give:
# invisible characters between a letter and its combining accent, hyphens before line
# breaks, odd spaces, ligatures.
AWKWARD = [*INVISIBLE, *"\t\n\r\u00a0\u2003\u3000\u2028-ﬁ¨"]
accented = st.tuples(
    st.sampled_from("aeEü"),
    st.text(st.sampled_from(INVISIBLE), max_size=2),
    st.text(st.sampled_from("\u0301\u0308\u0327"), max_size=2),
).map("".join)
awkward_text = st.lists(
    st.one_of(st.characters(), accented, st.sampled_from(AWKWARD)), max_size=30
).map("".join)


@examples(400)
@given(awkward_text)
@example("e\u200b\u0301")  # was "e\u0301", which NFKC makes "é" on a second pass
def test_normalize_is_idempotent_and_yields_one_clean_nfkc_line(raw: str) -> None:
    clean = normalize(raw)
    assert normalize(clean) == clean
    assert unicodedata.is_normalized("NFKC", clean)
    assert clean == clean.strip()
    assert "  " not in clean
    assert all(c == " " or not c.isspace() for c in clean), "only plain spaces survive"
    assert not set(clean) & set(INVISIBLE)


@examples(200)
@given(
    st.lists(st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1), min_size=1),
    st.data(),
)
def test_normalize_treats_every_kind_of_whitespace_alike(
    parts: list[str], data: st.DataObject
) -> None:
    text = " ".join(parts)
    # Any run of whitespace (NBSP, tabs, CRLF, ideographic space...) reads as one space.
    kinds = [*SEPARATORS, "\r\n", "\r", "\f", "\x0b", "\x1c", "\x85"]
    runs = st.lists(st.sampled_from(kinds), min_size=1, max_size=3).map("".join)
    messy = data.draw(runs) + _join(data.draw, parts, runs) + data.draw(runs)
    if any(p.endswith("-") for p in parts):  # "-\n" + lower case is a hyphenation
        messy = messy.replace("\n", " ").replace("\r", " ")
    assert normalize(messy) == normalize(text)
    if text == unicodedata.normalize("NFKC", text):
        assert normalize(text) == text.strip()


@examples(200)
@given(
    st.text(st.characters(categories=["L", "N"]), min_size=1),
    st.text(st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), min_size=1),
    st.sampled_from(["\n", " \n", "\n  ", "\r\n", "\t\n\t"]),
)
def test_normalize_rejoins_words_hyphenated_across_lines(head: str, tail: str, gap: str) -> None:
    head = normalize(head)
    if head and (head[-1].isalnum() or head[-1] == "_"):
        assert normalize(f"{head}-{gap}{tail}") == head + tail
    # Before a capital the hyphen belongs to a compound ("Indo-\nPacific") and stays.
    assert normalize(f"Indo-{gap}{tail.upper()}") == f"Indo- {tail.upper()}"


# ----------------------------------------------------------------------- sentences


@examples(200)
@given(
    st.lists(st.one_of(words, separators, st.sampled_from([". ", "? ", "! "]))).map("".join),
    st.data(),
)
def test_sentence_spans_cover_a_slice_in_order(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    spans = list(sentence_spans(text, start, end))
    assert all(start <= s < e <= end for s, e in spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
    for s, e in spans:
        assert text[s:e] == text[s:e].strip(), "spans are trimmed"
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i in range(start, end) if not text[i].isspace())


# ----------------------------------------------------------------------- loaders


def check_brief(brief: Brief) -> None:
    """The offsets contract of every :class:`Brief`: blocks tile its normalised text."""
    text = brief.text
    assert brief.doc_id == hashlib.sha256(text.encode()).hexdigest()[:16]
    blocks = brief.blocks
    assert blocks[0].kind == "meta" and text[blocks[0].start : blocks[0].end] == brief.title
    assert blocks[0].start == 0 and blocks[-1].end == len(text)
    for a, b in pairwise(blocks):
        assert text[a.end : b.start] == "\n\n", "blocks are joined by one blank line"
    assert any(b.kind == "paragraph" for b in blocks)
    section = None
    for block in blocks:
        piece = text[block.start : block.end]
        assert piece and piece == piece.strip()
        assert "  " not in piece
        assert all(c == " " or not c.isspace() for c in piece), "a block is one line"
        assert not any(unicodedata.category(c) == "Cc" for c in piece)
        assert not set(piece) & set(INVISIBLE)
        if block.kind == "paragraph":
            assert piece == normalize(piece), "paragraphs hold normalised text"
        if block.kind == "heading":
            section = piece
        assert block.section == (section if block.kind != "meta" else None)
    headings = [text[b.start : b.end] for b in blocks if b.kind == "heading"]
    assert brief.sections == tuple(headings)


def paragraph_texts(brief: Brief) -> list[str]:
    """The text of each paragraph block, in order."""
    return [brief.text[b.start : b.end] for b in brief.blocks if b.kind == "paragraph"]


# Plain-text and Markdown paragraphs for the loaders: long and ending in a full stop,
# so that none reads as a heading, a photo credit or front matter (number, date).
LEAD = "The allies discussed the partnership at length in Vilnius this year"
CONTROLS = ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9c", "\x0b"]


def _with_controls(word: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Words, some with a control character inside (alone on a line, a vertical tab would
    make the line blank, which rightly ends a paragraph)."""
    return st.one_of(word, word, st.tuples(word, st.sampled_from(CONTROLS), word).map("".join))


# Markdown paragraphs keep their words when none is markup (emphasis, code, links, list
# bullets, heading or fence marks).
_MARKUP = re.compile(r"[`*_\[\]!#>=~+<|\\]|^-+$|^\d+[.)]$")
markdown_words = words.filter(lambda w: not _MARKUP.search(w))


@st.composite
def loader_paragraphs(draw: st.DrawFn, word: st.SearchStrategy[str] = words) -> str:
    """A paragraph no loader can take for anything else, of sentences of ``word``."""
    pool = draw(st.lists(sentences(_with_controls(word), long_words=False), min_size=1, max_size=4))
    return f"{LEAD} {_join(draw, pool)}."


def _control_spaces(text: str) -> str:
    """What the text readers do first: control characters but line breaks read as spaces."""
    return "".join(
        " " if unicodedata.category(c) == "Cc" and c not in "\n\t\f" else c for c in text
    )


def _load(name: str, data: bytes) -> Brief:
    """``load_brief`` on a file holding ``data``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return load_brief(path)


@examples(100)
@given(
    st.lists(st.sampled_from(PLAIN), min_size=1, max_size=8).map(" ".join),
    st.lists(loader_paragraphs(), min_size=1, max_size=5),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_txt_blocks_point_into_the_normalised_text(
    title: str, body: list[str], newline: str, bom: bool
) -> None:
    text = "\n\n".join([title, *body]).replace("\n", newline) + newline
    brief = _load("brief.txt", (b"\xef\xbb\xbf" if bom else b"") + text.encode())
    check_brief(brief)
    assert brief.title == title
    assert paragraph_texts(brief) == [normalize(_control_spaces(p)) for p in body]


@examples(100)
@given(
    st.lists(st.sampled_from(PLAIN), min_size=1, max_size=6).map(" ".join),
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(PLAIN), min_size=1, max_size=6).map(" ".join),
            st.lists(loader_paragraphs(markdown_words), max_size=3),
        ),
        max_size=4,
    ),
    st.lists(loader_paragraphs(markdown_words), min_size=1, max_size=2),
)
def test_markdown_blocks_point_into_the_normalised_text(
    title: str, sections: list[tuple[str, list[str]]], intro: list[str]
) -> None:
    lines = [f"# {title}", "", *(p + "\n" for p in intro)]
    for heading, body in sections:
        lines += [f"## {heading}", "", *(p + "\n" for p in body)]
    brief = _load("brief.md", "\n".join(lines).encode())
    check_brief(brief)
    assert brief.title == title
    assert brief.sections == tuple(heading for heading, _ in sections)
    expected = [*intro, *(p for _, body in sections for p in body)]
    assert paragraph_texts(brief) == [normalize(_control_spaces(p)) for p in expected]


def _typeset(pages: list[str]) -> list[PageText]:
    """Pages of text set as a PDF reader sees them: one word box per word, a line every
    14 points (a blank line leaves its gap), 11-point type, 5.5 points per character,
    below the top margin (where a line repeated on every page is a running header)."""
    out = []
    for number, text in enumerate(pages, start=1):
        words = []
        for row, line in enumerate(text.split("\n")):
            x = 72.0
            top = 108.0 + 14 * row
            for word in line.split():
                width = 5.5 * len(word)
                words.append(Word(word, x, x + width, top, top + 11, 11.0, "Helvetica"))
                x += width + 3
        out.append(PageText(number, 612.0, 792.0, words))
    return out


def _squashed(text: str) -> str:
    """Text without whitespace and hyphens (a hyphen at a line end may go)."""
    return re.sub(r"[\s\-\u00ad]+", "", normalize(text))


@examples(100)
@given(
    st.lists(
        st.lists(
            st.one_of(sentences(long_words=False), st.sampled_from(["", "3", "- 2 -", "Heading"])),
            max_size=8,
        ).map("\n".join),
        min_size=1,
        max_size=4,
    )
)
def test_pdf_layout_keeps_every_line_and_points_into_the_text(pages: list[str]) -> None:
    raws, _ = layout_blocks(_typeset(pages))
    assert all(b.page is not None and 1 <= b.page <= len(pages) for b in raws)
    assert [b.page for b in raws] == sorted(b.page or 0 for b in raws)
    # Nothing is lost but page numbers: every other line is in some block, in order.
    found = _squashed(" ".join(b.text for b in raws))
    at = 0
    for page in pages:
        for line in page.split("\n"):
            piece = _squashed(line)
            if not piece or re.fullmatch(r"[-–]?\d+[-–]?", piece):
                continue
            at = found.find(piece, at)
            assert at >= 0, line
            at += len(piece)
    try:
        brief = assemble(
            raws, source="x.pdf", sha256="0" * 64, fmt="pdf", fallback_title="X", structured=False
        )
    except DocumentError:
        reject()
    check_brief(brief)


# ----------------------------------------------------------------------- chunking


def _owners(brief: Brief) -> list[int]:
    """For each block, the heading block it falls under (-1: none yet)."""
    owner, out = -1, []
    for number, block in enumerate(brief.blocks):
        if block.kind == "heading":
            owner = number
        out.append(owner)
    return out


def _heading_tokens(chunk: Chunk) -> int:
    """What the title and section add to a chunk's embedding text."""
    return count_tokens([replace(chunk, text="").embedding_text])[0]


def _shortened_from(label: str | None, original: str | None) -> bool:
    """``label`` is ``original``, or a prefix of it ending in "…" (a heading too long)."""
    if label == original or label in ("", "…"):
        return True
    return label is not None and original is not None and original.startswith(label[:-1])


@examples(100)
@given(
    briefs(),
    st.integers(8, 300),
    st.integers(1, 200),
    st.integers(0, 80),
)
def test_chunks_tile_the_paragraphs_within_their_limits(
    brief: Brief, max_tokens: int, target: int, overlap: int
) -> None:
    def chunk(of: Brief) -> list[Chunk]:
        return chunk_brief(
            of, count_tokens, max_tokens=max_tokens, target_tokens=target, overlap_tokens=overlap
        )

    chunks = chunk(brief)
    text = brief.text
    owners = _owners(brief)

    # Identity: content-derived, unique, deterministic ids; consecutive indexes.
    assert chunk(brief) == chunks
    assert all(c.doc_id == brief.doc_id for c in chunks)
    assert all(c.chunk_id.startswith(f"{brief.doc_id}-") for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))

    covered = bytearray(len(text))
    for c in chunks:
        # Offsets: the chunk is exactly its slice of the brief, trimmed, on word bounds.
        assert 0 <= c.start < c.end <= len(text)
        assert c.text == text[c.start : c.end] and c.text == c.text.strip()
        assert c.start == 0 or text[c.start - 1].isspace()
        assert c.end == len(text) or text[c.end].isspace()
        covered[c.start : c.end] = b"\1" * (c.end - c.start)

        # Sections: only paragraphs of one section, labelled with (a prefix of) its heading.
        inside = [n for n, b in enumerate(brief.blocks) if b.start < c.end and c.start < b.end]
        assert all(brief.blocks[n].kind == "paragraph" for n in inside)
        assert len({owners[n] for n in inside}) == 1
        assert _shortened_from(c.section, brief.blocks[inside[0]].section)
        assert _shortened_from(c.title, brief.title)

        # Limits: title, section and passage fit the model. Only a single "word" longer
        # than the whole budget (a URL, "a.a.a...") may go over, as chunk_brief documents.
        budget = max_tokens - _heading_tokens(c)
        assert budget > 0
        excess = sum(max(0, n - budget) for n in count_tokens(c.text.split()))
        assert count_tokens([c.embedding_text])[0] - excess <= max_tokens

    # Nothing lost: every visible character of every paragraph is in some chunk, and no
    # heading or front matter is.
    for block in brief.blocks:
        for i in range(block.start, block.end):
            if block.kind != "paragraph":
                assert not covered[i]
            elif not text[i].isspace():
                assert covered[i], f"{text[i]!r} at {i} is in no chunk"

    # Order and overlap: windows move forward, sharing at most ``overlap`` tokens (an
    # over-long word counting as the budget, as when it was split off).
    for a, b in pairwise(chunks):
        assert a.start < b.start and a.end < b.end, "a chunk repeats its predecessor"
        if b.start < a.end:
            budget = max_tokens - _heading_tokens(a)
            shared = count_tokens(text[b.start : a.end].split())
            assert sum(min(n, budget) for n in shared) <= overlap


@examples(40)
@given(briefs(), st.integers(16, 200))
def test_chunk_ids_depend_only_on_the_text(brief: Brief, max_tokens: int) -> None:
    again = replace(brief, source="elsewhere.txt", sha256="1" * 64)
    first = chunk_brief(brief, count_tokens, max_tokens=max_tokens)
    second = chunk_brief(again, count_tokens, max_tokens=max_tokens)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]


# ----------------------------------------------------------------------- citations


@st.composite
def cited_passages(draw: st.DrawFn) -> tuple[Brief, list[Hit], str]:
    """Some chunks of a brief as hits, and one sentence of the first, quoted."""
    brief = draw(briefs())
    chunks = chunk_brief(brief, count_tokens, max_tokens=draw(st.integers(24, 256)))
    picked = draw(st.lists(st.sampled_from(chunks), min_size=1, max_size=3, unique=True))
    hits = [Hit.of(c, 1.0 / (i + 1)) for i, c in enumerate(picked)]
    first = hits[0].text
    start, end = draw(st.sampled_from(list(sentence_spans(first))))
    return brief, hits, first[start:end]


@examples(60)
@given(cited_passages())
def test_passage_sentences_are_located_in_the_brief(case: tuple[Brief, list[Hit], str]) -> None:
    brief, hits, _ = case
    found = passage_sentences(hits)
    assert found
    for s in found:
        hit = hits[s.hit]
        assert brief.text[s.start : s.end] == s.text == s.text.strip()
        assert hit.start <= s.start < s.end <= hit.end
        assert hit.text[s.start - hit.start : s.end - hit.start] == s.text
    # Per hit, the sentences come in order and do not overlap.
    for a, b in pairwise(found):
        assert a.hit < b.hit or a.end <= b.start


@examples(80)
@given(cited_passages())
def test_citations_slice_their_quote_out_of_the_brief(
    case: tuple[Brief, list[Hit], str],
) -> None:
    brief, hits, quote = case
    draft = with_marker(quote, "[1]")
    checked = verify(draft, hits, HashEmbedder())
    assert checked.citations, "a sentence quoted with its marker is cited"
    located = {(s.hit, s.start, s.end) for s in passage_sentences(hits)}
    for c in checked.citations:
        [n] = [i for i, hit in enumerate(hits) if hit.chunk_id == c.chunk_id]
        assert brief.text[c.start : c.end] == c.quote and c.doc_id == brief.doc_id
        assert (n, c.start, c.end) in located, "the quote is a whole sentence of its chunk"
    # A bracketed number in the brief's own text ("[2]", a footnote) reads as a marker
    # too: only a quote without one is sure to be cited just once, as [1].
    if "[" in quote:
        return
    [citation] = checked.citations
    assert citation.n == 1 and citation.chunk_id == hits[0].chunk_id
    # Quoted exactly, the quote's own sentence supports it fully: the best quote is as
    # good (term overlap is 0 for a sentence of stopwords only, so those are left out).
    claims = [split_markers(draft[s:e])[0] for s, e in sentence_spans(draft)]
    if claims == [quote] and content_terms(quote):
        assert citation.support == 1.0
