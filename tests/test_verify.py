"""Citation verification units: markers, renumbering, support on labelled claims."""

from __future__ import annotations

import json

from briefqa import Hit, load_brief
from briefqa.answer.verify import SUPPORT_THRESHOLD, split_markers, support, verify
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import HashEmbedder
from briefqa.text import sentence_spans

from .conftest import ROOT, SEED


def _hit(n: int, text: str, start: int = 0) -> Hit:
    return Hit(f"c{n}", "d", "Brief", text, 1.0 / n, start, start + len(text))


def test_markers_are_parsed_wherever_they_stand() -> None:
    assert split_markers("France opposed it [1][3].") == ("France opposed it.", [1, 3])
    assert split_markers("Text [2, 4] more") == ("Text more", [2, 4])


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    hits = [_hit(1, "Alpha beta gamma delta."), _hit(2, "Epsilon zeta eta theta.")]
    checked = verify(
        "Alpha beta gamma delta. [2] Epsilon zeta eta theta. [1]", hits, HashEmbedder()
    )
    # Renumbered in order of first use: the context's [2] becomes [1].
    assert checked.text == "Alpha beta gamma delta [1]. Epsilon zeta eta theta [2]."
    assert [c.chunk_id for c in checked.citations] == ["c2", "c1"]
    assert checked.cited == (1, 0)


def test_quotes_are_located_in_the_brief_text() -> None:
    brief = load_brief(SEED)
    chunk_text = brief.text[5279:5800]
    hits = [Hit("c", brief.doc_id, brief.title, chunk_text, 1.0, 5279, 5800)]
    checked = verify("France opposed a NATO office in Tokyo [1].", hits, HashEmbedder())
    [citation] = checked.citations
    assert brief.text[citation.start : citation.end] == citation.quote
    assert "France’s opposition" in citation.quote


def test_support_separates_hand_labelled_claims(embedder: SentenceTransformerEmbedder) -> None:
    brief = load_brief(SEED)
    sentences = [
        brief.text[s:e]
        for b in brief.blocks
        if b.kind == "paragraph"
        for s, e in sentence_spans(brief.text, b.start, b.end)
    ]
    vectors = embedder.embed(sentences)
    rows = [json.loads(line) for line in (ROOT / "evals" / "support_claims.jsonl").open()]
    claim_vectors = embedder.embed([r["claim"] for r in rows])
    scores = {
        r["claim"]: max(
            support(r["claim"], cv, s, v) for s, v in zip(sentences, vectors, strict=True)
        )
        for r, cv in zip(rows, claim_vectors, strict=True)
    }
    faithful = [scores[r["claim"]] for r in rows if r["supported"]]
    assert sum(s >= SUPPORT_THRESHOLD for s in faithful) >= len(faithful) - 1
    # Invented figures are the clearest tell.
    assert scores["Australia gave 5 billion dollars to Ukraine."] < SUPPORT_THRESHOLD
    assert scores["Japan sent troops to Ukraine."] < SUPPORT_THRESHOLD


def test_invented_names_lower_support(embedder: SentenceTransformerEmbedder) -> None:
    text = load_brief(SEED).text[5279:5800]
    hits = [Hit("c", "d", "NATO brief", text, 1.0, 5279, 5800)]
    real = verify("France opposed a NATO liaison office in Tokyo [1].", hits, embedder)
    made_up = verify("Macron opposed a NATO liaison office in Tokyo [1].", hits, embedder)
    assert real.citations[0].support > made_up.citations[0].support
    assert made_up.unsupported


def test_uncited_sentences_are_unsupported() -> None:
    checked = verify("A claim with no marker at all.", [_hit(1, "Anything.")], HashEmbedder())
    assert checked.unsupported == ("A claim with no marker at all.",)
    assert checked.citations == ()
