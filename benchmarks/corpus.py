"""Synthetic archives of any size, made from real text, for the scale benchmarks.

Sentences come from the seed brief and the ClapNQ dev passages (``evals/``). Each
generated brief is a bulletin like the seed (title, number, date, headed sections) whose
paragraphs draw consecutive runs of sentences from two or three source passages, so its
text reads like prose on a topic while no two chunks are alike.

:class:`PooledEmbedder` embeds such chunks by averaging the real model's vectors of their
sentences, each encoded once: a 100k-chunk archive is built in minutes instead of the
~70 min a full encode takes on two cores. Questions are always encoded by the real model.
Ingest speed against the raw encoder is measured separately, with full encodes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from briefqa.index.embeddings import (
    CachedEmbedder,
    SentenceTransformerEmbedder,
    Vectors,
    embed_passages,
)
from briefqa.text import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "nato-indo-pacific-partners-116-2023-08-24.txt"
DOCS = ROOT / "evals" / "clapnq_dev" / "docs.jsonl"
QUESTIONS = ROOT / "evals" / "clapnq_dev" / "questions.jsonl"
SEED_QUESTIONS = ROOT / "evals" / "seed_brief.jsonl"
HEADINGS = ("Background", "Findings", "Opportunities", "Limitations", "Recommendations",
            "Conclusions", "Context", "Outlook")  # fmt: skip
# Chunks per generated brief, measured with the default chunk size (727 from 125
# briefs, 7,142 from 1,250): sizes are hit by writing target / CHUNKS_PER_BRIEF briefs.
CHUNKS_PER_BRIEF = 5.7


def passages() -> list[tuple[str, list[str]]]:
    """(title, sentences) of every source passage."""
    out = []
    text = SEED.read_text(encoding="utf-8")
    out.append((text.splitlines()[0], _sentences(text.split("\n", 4)[-1])))
    with open(DOCS, encoding="utf-8") as rows:
        for line in rows:
            doc = json.loads(line)
            sentences = _sentences(doc["text"])
            if len(sentences) >= 3:
                out.append((doc["title"], sentences))
    return out


def _sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [flat[s:e] for s, e in sentence_spans(flat) if 30 <= e - s <= 400]


def generate(folder: Path, chunks: int, seed: int = 7) -> int:
    """Write about ``chunks`` chunks' worth of briefs into ``folder``; returns briefs."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = passages()
    rng = random.Random(seed)
    briefs = max(1, round(chunks / CHUNKS_PER_BRIEF))
    start = date(2012, 1, 1)
    for i in range(briefs):
        sources = rng.sample(pool, 3)
        day = start + timedelta(days=rng.randrange(14 * 365))
        title = f"{sources[0][0]}: {rng.choice(['Assessment', 'Update', 'Review', 'Outlook'])} {i}"
        lines = [title, "", str(i + 1), day.strftime("%d.%m.%Y"), ""]
        for heading in rng.sample(HEADINGS, 3):
            lines += [heading, ""]
            for _ in range(2):
                _, sentences = rng.choice(sources)
                run = rng.randint(3, 6)
                at = rng.randrange(max(1, len(sentences) - run + 1))
                lines += [" ".join(sentences[at : at + run]), ""]
        (folder / f"brief-{i:06d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return briefs


def questions(limit: int, seed: int = 11) -> list[str]:
    """Real questions: ClapNQ's and the seed set's, shuffled."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    rows += [json.loads(line) for line in SEED_QUESTIONS.read_text().splitlines()]
    asked = [r["question"] for r in rows]
    random.Random(seed).shuffle(asked)
    return asked[:limit]


class PooledEmbedder(CachedEmbedder):
    """The real model's passage pooling, with every sentence encoded once per archive.

    Ingest pools each chunk's vector from its sentences' vectors
    (:func:`briefqa.index.embeddings.embed_passages`) but encodes a sentence again in each
    batch; generated archives reuse their source sentences, so remembering them all
    turns a 70-minute build into minutes. Reports the real model's name, so the index it
    builds is queried with the real model.
    """

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        super().__init__(inner, size=10_000_000)
        self.dimension = inner.dimension
        self.batch_size = 512  # ingest writes groups of 8 batches: fewer, larger writes

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        return embed_passages(self.embed, texts, spans, self.dimension)
