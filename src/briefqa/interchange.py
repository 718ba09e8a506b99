"""An evaluation run in other tools' dataset formats, for evaluators with an LLM judge.

briefqa's own metrics stand on gold labels (no judge runs offline). RAGAS and DeepEval
judge faithfulness and relevance with a language model; given our questions, the
passages each answer was written from, our answers and the gold, they score the same run:

- ``ragas``: JSON lines of RAGAS's ``SingleTurnSample`` (``user_input``,
  ``retrieved_contexts``, ``response``, ``reference``, ``reference_contexts``), which
  ``ragas.EvaluationDataset.from_jsonl`` reads;
- ``deepeval``: a JSON list of DeepEval's ``LLMTestCase`` fields (``input``,
  ``actual_output``, ``expected_output``, ``retrieval_context``, ``context``), which
  ``EvaluationDataset.add_test_cases_from_json_file`` reads with those key names.

Both carry briefqa's citations and outcome beside the fields the tools read (RAGAS
keeps unknown keys out of its samples, DeepEval reads only the keys it is given).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: The formats :func:`export_run` writes, and the file name of each.
FORMATS = {"ragas": "ragas_dataset.jsonl", "deepeval": "deepeval_dataset.json"}


def export_run(rows: Sequence[Mapping[str, Any]], kind: str, folder: str | Path) -> Path:
    """Write one configuration's per-question rows (``EvalReport.per_question`` with
    their ``contexts``) as ``kind``'s dataset into ``folder``; returns the file.

    Raises:
        ConfigError: ``kind`` is not one of :data:`FORMATS`.
    """
    if kind not in FORMATS:
        raise ConfigError(f"--export {kind!r}: choose from {', '.join(FORMATS)}")
    path = Path(folder) / FORMATS[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = [_ragas(row) if kind == "ragas" else _deepeval(row) for row in rows]
    if kind == "ragas":
        text = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)
    else:
        text = json.dumps(samples, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _reference(row: Mapping[str, Any]) -> str:
    """The gold answer as one text; an unanswerable question's reference says so."""
    if row.get("unanswerable"):
        return "The briefs do not answer this question."
    return " / ".join(row.get("expected") or [])


def _ragas(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "user_input": row["question"],
        "retrieved_contexts": list(row.get("contexts") or []),
        "response": row.get("answer") or "",
        "reference": _reference(row),
        "reference_contexts": list(row.get("evidence") or []),
        "briefqa": _ours(row),
    }


def _deepeval(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "input": row["question"],
        "actual_output": row.get("answer") or "",
        "expected_output": _reference(row),
        "retrieval_context": list(row.get("contexts") or []),
        "context": list(row.get("evidence") or []),
        "additional_metadata": _ours(row),
    }


def _ours(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "outcome": row.get("outcome"),
        "citations": row.get("citations", []),
        "values": row.get("values", {}),
    }


#: The front door's name for :data:`FORMATS`.
EXPORT_FORMATS = FORMATS

__all__ = ["EXPORT_FORMATS", "FORMATS", "export_run"]
