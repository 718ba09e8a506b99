"""Fit the refusal model (src/briefqa/refusal.json) on held-out calibration questions.

Questions come from sets with gold answerability. ClapNQ dev (300 answerable, 50
unanswerable, over its 347 Wikipedia passages) is split in half by a hash of the
question id, stratified by answerability: only the calibration half is used for
fitting. For the seed brief, a separate calibration set (seed_calibration.jsonl) is used
for fitting and the test set (seed_brief.jsonl) never is. The model and its threshold are
fitted on calibration rows only; the numbers reported for held-out rows are the honest
ones.

Usage: python evals/calibrate_refusal.py [--write]   (without --write: report only)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from briefqa import BriefQA, Settings
from briefqa.refusal import FEATURES, RefusalModel

EVALS = Path(__file__).resolve().parent
ROOT = EVALS.parent
MAX_FALSE_REFUSAL = 0.05  # on the calibration half
# Candidates for the answer-kind rule's share (RefusalModel.kind_coverage).
KIND_COVERAGES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def calibration_mask(rows: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    """Half of each class, chosen by a hash of the question id (stable across runs)."""
    mask = np.zeros(len(rows), dtype=bool)
    for unanswerable in (False, True):
        members = [i for i, r in enumerate(rows) if r["unanswerable"] == unanswerable]
        members.sort(key=lambda i: hashlib.sha256(str(rows[i]["id"]).encode()).hexdigest())
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
    for line in (EVALS / "clapnq_dev" / "docs.jsonl").open(encoding="utf-8"):
        doc = json.loads(line)
        name = doc["doc_id"].replace("#", "_").replace("/", "_")
        (folder / f"{name}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")


def features(qa: BriefQA, rows: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    """One row per question: the model's features, then the answer-kind share."""
    out = []
    for row in rows:
        hits = qa.retrieve(row["question"], k=qa.settings.top_k)
        evidence = qa.answerer.evidence(row["question"], hits)
        out.append([*evidence.vector(), evidence.kind_share])
    return np.array(out)


def rates(p: np.ndarray[Any, Any], y: np.ndarray[Any, Any], threshold: float) -> dict[str, float]:
    refused = p < threshold
    unanswerable = y == 0
    return {
        "refused_unanswerable": round(float(refused[unanswerable].mean()), 3)
        if unanswerable.any()
        else float("nan"),
        "false_refusal": round(float(refused[~unanswerable].mean()), 3),
        "answerable": int((~unanswerable).sum()),
        "unanswerable": int(unanswerable.sum()),
    }


def probabilities(model: RefusalModel, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The model's probabilities for feature rows (the last column: the kind share)."""
    return np.array(
        [model.probability_of(row[:-1]) if row[-1] >= model.kind_coverage else 0.0 for row in x]
    )


def fit(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], kind_coverage: float
) -> tuple[RefusalModel, float]:
    """Fit the model with the answer-kind rule at ``kind_coverage``; return it and the
    share of calibration unanswerables it refuses."""
    from sklearn.linear_model import LogisticRegression

    # The answer-kind rule refuses on its own; the model learns from the rest.
    passed = x[:, -1] >= kind_coverage
    regression = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(
        x[passed, :-1], y[passed]
    )
    p = np.where(passed, regression.predict_proba(x[:, :-1])[:, 1], 0.0)
    # The highest threshold (most refusals) that keeps false refusals on the
    # calibration rows under the limit.
    candidates = sorted(set(np.round(p, 4)))
    threshold = max(
        (t for t in candidates if rates(p, y, t)["false_refusal"] <= MAX_FALSE_REFUSAL),
        default=0.5,
    )
    model = RefusalModel(
        weights=tuple(float(w) for w in regression.coef_[0]),
        bias=float(regression.intercept_[0]),
        threshold=float(threshold),
        note=(
            "fitted by evals/calibrate_refusal.py on the calibration half of ClapNQ dev and "
            "evals/seed_calibration.jsonl; threshold keeps calibration false refusals <= 5%"
        ),
        kind_coverage=kind_coverage,
    )
    return model, rates(probabilities(model, x), y, model.threshold)["refused_unanswerable"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="save the fitted model")
    args = parser.parse_args()

    sets: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="briefqa-calibrate-") as tmp:
        corpus = Path(tmp) / "clapnq"
        write_clapnq_corpus(corpus)
        # (name, corpus, questions, which rows calibrate: "half", "all" or "none")
        plan = (
            ("clapnq", corpus, EVALS / "clapnq_dev" / "questions.jsonl", "half"),
            ("seed_calibration", ROOT / "corpus", EVALS / "seed_calibration.jsonl", "all"),
            ("seed", ROOT / "corpus", EVALS / "seed_brief.jsonl", "none"),
        )
        for name, docs, questions, use in plan:
            with BriefQA(Path(tmp) / f"index-{docs.name}", settings=Settings()) as qa:
                qa.ingest([docs])
                rows = load_rows(questions)
                x = features(qa, rows)
            y = np.array([0 if r["unanswerable"] else 1 for r in rows])
            if use == "half":
                calibration = calibration_mask(rows)
            else:
                calibration = np.full(len(rows), use == "all")
            sets[name] = (x, y, calibration)
            print(f"{name}: {len(rows)} questions, features done", flush=True)

    x_cal = np.vstack([x[c] for x, _, c in sets.values()])
    y_cal = np.concatenate([y[c] for _, y, c in sets.values()])
    # For each candidate share of the answer-kind rule: fit, then take the highest
    # threshold that keeps calibration false refusals under the limit; keep the
    # candidate that refuses most calibration unanswerables (ties: the smaller share).
    best: tuple[float, RefusalModel] | None = None
    for kind_coverage in KIND_COVERAGES:
        model, refused = fit(x_cal, y_cal, kind_coverage)
        print(f"kind_coverage {kind_coverage}: calibration refused {refused:.3f}", flush=True)
        if best is None or refused > best[0]:
            best = (refused, model)
    assert best is not None
    model = best[1]
    threshold = model.threshold
    report: dict[str, Any] = {
        "features": list(FEATURES),
        "weights": dict(zip(FEATURES, model.weights, strict=True)),
        "threshold": model.threshold,
        "kind_coverage": model.kind_coverage,
    }
    for name, (x, y, calibration) in sets.items():
        p = probabilities(model, x)
        report[name] = {"all": rates(p, y, threshold)}
        if (~calibration).any():
            report[name]["held_out"] = rates(p[~calibration], y[~calibration], threshold)
        if calibration.any():
            report[name]["calibration"] = rates(p[calibration], y[calibration], threshold)
    print(json.dumps(report, indent=2))
    (EVALS / "refusal_calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.write:
        model.save()
        print("saved", model)


if __name__ == "__main__":
    main()
