"""Configurations side by side, and whether their differences are beyond noise.

An evaluator asks "does ``top_k`` 8 beat 5?" or "did last week's change break anything?".
:func:`run_evaluation <briefqa.evaluation.run_evaluation>` answers every question with
every :class:`Configuration` (from a TOML file of settings, or ``--vary key=a,b``) on one
index where their settings allow; this module says how far apart they are:

- :func:`compare`: over each question's own value of every metric that is a mean over
  questions (:func:`briefqa.evaluation.question_values`: a yes/no such as
  ``first_sentence_gold``, or a score such as ``mrr``), the difference between two
  configurations for each such metric, with a paired 95 % bootstrap interval (the same
  resampled questions for both), and for the yes/no metrics McNemar's exact p-value on
  the questions where they disagree;
- :func:`regressions` and :func:`significant_drops`: a run against a saved report, per
  question (what changed, both answers) and per metric (a drop beyond noise, naming the
  questions that got worse).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .jsonlines import plain
from .settings import Settings

#: Settings that change what is indexed: configurations that differ in one of them need
#: an index of their own; the others share one.
INDEX_KEYS = (
    "embedding_model",
    "embedding_backend",
    "chunk_tokens",
    "chunk_overlap_tokens",
    "parse_memory_mb",
    "parse_seconds",
    "parse_max_pages",
)

#: Metrics that are each question's yes or no, averaged: McNemar's test applies.
YES_NO = (
    "hit@1",
    "hit@3",
    "hit@5",
    "answer_contained",
    "first_sentence_gold",
    "citation_recall",
    "right_source",
    "reader_top1",
    "refused_unanswerable",
    "false_refusal",
)
#: Metrics that are a mean of each question's score.
SCORES = ("mrr", "ndcg@10", "token_f1", "latency_ms")
#: Where lower is better among the metrics compared here.
LOWER_IS_BETTER = frozenset({"false_refusal", "latency_ms"})
#: Short names for the per-question comparison (--against).
CHANGES = {
    "outcome": "outcome",
    "first_sentence_gold": "first sentence holds the gold",
    "citation_recall": "a citation holds the gold evidence",
    "hit@1": "gold evidence retrieved first",
}

#: What ``--vary reader=on`` means: the packaged reader.
_ALIASES = {"reader": {"on": "packaged"}}


@dataclass(frozen=True)
class Configuration:
    """A named set of settings overrides, answered side by side with the others."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        """``base`` with these overrides.

        Raises:
            ConfigError: an override names no setting or has an invalid value.
        """
        unknown = sorted(set(self.overrides) - set(Settings.model_fields))
        if unknown:
            raise ConfigError(f"configuration {self.name!r}: no such setting {unknown}")
        from pydantic import ValidationError

        try:
            return base.with_overrides(**self.overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(f"configuration {self.name!r}: {problems}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "overrides": {k: plain(v) for k, v in self.overrides.items()}}


def index_key(settings: Settings) -> tuple[Any, ...]:
    """Equal for settings that can answer from the same index."""
    return tuple(str(getattr(settings, key)) for key in INDEX_KEYS)


def load_configuration(path: str | Path) -> Configuration:
    """A configuration from a TOML file of settings (the keys of ``briefqa.toml``),
    named by the file's stem.

    Raises:
        ConfigError: the file cannot be read or is not TOML.
    """
    path = Path(path)
    try:
        overrides = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc}") from None
    return Configuration(path.stem, overrides)


def vary_configurations(specs: Sequence[str]) -> list[Configuration]:
    """Every combination of ``key=value1,value2`` specs, named by their values
    (``top_k=8 reader=off``); values stay strings for the settings to convert.

    Raises:
        ConfigError: a spec is not ``key=value[,value…]`` or repeats a key.
    """
    axes: list[tuple[str, list[str]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not options:
            raise ConfigError(f"--vary {spec!r}: write key=value1,value2 (e.g. top_k=5,8)")
        if any(key == k for k, _ in axes):
            raise ConfigError(f"--vary names {key!r} twice: give all its values in one")
        axes.append((key, options))
    configurations = []
    for picked in itertools.product(*(options for _, options in axes)):
        chosen = dict(zip((k for k, _ in axes), picked, strict=True))
        overrides = {k: _ALIASES.get(k, {}).get(v, v) for k, v in chosen.items()}
        name = " ".join(f"{k}={v}" for k, v in chosen.items())
        configurations.append(Configuration(name, overrides))
    return configurations


# ------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class Difference:
    """One metric, configuration B minus configuration A, over the same questions."""

    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    #: McNemar's exact two-sided p-value (yes/no metrics only).
    p: float | None
    #: Questions where A and B disagree (yes/no metrics: B yes, A no / A yes, B no).
    b_only: int = 0
    a_only: int = 0

    @property
    def verdict(self) -> str:
        """ "better", "worse" (B against A, beyond noise) or "within noise"."""
        beyond = (self.low > 0 or self.high < 0) and (self.p is None or self.p < 0.05)
        if not beyond:
            return "within noise"
        up = self.diff > 0
        return "worse" if up == (self.metric in LOWER_IS_BETTER) else "better"

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": round(self.a, 4),
            "b": round(self.b, 4),
            "diff": round(self.diff, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "p": None if self.p is None else round(self.p, 4),
            "b_only": self.b_only,
            "a_only": self.a_only,
            "verdict": self.verdict,
        }


def mcnemar(b: int, c: int) -> float:
    """McNemar's exact test: the two-sided binomial p-value of ``b`` against ``c``
    discordant pairs (1.0 when there are none)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def compare(
    a: Sequence[dict[str, float]],
    b: Sequence[dict[str, float]],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Difference]:
    """B against A, metric by metric, from the two configurations' :func:`question_values`
    of the same questions in the same order.

    The interval is the paired bootstrap's 2.5th to 97.5th percentile: ``resamples``
    draws of the questions with replacement, each metric recomputed on the same draw for
    both (a question counts where it counted in the run, as in the metric table).
    """
    if len(a) != len(b):
        raise ValueError(f"{len(a)} against {len(b)} questions: compare the same set")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(resamples, len(a))) if len(a) else None
    out: dict[str, Difference] = {}
    for metric in (*YES_NO, *SCORES):
        va = np.array([q.get(metric, np.nan) for q in a], dtype=float)
        vb = np.array([q.get(metric, np.nan) for q in b], dtype=float)
        if draws is None or np.isnan(va).all() or np.isnan(vb).all():
            continue
        if metric == "latency_ms":  # the median, as latency_p50_ms
            mean_a, mean_b = float(np.nanmedian(va)), float(np.nanmedian(vb))
            spread = _nanmedian(vb[draws]) - _nanmedian(va[draws])
        else:
            mean_a, mean_b = float(np.nanmean(va)), float(np.nanmean(vb))
            spread = _nanmean(vb[draws]) - _nanmean(va[draws])
        spread = spread[~np.isnan(spread)]
        low, high = np.percentile(spread, [2.5, 97.5]) if len(spread) else (np.nan, np.nan)
        p, b_only, a_only = None, 0, 0
        if metric in YES_NO:
            both = ~np.isnan(va) & ~np.isnan(vb)
            b_only = int(((vb == 1) & (va == 0) & both).sum())
            a_only = int(((va == 1) & (vb == 0) & both).sum())
            p = mcnemar(b_only, a_only)
        out[metric] = Difference(
            metric, mean_a, mean_b, mean_b - mean_a, float(low), float(high), p, b_only, a_only
        )
    return out


