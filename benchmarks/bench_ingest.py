"""Ingest benchmark: our ingest throughput against the raw encoder on the same chunks.

Builds a corpus of real text (the seed brief and the ClapNQ dev passages, one brief per
passage) in a temp dir, then measures in one run:

- raw encoder chunks/s on exactly the chunks ingest produces: the settings' backend
  (ONNX Runtime or sentence-transformers) and ``SentenceTransformer.encode`` itself;
- our ``BriefQA.ingest`` chunks/s (parse, chunk, embed, write to Chroma, manifest);
- re-ingest of the unchanged corpus as a share of the first ingest.

``bench.py`` (``make bench``) runs it and writes the results; alone it prints them.
Usage: ``python benchmarks/bench_ingest.py [--quick] [--docs N] [--backend onnx|torch]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from briefqa import BriefQA, Settings, load_brief
from briefqa.index.chunking import chunk_brief
from briefqa.index.embeddings import Embedder, embedder_from_settings

ROOT = Path(__file__).resolve().parent.parent


def build_corpus(folder: Path, limit: int | None) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seed.txt").write_bytes(
        (ROOT / "corpus" / "nato-indo-pacific-partners-116-2023-08-24.txt").read_bytes()
    )
    count = 1
    with open(ROOT / "evals" / "clapnq_dev" / "docs.jsonl", encoding="utf-8") as rows:
        for line in rows:
            if limit is not None and count >= limit:
                break
            doc = json.loads(line)
            name = doc["doc_id"].replace("#", "_").replace("/", "_")
            (folder / f"{name}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
            count += 1
    return count


def run_ingest_benchmark(limit: int | None = None, backend: str | None = None) -> dict[str, Any]:
    """Ingest ``limit`` briefs (all: None) against the raw encoder; the numbers as a dict."""
    with tempfile.TemporaryDirectory(prefix="briefqa-bench-") as tmp:
        # The one-time ONNX export (into the model cache) happens here, outside the timings.
        settings = Settings(data_dir=Path(tmp) / "data")
        if backend:
            settings = settings.with_overrides(embedding_backend=backend)
        embedder = embedder_from_settings(settings)
        corpus = Path(tmp) / "corpus"
        briefs = build_corpus(corpus, limit)

        # The exact chunks ingest will embed, for the raw encoder baseline.
        texts = []
        for path in sorted(corpus.iterdir()):
            brief = load_brief(path)
            chunks = chunk_brief(
                brief,
                embedder.count_tokens,
                max_tokens=embedder.max_tokens,
                target_tokens=settings.chunk_tokens,
                overlap_tokens=settings.chunk_overlap_tokens,
            )
            texts += [c.embedding_text for c in chunks]
        raw_seconds = _encode_seconds(embedder, texts)
        if settings.embedding_backend == "torch":
            torch_seconds = raw_seconds
        else:  # the yardstick: sentence-transformers' own encode of the same chunks
            torch_seconds = _encode_seconds(
                embedder_from_settings(settings.with_overrides(embedding_backend="torch")), texts
            )

        with BriefQA(Path(tmp) / "data", settings=settings, embedder=embedder) as qa:
            first = qa.ingest([corpus])
            second = qa.ingest([corpus])
    # ClapNQ holds a few passages twice (under two ids): copies of one brief are
    # embedded once, so ingest writes a little fewer chunks; speeds compare per chunk.
    assert 0.98 * len(texts) <= first.chunks <= len(texts), (first.chunks, len(texts))
    assert first.failed == 0 and second.chunks == 0

    raw_cps = len(texts) / raw_seconds
    ingest_cps = first.chunks / first.seconds
    return {
        "backend": settings.embedding_backend,
        "briefs": briefs,
        "chunks": len(texts),
        "chunks_ingested": first.chunks,
        "batch_size": settings.embedding_batch_size,
        "raw_encode_chunks_per_s": round(raw_cps, 1),
        "sentence_transformers_chunks_per_s": round(len(texts) / torch_seconds, 1),
        "ingest_chunks_per_s": round(ingest_cps, 1),
        "ingest_to_raw_ratio": round(ingest_cps / raw_cps, 3),
        "ingest_to_sentence_transformers": round(ingest_cps * torch_seconds / len(texts), 3),
        "ingest_seconds": round(first.seconds, 2),
        "reingest_seconds": round(second.seconds, 3),
        "reingest_share": round(second.seconds / first.seconds, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _encode_seconds(embedder: Embedder, texts: list[str]) -> float:
    embedder.embed(texts[:64])  # warm up kernels and allocator
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 briefs instead of all")
    parser.add_argument("--docs", type=int, default=None, help="number of briefs to use")
    parser.add_argument("--backend", choices=["onnx", "torch"], help="default: the settings'")
    args = parser.parse_args()
    result = run_ingest_benchmark(args.docs or (100 if args.quick else None), args.backend)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
