"""Fit the refusal model (src/briefqa/answer/refusal.json) and report it leave-one-corpus-out.

Two corpora with gold answerability:

- "seed": the seed brief; ``seed_calibration.jsonl`` is its fitting set and
  ``seed_brief.jsonl`` its test set, never fitted on;
- "clapnq": ClapNQ dev, full (``clapnq_dev_full/``: 300 answerable and 300 unanswerable
  questions over 597 Wikipedia passages), split in half by a hash of the question id,
  stratified by answerability, for within-corpus held-out numbers.

A fixed list of off-topic questions (``OFF_TOPIC``) is asked over the seed brief; every
one must be refused, whatever the model was fitted on.

Every fitted number (weights, the refusal threshold, the confidence threshold) is
reported on questions it was not fitted on: fitted on one corpus and reported on the
other, both ways, and within ClapNQ on the held-out half. The model that ships is then
fitted on all calibration data (seed_calibration and all of ClapNQ dev full), so its own
numbers on those sets are in-sample: the honest ones are the directions above.

The fit: a class-balanced logistic regression on the features of
:data:`briefqa.answer.refusal.FEATURES`; the refusal threshold is the highest that refuses at
most ``MAX_FALSE_REFUSAL`` of the fitting set's answerable questions; the confidence
threshold is probability 0.5 (the balanced model's even odds), never below the refusal
threshold. The answer-kind check (``kind_coverage``) is fixed, not fitted: it only moves
answers into the low-confidence band.

With ``--compare``, the designs tried before this one are fitted and reported the same
way (for evals/README.md).

With the reading model on (the default), the signals include the reader's best
probability (:data:`briefqa.answer.refusal.READER_FEATURES`) and the model goes to
``src/briefqa/answer/refusal-reader.json``; ``--reader off`` fits the model used without a
reader (``refusal.json``, the four similarity signals).

Usage: python evals/calibrate_refusal.py [--write] [--compare] [--reader on|off]
       (without --write: report only; the report goes to evals/refusal_calibration.json,
       or evals/refusal_calibration_no_reader.json with --reader off)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from briefqa import BriefQA, Settings
from briefqa.answer.refusal import (
    FEATURES,
    MODEL_FILE,
    READER_FEATURES,
    READER_MODEL_FILE,
    Evidence,
    RefusalModel,
)

EVALS = Path(__file__).resolve().parent
ROOT = EVALS.parent
REPORT = EVALS / "refusal_calibration.json"
REPORT_NO_READER = EVALS / "refusal_calibration_no_reader.json"
# Share of the fitting set's answerable questions the refusal threshold may refuse. Low
# on purpose: a false refusal costs more than a low-confidence answer, and the share
# grows on a corpus the model was not fitted on. 2 % with the reader's signal: held-out
# false refusals stayed at 0-1.7 % while more unanswerable questions were refused than
# at 1 % (evals/README.md).
MAX_FALSE_REFUSAL = 0.02
CONFIDENT = 0.5
KIND_COVERAGE = 0.0
# Asked over the seed brief; each must be refused (a few name countries the brief is about).
OFF_TOPIC = (
    "What was Japan's GDP in 2022?",
    "What is the GDP of Japan?",
    "What is Japan's population?",
    "Who won the 2022 football World Cup?",
    "Which football club has won the most Champions League titles?",
    "Who scored the most goals for South Korea's national football team?",
    "What will the weather be like in Brussels tomorrow?",
    "Will it rain in Tokyo this weekend?",
    "What is the weather forecast for Canberra?",
    "How do I bake sourdough bread?",
    "Who painted the Mona Lisa?",
    "How many calories are in a banana?",
    "What is the exchange rate between the euro and the dollar today?",
    "When is the next solar eclipse?",
    "How tall is Mount Everest?",
    "Who is the lead singer of Coldplay?",
    "How do I renew my passport?",
    "What is the speed of light?",
    "Which country won the most medals at the 2020 Olympics?",
    "How much does a Toyota Corolla cost in Japan?",
)


@dataclass
class QuestionSet:
    """One set's evidence and gold labels (1 = answerable)."""

    evidence: list[Evidence]
    y: np.ndarray[Any, Any]

    def subset(self, mask: np.ndarray[Any, Any]) -> QuestionSet:
        return QuestionSet([e for e, m in zip(self.evidence, mask, strict=True) if m], self.y[mask])


