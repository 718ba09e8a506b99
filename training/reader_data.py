"""Training pairs for the reading model: (question, sentence, label) from SelQA and SQuAD 2.0.

Both sets are Wikipedia, none of it policy briefs; ClapNQ and the project's ``evals/`` are
never read here (they stay evaluation data).

- SelQA answer-sentence selection: each question comes with the sentences of one
  Wikipedia section; the ones listed in ``answers`` are positives, the others negatives.
- SQuAD 2.0 (train subset): each paragraph is split into sentences with briefqa's own
  splitter (the one the answer path uses); the sentence that holds the answer span is a
  positive, the paragraph's other sentences negatives, and every sentence of an
  unanswerable question's paragraph a hard negative ("related, but does not answer").

A pair's ``context`` is its article title (and SelQA's section), given to the model as a
prefix of the sentence half the time, so that it reads a sentence both with and without
the heading it sits under (briefs give their section headings; pronouns lean on them).

Development questions are held out by *article*, never by question, so that no
paragraph seen in training is scored in development.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from briefqa.text import content_terms, normalize, sentence_spans


@dataclass(frozen=True)
class Pair:
    """One (question, sentence) pair of one question group."""

    group: str  # the question's id: pairs of one question are ranked against each other
    question: str
    sentence: str
    context: str  # article (and section) the sentence belongs to
    label: int  # 1: the sentence answers the question
    source: str  # "selqa" or "squad"


def selqa_pairs(path: Path) -> list[Pair]:
    """Pairs of one SelQA answer-sentence-selection file."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    pairs = []
    for row in rows:
        question = normalize(row["question"])
        answers = set(row["answers"])
        group = "selqa:" + _digest(row["article"], row["section"], question)
        context = f"{row['article']}, {row['section']}"
        for i, candidate in enumerate(row["candidates"]):
            sentence = normalize(candidate)
            if sentence:
                pairs.append(Pair(group, question, sentence, context, int(i in answers), "selqa"))
    return pairs


def squad_pairs(path: Path) -> list[Pair]:
    """Pairs of a SQuAD 2.0 train-format file, its paragraphs split into sentences."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    pairs = []
    for article in data:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = list(sentence_spans(context))
            for qa in paragraph["qas"]:
                question = normalize(qa["question"])
                if not question:
                    continue
                starts = (
                    [] if qa.get("is_impossible") else [a["answer_start"] for a in qa["answers"]]
                )
                group = squad_group(qa)
                for a, b in spans:
                    label = int(any(a <= s < b for s in starts))
                    pairs.append(
                        Pair(group, question, normalize(context[a:b]), title, label, "squad")
                    )
    return pairs


def squad_group(qa: dict[str, Any]) -> str:
    """A SQuAD question's group: its near negatives must join the pairs of its paragraph."""
    return "squad:" + qa["id"]


def near_negatives(path: Path, per_question: int = 4) -> list[Pair]:
    """Sentences from *other* paragraphs of a SQuAD question's article that share the most
    words with it, as negatives of that question (``source`` "squad-near").

    In the answer path the reader compares sentences of several retrieved passages, most
    of them on the question's topic; a paragraph's own sentences alone never teach it
    that a sentence about the same person or event, elsewhere in the article, does not
    answer. A sentence holding one of the question's answer texts is never taken (the
    fact may be repeated), and unanswerable questions get none: another paragraph may
    answer what theirs does not."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    pairs = []
    for article in data:
        title = article["title"].replace("_", " ")
        sentences = [
            (k, normalize(paragraph["context"][a:b]))
            for k, paragraph in enumerate(article["paragraphs"])
            for a, b in sentence_spans(paragraph["context"])
        ]
        terms = [set(content_terms(text)) for _, text in sentences]
        lowered = [text.lower() for _, text in sentences]
        for k, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                question = normalize(qa["question"])
                if not question or qa.get("is_impossible"):
                    continue
                # Compared as the sentences are: normalised, then lower-cased.
                answers = {normalize(a["text"]).lower() for a in qa["answers"] if a["text"].strip()}
                asked = set(content_terms(question))
                scored = [
                    (len(asked & terms[i]), i)
                    for i, (other, _) in enumerate(sentences)
                    if other != k and not any(a in lowered[i] for a in answers)
                ]
                best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
                group = squad_group(qa)
                for _, i in best[:per_question]:
                    pairs.append(Pair(group, question, sentences[i][1], title, 0, "squad-near"))
    return pairs


def article_of(pair: Pair) -> str:
    return pair.context.split(",")[0]


def split(
    pairs: Sequence[Pair], dev_share: float = 0.08, seed: int = 13
) -> tuple[list[Pair], list[Pair]]:
    """Training and development pairs, held out by article (a fixed draw)."""
    articles = sorted({(p.source, article_of(p)) for p in pairs})
    rng = random.Random(seed)
    rng.shuffle(articles)
    # At least one SQuAD article in development, so that unanswerables are measured.
    dev: set[tuple[str, str]] = set()
    squad = [a for a in articles if a[0] == "squad"]
    if squad:
        dev.add(squad[0])
    total = len(pairs)
    counts: dict[tuple[str, str], int] = {}
    for p in pairs:
        key = (p.source, article_of(p))
        counts[key] = counts.get(key, 0) + 1
    held = sum(counts[a] for a in dev)
    for a in articles:
        if held >= dev_share * total:
            break
        if a[0] == "selqa" and a not in dev:
            dev.add(a)
            held += counts[a]
    train = [p for p in pairs if (p.source, article_of(p)) not in dev]
    development = [p for p in pairs if (p.source, article_of(p)) in dev]
    return train, development


def load_pairs(paths: Iterable[Path]) -> list[Pair]:
    """Every pair of the given SelQA (``selqa*.json``) and SQuAD (``squad*.json``) files."""
    pairs: list[Pair] = []
    for path in paths:
        name = path.name.lower()
        if name.startswith("selqa"):
            pairs += selqa_pairs(path)
        elif name.startswith("squad"):
            pairs += squad_pairs(path)
        else:
            raise SystemExit(f"{path}: not a SelQA (selqa*.json) or SQuAD (squad*.json) file")
    return pairs


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
