"""`make bench`: ingest speed, ask latency at 1k/10k/100k chunks, serve start-up, HTTP load.

Parts, each against a target from the performance issue:

1. ingest throughput against the raw encoder on the same chunks, and re-ingest of the
   unchanged corpus (seed brief + ClapNQ passages, full encodes; ``bench_ingest.py``);
2. for each archive size, an index built by the real ingest path from generated briefs
   (``corpus.py``; chunk vectors pooled from real sentence vectors), then: BM25 index load
   time in a fresh engine, warm ``ask`` latency p50/p95 split into retrieval and answer,
   peak RSS;
3. ``briefqa serve`` on the largest index: time until it answers, its peak RSS, and 16
   concurrent HTTP clients asking ``/api/v1/ask`` for 60 s;
4. the load test (``load.py``): 50 chat sessions for 60 s on a fresh server, mixing
   questions, follow-ups, uploads and feedback, through the web chat and the REST API;
5. parsing cost of the seed bulletin as published (magazine PDF per page, DOCX, HTML,
   Markdown) and what each reader recovers of it (``bench_parse.py``).

Writes ``benchmarks/results/latest.json`` and ``latest.md``, and ``load.json``/``load.md``
(``quick``, ``load-quick`` with ``--quick``).
Usage: ``python benchmarks/bench.py [--quick] [--sizes 1000,10000,100000] [--no-load]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_encode import run_encode_benchmark
from bench_ingest import run_ingest_benchmark
from bench_parse import checks_table, run_checks, run_parse_benchmark
from bench_parse import markdown as parse_markdown
from corpus import PooledEmbedder, generate, questions
from load import load_test, write_results

from briefqa import BriefQA, Settings
from briefqa.embeddings import SentenceTransformerEmbedder, embedder_from_settings
from briefqa.evaluation import percentile  # the definition the evals use

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_index(data_dir: Path, work: Path, chunks: int, pooled: PooledEmbedder) -> dict[str, Any]:
    corpus = work / f"corpus-{chunks}"
    briefs = generate(corpus, chunks)
    started = time.perf_counter()
    with BriefQA(data_dir, settings=Settings(), embedder=pooled) as qa:
        report = qa.ingest([corpus])
    shutil.rmtree(corpus)
    return {
        "briefs": briefs,
        "chunks": report.chunks,
        "build_s": round(time.perf_counter() - started, 1),
    }


def bench_latency(
    data_dir: Path, real: SentenceTransformerEmbedder, asked: list[str]
) -> dict[str, Any]:
    with BriefQA(data_dir, settings=Settings(), embedder=real) as qa:
        started = time.perf_counter()
        qa.warm_up()  # the first engine on a new index builds BM25 and saves it
        bm25_build = time.perf_counter() - started
    with BriefQA(data_dir, settings=Settings(), embedder=real) as qa:
        started = time.perf_counter()
        qa.warm_up()  # later ones (restarts, other workers) load it
        bm25_load = time.perf_counter() - started
        for question in asked[:5]:
            qa.ask(question)  # warm caches and kernels
        retrieval, answer, total, refused = [], [], [], 0
        for question in asked:
            result = qa.ask(question)
            t = result.timings
            retrieval.append(
                t.get("condense_ms", 0)
                + t.get("route_ms", 0)
                + t.get("embed_ms", 0)
                + t.get("retrieve_ms", 0)
            )
            answer.append(t.get("gate_ms", 0) + t.get("answer_ms", 0) + t.get("verify_ms", 0))
            total.append(t["total_ms"])
            refused += result.refused
    return {
        "questions": len(asked),
        "refused": refused,
        "bm25_build_s": round(bm25_build, 3),
        "bm25_load_s": round(bm25_load, 3),
        "ask_p50_ms": round(percentile(total, 50), 1),
        "ask_p95_ms": round(percentile(total, 95), 1),
        "retrieval_p50_ms": round(percentile(retrieval, 50), 1),
        "retrieval_p95_ms": round(percentile(retrieval, 95), 1),
        "answer_p50_ms": round(percentile(answer, 50), 1),
        "answer_p95_ms": round(percentile(answer, 95), 1),
        "peak_rss_mb": round(rss_mb(), 1),
    }


def bench_seed(work: Path, real: SentenceTransformerEmbedder) -> dict[str, Any]:
    """Warm ``ask`` latency on the seed corpus, for the question sets staff ask there: the
    factoid set (searched, gated, extracted) and the whole-brief set (routed)."""
    sets = {
        name: [
            json.loads(line)["question"]
            for line in (ROOT / "evals" / f"{name}.jsonl").read_text().splitlines()
        ]
        for name in ("seed_brief", "whole_brief")
    }
    out: dict[str, Any] = {}
    with BriefQA(work / "data-seed", settings=Settings(), embedder=real) as qa:
        qa.ingest([ROOT / "corpus"])
        qa.warm_up()
        for question in sets["seed_brief"][:5]:
            qa.ask(question)
        everything: list[float] = []
        for name, asked in sets.items():
            total = [qa.ask(question).timings["total_ms"] for question in asked]
            everything += total
            out[name] = {
                "questions": len(asked),
                "ask_p50_ms": round(percentile(total, 50), 1),
                "ask_p95_ms": round(percentile(total, 95), 1),
            }
        out["ask_p50_ms"] = round(percentile(everything, 50), 1)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, question: str, timeout: float = 30) -> tuple[int, float]:
    body = json.dumps({"question": question})
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api/v1/ask", body, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        conn.close()


def bench_serve(data_dir: Path, asked: list[str], clients: int, seconds: float) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    env.update(BRIEFQA_DATA_DIR=str(data_dir), BRIEFQA_CORPUS_DIR=str(data_dir / "none"))
    # The default backend, as a user runs it; its one-time ONNX export (which imports
    # torch) is made here so that the ready time and RSS are those of every later start.
    settings = Settings(data_dir=data_dir)
    embedder_from_settings(settings)
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/v1/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if proc.poll() is not None:
                    log = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                    raise RuntimeError(f"briefqa serve did not start:\n{log}") from None
                time.sleep(0.1)
        ready = time.perf_counter() - started

        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        stop = time.perf_counter() + seconds

        def client(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < stop:
                try:
                    status, took = _post(port, rng.choice(asked))
                    with lock:
                        latencies.append(took)
                        if status != 200:
                            errors.append(str(status))
                except OSError as exc:
                    with lock:
                        errors.append(type(exc).__name__)

        load_started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - load_started
        with open(f"/proc/{proc.pid}/status") as status_file:
            hwm = next(line for line in status_file if line.startswith("VmHWM"))
        serve_rss = int(hwm.split()[1]) / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "backend": settings.embedding_backend,
        "ready_s": round(ready, 2),
        "serve_peak_rss_mb": round(serve_rss, 1),
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1k chunks, 15 s of load, 20 s load test: < 4 min"
    )
    parser.add_argument("--sizes", help="comma-separated chunk counts (default 1000,10000,100000)")
    parser.add_argument("--questions", type=int, default=None, help="questions per size")
    parser.add_argument("--name", help="results file name (default: latest, or quick)")
    parser.add_argument("--no-load", action="store_true", help="skip the 50-session load test")
    args = parser.parse_args()
    sizes = [
        int(s) for s in (args.sizes or ("1000" if args.quick else "1000,10000,100000")).split(",")
    ]
    asked = questions(args.questions or (40 if args.quick else 200))
    load_seconds = 15.0 if args.quick else 60.0

    result: dict[str, Any] = {
        "benchmark": "briefqa",
        "mode": "quick" if args.quick else "full",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    print("ingest against the raw encoder …", flush=True)
    result["ingest"] = run_ingest_benchmark(limit=50 if args.quick else None)
    print("encoding questions with both embedding backends …", flush=True)
    result["encode"] = run_encode_benchmark()
    print("parsing the seed bulletin as published …", flush=True)
    result["parse"] = run_parse_benchmark(rounds=3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="briefqa-checks-") as tmp:
        result["parse_checks"] = run_checks(Path(tmp))
    real = SentenceTransformerEmbedder()
    pooled = PooledEmbedder(real)
    result["sizes"] = {}
    with tempfile.TemporaryDirectory(prefix="briefqa-bench-") as tmp:
        work = Path(tmp)
        print("seed corpus: asking both question sets …", flush=True)
        result["seed"] = bench_seed(work, real)
        for size in sizes:
            data_dir = work / f"data-{size}"
            print(f"{size} chunks: building …", flush=True)
            built = build_index(data_dir, work, size, pooled)
            print(f"{size} chunks: asking {len(asked)} questions …", flush=True)
            result["sizes"][str(size)] = {**built, **bench_latency(data_dir, real, asked)}
            if size != max(sizes):
                shutil.rmtree(data_dir)
        print(f"serve on {max(sizes)} chunks, 16 clients for {load_seconds:.0f} s …", flush=True)
        result["serve"] = {
            "chunks": max(sizes),
            **bench_serve(work / f"data-{max(sizes)}", asked, 16, load_seconds),
        }
    result["targets"] = targets(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.name or ("quick" if args.quick else "latest")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)
    if not args.no_load:
        seconds = 20.0 if args.quick else 60.0
        print(f"\nload: 50 sessions for {seconds:.0f} s on a fresh server …", flush=True)
        report = write_results(load_test(50, seconds), "load-quick" if args.quick else "load")
        print(report.read_text())


def targets(r: dict[str, Any]) -> dict[str, bool | None]:
    sizes = r["sizes"]

    def at(size: str, key: str) -> float | None:
        return sizes[size][key] if size in sizes else None

    p50_10k, p95_100k = at("10000", "ask_p50_ms"), at("100000", "ask_p95_ms")
    serve = r["serve"]
    return {
        "seed corpus ask p50 <= 60 ms": r["seed"]["ask_p50_ms"] <= 60,
        "ingest/raw >= 0.9": r["ingest"]["ingest_to_raw_ratio"] >= 0.9,
        "re-ingest <= 2 %": r["ingest"]["reingest_share"] <= 0.02,
        "ask p50 <= 50 ms at 10k": None if p50_10k is None else p50_10k <= 50,
        "ask p95 <= 150 ms at 100k": None if p95_100k is None else p95_100k <= 150,
        "16 clients p95 <= 1 s, 0 errors": serve["p95_ms"] is not None
        and serve["p95_ms"] <= 1000
        and serve["errors"] == 0,
        "serve ready <= 10 s": serve["ready_s"] <= 10,
        "RSS <= 1.5 GB at 100k": None
        if "100000" not in sizes
        else serve["serve_peak_rss_mb"] <= 1536,
    }


def markdown(r: dict[str, Any]) -> str:
    i, s, e = r["ingest"], r["serve"], r["encode"]
    lines = [
        f"# briefqa benchmark ({r['mode']}, {r['when']}, {r['machine']})",
        "",
        "| metric | value |",
        "|---|---|",
        f"| ingest corpus | {i['briefs']} briefs, {i['chunks']} chunks |",
        f"| raw encoder ({i['backend']}) | {i['raw_encode_chunks_per_s']} chunks/s |",
        f"| ingest | {i['ingest_chunks_per_s']} chunks/s = {i['ingest_to_raw_ratio']:.3f} × raw |",
        f"| re-ingest unchanged | {i['reingest_seconds']} s = {i['reingest_share']:.2%} of first |",
        f"| encode a question, p50 | onnx {e['onnx']['p50_ms']} ms, torch "
        f"{e['torch']['p50_ms']} ms ({e['questions']} questions, warm) |",
        "",
        "| chunks | build | BM25 build / load | ask p50 / p95 | retrieval p50 / p95 "
        "| answer p50 / p95 | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, v in r["sizes"].items():
        lines.append(
            f"| {int(size):,} | {v['build_s']} s | {v.get('bm25_build_s', '–')} / "
            f"{v['bm25_load_s']} s | "
            f"{v['ask_p50_ms']} / {v['ask_p95_ms']} ms | {v['retrieval_p50_ms']} / "
            f"{v['retrieval_p95_ms']} ms | {v['answer_p50_ms']} / {v['answer_p95_ms']} ms | "
            f"{v['peak_rss_mb']} MB |"
        )
    seed = r["seed"]
    lines += [
        "",
        f"Seed corpus, warm: factoid set p50 {seed['seed_brief']['ask_p50_ms']} / p95 "
        f"{seed['seed_brief']['ask_p95_ms']} ms, whole-brief set p50 "
        f"{seed['whole_brief']['ask_p50_ms']} / p95 {seed['whole_brief']['ask_p95_ms']} ms, "
        f"both {seed['ask_p50_ms']} ms p50.",
        "",
        f"`briefqa serve` ({s['backend']} embedder) on {s['chunks']:,} chunks: ready in "
        f"{s['ready_s']} s, peak RSS "
        f"{s['serve_peak_rss_mb']} MB; {s['clients']} clients for {s['seconds']} s: "
        f"{s['requests_per_s']} requests/s, p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
        f"{s['errors']} errors.",
        "",
        "Parsing the seed bulletin as published:",
        "",
        parse_markdown(r["parse"]),
        "",
        checks_table(r["parse_checks"]),
        "",
        "| target | met |",
        "|---|---|",
    ]
    for name, met in r["targets"].items():
        lines.append(
            f"| {name} | {'not measured' if met is None else 'met' if met else 'NOT met'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