@dataclass(frozen=True)
class Design:
    """A way to turn evidence into a probability and two cut points."""

    name: str
    features: tuple[str, ...]
    kind: str  # "cap": the kind check only lowers confidence; "refuse": it refuses; "off"
    max_false_refusal: float
    confident: float | None = CONFIDENT
    kind_coverage: float = KIND_COVERAGE


SHIPPED = Design("chosen", READER_FEATURES, "cap", MAX_FALSE_REFUSAL)
# refusal.json (no reader) was fitted refusing at most 1 %, before the reader existed.
SHIPPED_NO_READER = Design("chosen, no reader", FEATURES, "cap", 0.01)
# What was tried before settling on SHIPPED (reported with --compare).
ALTERNATIVES = (
    Design(
        "before: 4 signals (relevance for sentence), kind rule refuses, FR <= 5%",
        ("dense", "relevance", "coverage", "window"),
        "refuse",
        0.05,
        confident=None,
    ),
    Design(
        "before, with FR <= 1% and a band",
        ("dense", "relevance", "coverage", "window"),
        "refuse",
        0.01,
    ),
    Design(
        "before's signals, kind check caps confidence, FR <= 1%",
        ("dense", "relevance", "coverage", "window"),
        "cap",
        0.01,
    ),
    Design("similarity signals only (no reader)", FEATURES, "cap", MAX_FALSE_REFUSAL),
    Design("reader alone", ("reader",), "cap", MAX_FALSE_REFUSAL),
    Design("reader and sentence cosine", ("reader", "sentence"), "cap", MAX_FALSE_REFUSAL),
    Design("chosen, no kind check", READER_FEATURES, "off", MAX_FALSE_REFUSAL),
    Design("chosen, FR <= 1% (as before the reader)", READER_FEATURES, "cap", 0.01),
    Design("sentence and window only", ("sentence", "window"), "cap", MAX_FALSE_REFUSAL),
    Design("dense and coverage only", ("dense", "coverage"), "cap", MAX_FALSE_REFUSAL),
)


@dataclass(frozen=True)
class Gate:
    """A fitted design: probability for each piece of evidence, and its cut points."""

    probability: Callable[[Evidence], float]
    threshold: float
    confident: float
    model: RefusalModel | None = None


