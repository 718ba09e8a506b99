"""Shared fixtures: hermetic data dirs, the real embedding model loaded once, the seed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from briefqa import BriefQA, Settings
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import postgres_cluster

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "nato-indo-pacific-partners-116-2023-08-24.txt"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported models (ONNX) for the whole run: exported once, never the user's cache."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    """Every test runs in its own folder, with its own data dir and no user config."""
    for key in list(os.environ):
        if key.startswith("BRIEFQA_"):
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("BRIEFQA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BRIEFQA_MODEL_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A copy of the seed brief that a test may change or delete."""
    folder = tmp_path / "briefs"
    folder.mkdir()
    return Path(shutil.copy(SEED, folder / SEED.name))


@pytest.fixture
def qa(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[BriefQA]:
    """An engine on the real model and a real persistent Chroma in a temp dir."""
    engine = BriefQA(data_dir=tmp_path / "data", settings=Settings(), embedder=embedder)
    yield engine
    engine.close()


def seed_questions(folder: Path, answerable: int = 8, unanswerable: int = 2) -> Path:
    """The first questions of evals/seed_brief.jsonl, answerable then not, as a set in
    ``folder``: a question set small enough for a test."""
    rows = [json.loads(line) for line in (ROOT / "evals" / "seed_brief.jsonl").open()]
    subset = [r for r in rows if not r["unanswerable"]][:answerable]
    subset += [r for r in rows if r["unanswerable"]][:unanswerable]
    path = folder / "seed_subset.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in subset))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    log_path: Path,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until ``ready_url`` answers; stop it afterwards."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(ready_url, timeout=2).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"{command[0]} did not start:\n{tail}") from None
                    time.sleep(0.25)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` server on 127.0.0.1, stopped after the test."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [chroma, "run", "--path", str(tmp_path / "chroma-server"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with running_server(command, f"{url}/api/v2/heartbeat", tmp_path / "chroma.log", 60):
        yield url


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One PostgreSQL cluster for the whole run (see :func:`postgres_cluster`)."""
    try:
        cluster = postgres_cluster()
        url, _ = cluster.__enter__()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (see .ci/run)")
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty database of its own for one test, on the shared cluster."""
    import psycopg

    from briefqa.database import close_pools

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    close_pools()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]
