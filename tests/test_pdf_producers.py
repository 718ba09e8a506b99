"""The PDF reader on briefs made by real programs (benchmarks/producers/pdfs: pdfLaTeX,
LibreOffice, Chromium, WeasyPrint, fpdf2), scored against the text they were made from.

Issue 22 asks 0.99 of sentences intact and in order on every producer; these assertions
hold the reader to it (`make bench` prints the full table beside pdfminer, pypdfium2 and
pdftotext).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.producers.scoring import meta_score, score
from benchmarks.producers.truth import PRODUCERS, load_all

from briefqa import BriefQA, Settings, load_brief
from briefqa.index.embeddings import SentenceTransformerEmbedder

PDFS = Path(__file__).resolve().parent.parent / "benchmarks" / "producers" / "pdfs"


@pytest.fixture(scope="module")
def results() -> list[tuple[str, float, float, int, dict[str, bool]]]:
    out = []
    for truth in load_all(PDFS):
        brief = load_brief(PDFS / truth.file)
        found = score(truth, brief.text)
        meta = meta_score(truth, brief.title, brief.number, brief.date, brief.authors)
        out.append((truth.producer, found.intact, found.order, found.spliced, meta))
    return out


def test_the_benchmark_covers_five_producers(
    results: list[tuple[str, float, float, int, dict[str, bool]]],
) -> None:
    assert len(results) >= 24
    assert {producer for producer, *_ in results} == set(PRODUCERS)


def test_sentences_come_back_whole_and_in_order_from_every_producer(
    results: list[tuple[str, float, float, int, dict[str, bool]]],
) -> None:
    by_producer: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for producer, intact, order, spliced, _ in results:
        by_producer[producer].append((intact, order))
        assert intact >= 0.95 and order >= 0.9 and spliced == 0
    for producer, scores in by_producer.items():
        intact = sum(i for i, _ in scores) / len(scores)
        order = sum(o for _, o in scores) / len(scores)
        # Issue 22's bar: every producer reads whole since the hyphen word list.
        assert intact >= 0.99 and order >= 0.99, (producer, intact, order)


def test_the_printed_metadata_wins_over_the_files(
    results: list[tuple[str, float, float, int, dict[str, bool]]],
) -> None:
    # Every file's metadata carries another date (the day it was printed, a template's)
    # and an institute or template as its author.
    for *_, meta in results:
        assert all(meta.values()), meta


@pytest.fixture(scope="module")
def benchmark_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[BriefQA]:
    """The 24 benchmark briefs in one index, on the real model."""
    data = tmp_path_factory.mktemp("producers-index")
    with BriefQA(data, settings=Settings(), embedder=embedder) as engine:
        engine.ingest([PDFS])
        yield engine


def test_who_wrote_a_title_is_answered_from_every_briefs_byline(
    benchmark_index: BriefQA,
) -> None:
    truths = [t for t in load_all(PDFS) if t.authors]
    assert len(truths) >= 20
    for truth in truths:
        answer = benchmark_index.ask(f"Who wrote {truth.title}?")
        assert not answer.refused and answer.kind == "brief", (truth.file, answer.text)
        for person in truth.authors:
            assert person.name in answer.text, (truth.file, answer.text)
        assert truth.title in answer.text


def test_the_authors_programme_comes_from_the_byline(benchmark_index: BriefQA) -> None:
    with_roles = [t for t in load_all(PDFS) if any(p.role for p in t.authors)]
    assert with_roles
    for truth in with_roles[:6]:
        answer = benchmark_index.ask(f"Which programme are the authors of “{truth.title}” in?")
        assert not answer.refused and answer.kind == "brief", (truth.file, answer.text)
        for person in truth.authors:
            assert person.role in answer.text, (truth.file, answer.text)


def test_who_wrote_something_no_brief_is_titled_is_searched(benchmark_index: BriefQA) -> None:
    answer = benchmark_index.ask("Who wrote Pride and Prejudice?")
    assert answer.kind == "search"