def calibration_mask(ids: list[str], y: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Half of each class, chosen by a hash of the question id (stable across runs)."""
    mask = np.zeros(len(ids), dtype=bool)
    for label in (0, 1):
        members = [i for i in range(len(ids)) if y[i] == label]
        members.sort(key=lambda i: hashlib.sha256(str(ids[i]).encode()).hexdigest())
        mask[members[::2]] = True
    return mask


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    for row in rows:
        unanswerable = row.get("unanswerable", row.get("answerable") is False)
        row["unanswerable"] = bool(unanswerable)
    return rows


def write_clapnq_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for line in (EVALS / "clapnq_dev_full" / "docs.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        name = doc["doc_id"].replace("#", "_").replace("/", "_")
        (folder / f"{name}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")


def gather(qa: BriefQA, rows: list[dict[str, Any]]) -> QuestionSet:
    evidence = []
    for row in rows:
        # As ask gathers it: the reader's pool read and reordered, top_k kept.
        evidence.append(qa.evidence(row["question"]))
    y = np.array([0 if row["unanswerable"] else 1 for row in rows])
    return QuestionSet(evidence, y)


def matrix(design: Design, evidence: list[Evidence]) -> np.ndarray[Any, Any]:
    return np.array([[float(getattr(e, f)) for f in design.features] for e in evidence])


def fit(design: Design, data: QuestionSet) -> Gate:
    """Fit ``design`` on ``data``: the logistic weights, then the two thresholds."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    def kind_ok(e: Evidence) -> bool:
        return design.kind == "off" or e.kind_share >= design.kind_coverage

    # A refusing kind rule decides its questions alone; the model learns from the rest.
    keep = np.array([design.kind != "refuse" or kind_ok(e) for e in data.evidence])
    x = matrix(design, data.evidence)
    regression = LogisticRegression(class_weight="balanced", C=1.0, max_iter=2000)
    regression.fit(x[keep], data.y[keep])
    weights = tuple(float(w) for w in regression.coef_[0])
    bias = float(regression.intercept_[0])

    def raw(e: Evidence) -> float:
        z = bias + sum(
            w * float(getattr(e, f)) for w, f in zip(weights, design.features, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))

    def refuse_rule(e: Evidence) -> float:
        return raw(e) if kind_ok(e) else 0.0

    # The highest threshold that refuses at most max_false_refusal of the answerable
    # questions, rounded down so that the saved (rounded) value refuses no more.
    base = refuse_rule if design.kind == "refuse" else raw
    answerable = np.sort([base(e) for e, y in zip(data.evidence, data.y, strict=True) if y == 1])
    allowed = math.floor(design.max_false_refusal * len(answerable))
    threshold = math.floor(float(answerable[allowed]) * 10_000) / 10_000
    confident = threshold if design.confident is None else max(design.confident, threshold)

    if design.kind != "refuse":
        model = RefusalModel(
            weights,
            bias,
            threshold,
            note="",
            kind_coverage=design.kind_coverage if design.kind == "cap" else -math.inf,
            confident=confident,
            features=design.features,
        )
        return Gate(model.probability, threshold, confident, model)
    return Gate(refuse_rule, threshold, confident)


def rates(gate: Gate, data: QuestionSet) -> dict[str, Any]:
    """The three outcomes' shares among answerable and unanswerable questions."""
    p = np.array([gate.probability(e) for e in data.evidence])
    refused = p < gate.threshold
    low = ~refused & (p < gate.confident)
    out: dict[str, Any] = {
        "answerable": int((data.y == 1).sum()),
        "unanswerable": int((data.y == 0).sum()),
    }
    for label, name in ((1, "answerable"), (0, "unanswerable")):
        members = data.y == label
        if not members.any():
            continue
        out[f"refused_{name}_count"] = int(refused[members].sum())
        out[f"refused_{name}"] = round(float(refused[members].mean()), 3)
        out[f"low_confidence_{name}"] = round(float(low[members].mean()), 3)
        out[f"answered_{name}"] = round(float((~refused & ~low)[members].mean()), 3)
    if "refused_answerable" in out:
        out["false_refusal"] = out["refused_answerable"]
    return out


def all_calibration(sets: dict[str, QuestionSet]) -> QuestionSet:
    """What the shipped model is fitted on: seed_calibration and all of ClapNQ."""
    seed, clapnq = sets["seed_calibration"], sets["clapnq"]
    return QuestionSet(seed.evidence + clapnq.evidence, np.concatenate([seed.y, clapnq.y]))


def evaluate(design: Design, sets: dict[str, QuestionSet]) -> dict[str, Any]:
    """Fit ``design`` each way and report it on sets it was not fitted on."""
    clap_fit = sets["clapnq_calibration_half"]
    seed_fit = sets["seed_calibration"]
    plan = (
        ("seed -> clapnq", "seed_calibration", seed_fit,
         ("clapnq", "seed_brief", "off_topic")),
        ("clapnq -> seed", "clapnq (all 600)", sets["clapnq"],
         ("seed_brief", "seed_calibration", "off_topic")),
        ("clapnq half -> clapnq held-out half", "clapnq_calibration_half", clap_fit,
         ("clapnq_held_out_half",)),
        ("shipped: all calibration data", "seed_calibration + clapnq (all 600)",
         all_calibration(sets),
         ("seed_brief", "off_topic", "seed_calibration", "clapnq")),
    )  # fmt: skip
    out: dict[str, Any] = {}
    for direction, fitted_on, data, reported in plan:
        gate = fit(design, data)
        out[direction] = {
            "fitted_on": fitted_on,
            "threshold": gate.threshold,
            "confident": gate.confident,
            "sets": {name: rates(gate, sets[name]) for name in reported},
        }
        if gate.model is not None:
            out[direction]["weights"] = dict(zip(design.features, gate.model.weights, strict=True))
            out[direction]["bias"] = gate.model.bias
    shipped = out["shipped: all calibration data"]
    shipped["in_sample"] = ["seed_calibration", "clapnq"]
    return out


def table(results: dict[str, Any]) -> str:
    """A markdown table of one design's report: per direction, per set."""
    lines = [
        "| fitted on → reported on | false refusals | answerable low-conf. "
        "| unanswerable refused | unanswerable low-conf. |",
        "|---|---|---|---|---|",
    ]
    for direction, result in results.items():
        for name, r in result["sets"].items():
            seen = " (fitted on)" if name in result.get("in_sample", ()) else ""
            fr = (
                f"{r['false_refusal']:.3f} ({r['refused_answerable_count']}/{r['answerable']})"
                if "false_refusal" in r
                else "–"
            )
            lowa = f"{r['low_confidence_answerable']:.2f}" if "false_refusal" in r else "–"
            lines.append(
                f"| {direction}: {name}{seen} | {fr} | {lowa} | "
                f"{r['refused_unanswerable']:.2f} ({r['refused_unanswerable_count']}/"
                f"{r['unanswerable']}) | {r['low_confidence_unanswerable']:.2f} |"
            )
    return "\n".join(lines)


def collect(reader: str) -> dict[str, QuestionSet]:
    sets: dict[str, QuestionSet] = {}
    with tempfile.TemporaryDirectory(prefix="briefqa-calibrate-") as tmp:
        corpus = Path(tmp) / "clapnq"
        write_clapnq_corpus(corpus)
        plan: tuple[tuple[str, Path, list[dict[str, Any]]], ...] = (
            ("clapnq", corpus, load_rows(EVALS / "clapnq_dev_full" / "questions.jsonl")),
            ("seed_calibration", ROOT / "corpus", load_rows(EVALS / "seed_calibration.jsonl")),
            ("seed_brief", ROOT / "corpus", load_rows(EVALS / "seed_brief.jsonl")),
            ("off_topic", ROOT / "corpus",
             [{"id": q, "question": q, "unanswerable": True} for q in OFF_TOPIC]),
        )  # fmt: skip
        for name, docs, rows in plan:
            settings = Settings(reader=reader)
            with BriefQA(Path(tmp) / f"index-{docs.name}", settings=settings) as qa:
                qa.ingest([docs])
                sets[name] = gather(qa, rows)
            print(f"{name}: {len(rows)} questions, evidence gathered", flush=True)
            if name == "clapnq":
                half = calibration_mask([r["id"] for r in rows], sets[name].y)
                sets["clapnq_calibration_half"] = sets[name].subset(half)
                sets["clapnq_held_out_half"] = sets[name].subset(~half)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="save the shipped model")
    parser.add_argument("--compare", action="store_true", help="also report earlier designs")
    parser.add_argument("--reader", choices=("on", "off"), default="on")
    args = parser.parse_args()

    with_reader = args.reader == "on"
    shipped_design = SHIPPED if with_reader else SHIPPED_NO_READER
    sets = collect("packaged" if with_reader else "off")
    chosen = evaluate(shipped_design, sets)
    report: dict[str, Any] = {
        "date": date.today().isoformat(),
        "reader": args.reader,
        "design": {
            "features": list(shipped_design.features),
            "max_false_refusal_when_fitting": MAX_FALSE_REFUSAL,
            "confident": CONFIDENT,
            "kind_coverage": KIND_COVERAGE,
            "kind_check": "caps the probability below `confident` (low-confidence); never refuses",
        },
        "rates": "per set: false_refusal = refused_answerable; low_confidence_* and "
        "answered_* are shares of the answerable or unanswerable questions",
        "directions": chosen,
    }
    print(table(chosen))
    if args.compare:
        report["designs_tried"] = {}
        for design in ALTERNATIVES if with_reader else ():
            results = evaluate(design, sets)
            report["designs_tried"][design.name] = results
            print(f"\n{design.name}\n{table(results)}", flush=True)
    (REPORT if with_reader else REPORT_NO_READER).write_text(json.dumps(report, indent=2) + "\n")
    shipped = fit(shipped_design, all_calibration(sets))
    assert shipped.model is not None
    model = replace(
        shipped.model,
        note=(
            "fitted by evals/calibrate_refusal.py on all calibration data "
            "(evals/seed_calibration.jsonl and evals/clapnq_dev_full); refuses at most "
            f"{MAX_FALSE_REFUSAL:.0%} of their answerable questions; leave-one-corpus-out "
            f"numbers in evals/{(REPORT if with_reader else REPORT_NO_READER).name}"
        ),
    )
    if args.write:
        model.save(READER_MODEL_FILE if with_reader else MODEL_FILE)
        print("saved", model)


if __name__ == "__main__":
    main()
