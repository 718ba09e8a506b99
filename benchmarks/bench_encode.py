"""Question-encode latency: the ONNX Runtime backend against sentence-transformers.

Encodes the same 200 ClapNQ dev questions one at a time (as a server does), after a
warm-up, with each backend, and reports p50/p95 per question and how long each backend
takes to load (imports aside). ``bench.py`` (``make bench``) runs it; alone it prints them.
Usage: ``python benchmarks/bench_encode.py [--questions N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from briefqa import Settings
from briefqa.index.embeddings import embedder_from_settings

ROOT = Path(__file__).resolve().parent.parent


def questions(limit: int) -> list[str]:
    with open(ROOT / "evals" / "clapnq_dev" / "questions.jsonl", encoding="utf-8") as rows:
        return [json.loads(line)["question"] for line, _ in zip(rows, range(limit), strict=False)]


def run_encode_benchmark(limit: int = 200) -> dict[str, Any]:
    """Per-question encode times of both backends on the same questions."""
    asked = questions(limit)
    result: dict[str, Any] = {"questions": len(asked)}
    with tempfile.TemporaryDirectory(prefix="briefqa-encode-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedder_from_settings(settings)  # the one-time ONNX export, outside the timings
        for backend in ("onnx", "torch"):
            started = time.perf_counter()
            embedder = embedder_from_settings(settings.with_overrides(embedding_backend=backend))
            load = time.perf_counter() - started
            for question in asked[:20]:
                embedder.embed([question])
            took = []
            for question in asked:
                started = time.perf_counter()
                embedder.embed([question])
                took.append(time.perf_counter() - started)
            took.sort()
            result[backend] = {
                "load_s": round(load, 2),  # imports excluded: the export loaded torch already
                "p50_ms": round(statistics.median(took) * 1000, 2),
                "p95_ms": round(took[int(0.95 * (len(took) - 1))] * 1000, 2),
            }
    result["onnx_to_torch_p50"] = round(result["onnx"]["p50_ms"] / result["torch"]["p50_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200, help="questions to encode")
    args = parser.parse_args()
    print(json.dumps(run_encode_benchmark(args.questions), indent=2))


if __name__ == "__main__":
    main()