def _nanmean(rows: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(rows)).sum(axis=1)
    sums = np.nansum(rows, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _nanmedian(rows: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(rows), np.inf, rows)
    ordered = np.sort(filled, axis=1)
    counts = (~np.isnan(rows)).sum(axis=1)
    out = np.full(len(rows), np.nan)
    for i, n in enumerate(counts):
        if n:
            out[i] = float(np.median(ordered[i, :n]))
    return out


# ------------------------------------------------------- against a saved report

#: The order of the outcomes from best to worst, for answerable and unanswerable questions.
_OUTCOME_RANK = {
    False: {"answered": 0, "low_confidence": 1, "refused": 2},
    True: {"refused": 0, "low_confidence": 1, "answered": 2},
}


def regressions(
    saved: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each question (by id) whose outcome, first sentence, citations or first retrieved
    passage changed between a saved run's :func:`question_rows` and this run's: what
    changed, in which direction, and both rows; "worse" first."""
    before = {row["id"]: row for row in saved}
    changed = []
    for row in current:
        old = before.get(row["id"])
        if old is None:
            continue
        changes = []
        if old["outcome"] != row["outcome"] and None not in (old["outcome"], row["outcome"]):
            rank = _OUTCOME_RANK[bool(row["unanswerable"])]
            worse = rank[row["outcome"]] > rank[old["outcome"]]
            changes.append(("outcome", old["outcome"], row["outcome"], worse))
        for metric in ("first_sentence_gold", "citation_recall", "hit@1"):
            was, now = old["values"].get(metric), row["values"].get(metric)
            if was is not None and now is not None and was != now:
                changes.append((metric, bool(was), bool(now), now < was))
        if not changes:
            continue
        directions = {w for *_, w in changes}
        status = "mixed" if len(directions) == 2 else ("worse" if True in directions else "better")
        changed.append(
            {
                "id": row["id"],
                "question": row["question"],
                "status": status,
                "changes": [
                    {"what": CHANGES[m], "before": was, "after": now, "worse": w}
                    for m, was, now, w in changes
                ],
                "before": old,
                "after": row,
            }
        )
    order = {"worse": 0, "mixed": 1, "better": 2}
    return sorted(changed, key=lambda c: order[c["status"]])


def significant_drops(
    saved: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The yes/no metrics that got worse beyond noise (McNemar p < 0.05 on the questions
    of both runs), each with the questions that got worse."""
    before = {row["id"]: row["values"] for row in saved}
    pairs = [
        (before[row["id"]], row["values"], row["id"]) for row in current if row["id"] in before
    ]
    drops = []
    for metric in YES_NO:
        lower = metric in LOWER_IS_BETTER
        got_worse: list[str] = []
        got_better: list[str] = []
        for old, new, qid in pairs:
            was, now = old.get(metric), new.get(metric)
            if was is None or now is None or was == now:
                continue
            (got_worse if (now > was) == lower else got_better).append(qid)
        p = mcnemar(len(got_worse), len(got_better))
        if len(got_worse) > len(got_better) and p < 0.05:
            drops.append({"metric": metric, "p": round(p, 4), "worse": got_worse,
                          "better": got_better})  # fmt: skip
    return drops


__all__ = [
    "INDEX_KEYS",
    "YES_NO",
    "Configuration",
    "Difference",
    "compare",
    "index_key",
    "load_configuration",
    "mcnemar",
    "regressions",
    "significant_drops",
    "vary_configurations",
]
