"""Workers on several hosts, measured on one: `briefqa serve` over PostgreSQL and a Chroma
server, one worker and two, beside the single process on its own data dir.

One generated archive of about 10k chunks is indexed twice: into a data dir of its own
(SQLite and Chroma's files: today's single process) and into PostgreSQL with a
`chroma run` server (``briefqa.testing.postgres_cluster`` and Chroma on this machine).
Then 16 HTTP clients ask ``POST /api/v1/ask`` for ``--seconds`` each time:

- **single process**: one `briefqa serve` on the data dir;
- **one worker, servers**: one `briefqa serve` with ``BRIEFQA_DATABASE_URL`` and
  ``BRIEFQA_CHROMA_URL`` and a scratch data dir;
- **two workers, servers**: two of those, each with a scratch data dir of its own, the
  clients split between them (as a load balancer would, with no sticky sessions).

Reports requests/s, p50 and p95 of each row, and errors. On a machine with fewer cores
than workers need, two workers share the cores: the row says what the topology costs or
gains here, not on two hosts.

Usage: python benchmarks/bench_workers.py [--chunks 10000] [--seconds 30]
[--out benchmarks/results/workers]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import PooledEmbedder, generate, questions

from briefqa import BriefQA, Settings
from briefqa.database import close_pools
from briefqa.evaluation import percentile
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import postgres_cluster

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, question: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"question": question})
        conn.request("POST", "/api/v1/ask", body, {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextmanager
def process(command: list[str], env: dict[str, str], ready: Any, log: Path) -> Iterator[None]:
    """Run ``command`` until ``ready()`` is true; stop it afterwards."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if ready():
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:3]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def chroma_server(folder: Path) -> tuple[str, Any]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/v2/heartbeat")
        return conn.getresponse().status == 200

    command = [chroma, "run", "--path", str(folder / "chroma-server"), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    return url, process(command, dict(os.environ), ready, folder / "chroma.log")


def worker(data_dir: Path, servers: dict[str, str], log: Path) -> tuple[int, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    env.update(servers, BRIEFQA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1",
               BRIEFQA_CORPUS_DIR=str(data_dir / "none"))  # fmt: skip
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    return port, process(command, env, lambda: _post(port, "What is NATO?") == 200, log)


def load(ports: list[int], asked: list[str], seconds: float) -> dict[str, Any]:
    """``CLIENTS`` clients for ``seconds``, client n on ``ports[n % len(ports)]``."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        port = ports[n % len(ports)]
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                status = _post(port, rng.choice(asked))
            except OSError as exc:
                status, kind = 0, type(exc).__name__
            else:
                kind = str(status)
            with lock:
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors.append(kind)

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "workers": len(ports),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def bm25_costs(servers: Settings, work: Path, pooled: PooledEmbedder) -> dict[str, Any]:
    """What keeping a worker's BM25 index current costs with the index in the database: a
    new worker's first build (every chunk read from the Chroma server), the update after
    another worker adds a brief (only its chunks read), and the size of the saved arrays
    that the other design would move through the database at every change."""
    with BriefQA(work / "fresh", settings=servers, embedder=pooled) as fresh:
        started = time.perf_counter()
        fresh.retriever.refresh()
        built = time.perf_counter() - started
        saved = sum(f.stat().st_size for f in (work / "fresh" / "bm25").rglob("*") if f.is_file())
        with BriefQA(work / "other", settings=servers, embedder=pooled) as other:
            other.add("one-more.txt", b"One more brief\n\nThe port moved 12 ships in May.\n")
        started = time.perf_counter()
        fresh.retriever.refresh()
        updated = time.perf_counter() - started
    return {
        "first_build_s": round(built, 2),
        "update_after_one_brief_s": round(updated, 3),
        "saved_arrays_mb": round(saved / 1e6, 1),
    }


def run(chunks: int, seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "clients": CLIENTS,
        "seconds": seconds,
    }
    asked = questions(200)
    pooled = PooledEmbedder(SentenceTransformerEmbedder())
    with tempfile.TemporaryDirectory(prefix="briefqa-workers-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        corpus = work / "corpus"
        result["briefs"] = generate(corpus, chunks)
        url, _ = stack.enter_context(postgres_cluster())
        chroma_url, chroma = chroma_server(work)
        stack.enter_context(chroma)
        servers = {"BRIEFQA_DATABASE_URL": url, "BRIEFQA_CHROMA_URL": chroma_url}
        for name, settings in (
            ("files", Settings(database_url=None, chroma_url=None)),
            ("servers", Settings(database_url=url, chroma_url=chroma_url)),
        ):
            started = time.perf_counter()
            with BriefQA(work / f"build-{name}", settings=settings, embedder=pooled) as qa:
                result[f"chunks_{name}"] = qa.ingest([corpus]).chunks
            result[f"build_{name}_s"] = round(time.perf_counter() - started, 1)
        result["bm25"] = bm25_costs(Settings(database_url=url, chroma_url=chroma_url), work, pooled)
        close_pools()
        rows: dict[str, dict[str, Any]] = {}
        port, single = worker(work / "build-files", {}, work / "single.log")
        with single:
            rows["single process, files"] = load([port], asked, seconds)
        port, one = worker(work / "scratch-1", servers, work / "one.log")
        with one:
            rows["one worker, servers"] = load([port], asked, seconds)
        with ExitStack() as workers:
            ports = []
            for n in (1, 2):
                port, started_worker = worker(work / f"scratch-{n}", servers, work / f"w{n}.log")
                workers.enter_context(started_worker)
                ports.append(port)
            rows["two workers, servers"] = load(ports, asked, seconds)
    result["rows"] = rows
    return result


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# Workers over PostgreSQL and a Chroma server ({r['date']}, {r['machine']})",
        "",
        f"{r['chunks_files']} chunks ({r['briefs']} briefs); {r['clients']} HTTP clients "
        f"asking `POST /api/v1/ask` for {r['seconds']:g} s each row; PostgreSQL and "
        "`chroma run` on the same machine.",
        "",
        "| row | workers | requests/s | p50 | p95 | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["rows"].items():
        lines.append(
            f"| {name} | {row['workers']} | {row['requests_per_s']:.1f} | {row['p50_ms']:.0f} ms"
            f" | {row['p95_ms']:.0f} ms | {row['errors']} |"
        )
    bm25 = r["bm25"]
    lines += [
        "",
        f"BM25 with the index in the database: a new worker builds it from Chroma in "
        f"{bm25['first_build_s']:.1f} s; after another worker adds a brief, its update takes "
        f"{bm25['update_after_one_brief_s'] * 1000:.0f} ms (the generation counter is all the "
        f"database holds for it); the saved arrays are {bm25['saved_arrays_mb']:.1f} MB, which "
        "keeping them in the database would move at every change.",
    ]
    single = r["rows"]["single process, files"]
    two = r["rows"]["two workers, servers"]
    lines += [
        "",
        f"Two workers: {two['requests_per_s'] / single['requests_per_s']:.2f} × the single "
        f"process's requests/s, p95 {two['p95_ms'] / single['p95_ms']:.2f} × its p95.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "workers"))
    args = parser.parse_args()
    result = run(args.chunks, args.seconds)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    sys.stdout.write(markdown(result))


if __name__ == "__main__":
    main()
