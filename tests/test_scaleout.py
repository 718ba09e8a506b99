"""Scale-out: several `briefqa serve` workers on one Chroma server and one data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from briefqa import BriefQA, ConfigError, Settings
from briefqa.index.embeddings import SentenceTransformerEmbedder

from .conftest import SEED, free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]

ARCTIC = (
    "Arctic Shipping Routes Open Up\n\n"
    "The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record year.\n"
)


def _request(url: str, method: str = "GET", body: Any = None, files: Any = None) -> Any:
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"content-type": "application/json"}
    if files is not None:
        name, content = files
        boundary = "briefqa-test-boundary"
        data = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _request(f"{url}/api/v1/healthz")
            return
        except (OSError, urllib.error.URLError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


@contextmanager
def _two_workers(tmp_path: Path, servers: dict[str, str], *, shared: bool) -> Iterator[list[str]]:
    """Two `briefqa serve` workers started at once on an empty index (one ingests the
    corpus, the other waits), with one data dir between them or one each (``shared``);
    their URLs. Stopped afterwards."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    env.update(servers, BRIEFQA_CORPUS_DIR=str(corpus), HF_HUB_OFFLINE="1")
    workers: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for name in ("a", "b"):
            port, log = free_port(), tmp_path / f"worker-{name}.log"
            command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port)]
            here = {**env, "BRIEFQA_DATA_DIR": str(tmp_path / ("shared" if shared else name)),
                    "GRADIO_TEMP_DIR": str(tmp_path / f"gradio-{name}")}  # fmt: skip
            with open(log, "wb") as out:
                proc = subprocess.Popen(command, env=here, stdout=out, stderr=subprocess.STDOUT)
            workers.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in workers:
            _wait(url, proc, log)
        yield [url for url, _, _ in workers]
    finally:
        for _, proc, _ in workers:
            proc.terminate()
        for _, proc, _ in workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_two_workers_stay_consistent(chroma_server: str, tmp_path: Path) -> None:
    with _two_workers(tmp_path, {"BRIEFQA_CHROMA_URL": chroma_server}, shared=True) as (a, b):
        assert [len(_request(f"{u}/api/v1/documents")) for u in (a, b)] == [1, 1]

        added = _request(f"{a}/api/v1/documents", "POST", files=("arctic.txt", ARCTIC.encode()))
        doc_id = added["results"][0]["brief"]["doc_id"]
        assert [len(_request(f"{u}/api/v1/documents")) for u in (a, b)] == [2, 2]

        question = {"question": "How much cargo did the Northern Sea Route carry in 2023?"}
        answer = _request(f"{b}/api/v1/ask", "POST", body=question)
        assert "36 million tonnes" in answer["answer"]
        cited = [s for s in answer["sources"] if s["doc_id"] == doc_id]
        assert cited and cited[0]["lexical"] is not None, "worker b's BM25 side has the brief"

        _request(f"{b}/api/v1/documents/{doc_id}", "DELETE")
        assert [len(_request(f"{u}/api/v1/documents")) for u in (a, b)] == [1, 1]
        again = _request(f"{a}/api/v1/ask", "POST", body=question)
        assert all(s["doc_id"] != doc_id for s in again["sources"] + again["nearest"])


def test_two_hosts_share_one_database_and_one_chroma(
    chroma_server: str, postgres_url: str, tmp_path: Path
) -> None:
    """Two `briefqa serve` workers with data dirs of their own (no file shared, as on two
    hosts) behind one PostgreSQL and one `chroma run`."""
    servers = {"BRIEFQA_CHROMA_URL": chroma_server, "BRIEFQA_DATABASE_URL": postgres_url}
    with _two_workers(tmp_path, servers, shared=False) as (a, b):
        assert [len(_request(f"{u}/api/v1/documents")) for u in (a, b)] == [1, 1]

        added = _request(f"{a}/api/v1/documents", "POST", files=("arctic.txt", ARCTIC.encode()))
        doc_id = added["results"][0]["brief"]["doc_id"]
        question = {"question": "How much cargo did the Northern Sea Route carry in 2023?"}
        answer = _request(f"{b}/api/v1/ask", "POST", body={**question, "conversation_id": "new"})
        assert "36 million tonnes" in answer["answer"]
        cited = [s for s in answer["sources"] if s["doc_id"] == doc_id]
        assert cited and cited[0]["lexical"] is not None, "worker b's BM25 side has the brief"

        # A conversation begun on b is continued on a.
        follow = {"question": "Which year was that?", "conversation_id": answer["conversation_id"]}
        _request(f"{a}/api/v1/ask", "POST", body=follow)
        kept = _request(f"{b}/api/v1/conversations/{answer['conversation_id']}")
        assert [t["question"] for t in kept["turns"]] == [question["question"], follow["question"]]

        _request(f"{b}/api/v1/documents/{doc_id}", "DELETE")
        assert [len(_request(f"{u}/api/v1/documents")) for u in (a, b)] == [1, 1]

        # Eight uploads at once, split across both workers: every brief once.
        def upload(i: int) -> Any:
            text = f"Port report {i}\n\nThe harbour of Port {i} handled {i + 3} ships.\n"
            url = (a, b)[i % 2]
            return _request(
                f"{url}/api/v1/documents", "POST", files=(f"port-{i}.txt", text.encode())
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(upload, range(8)))
        assert all(r["results"][0]["ok"] for r in results), results
        titles = [d["title"] for d in _request(f"{a}/api/v1/documents")]
        assert sorted(t for t in titles if t.startswith("Port")) == sorted(
            f"Port report {i}" for i in range(8)
        )
        assert len(titles) == 9 == len(_request(f"{b}/api/v1/documents"))


def test_a_second_data_dir_cannot_take_over_the_collection(
    chroma_server: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(chroma_url=chroma_server)
    with BriefQA(tmp_path / "one", settings=settings, embedder=embedder) as first:
        first.ingest([SEED])
    # An empty data dir is refused too: it would answer from chunks it cannot list.
    empty = BriefQA(tmp_path / "empty", settings=settings, embedder=embedder)
    with empty, pytest.raises(ConfigError, match="another briefqa index"):
        empty.ask("Which country opposed a NATO liaison office in Tokyo?")
    with BriefQA(tmp_path / "two", settings=settings, embedder=embedder) as second:
        with pytest.raises(ConfigError, match="share one BRIEFQA_DATA_DIR"):
            second.ingest([SEED])
        with pytest.raises(ConfigError, match="another briefqa index"):
            second.ask("Which country opposed a NATO liaison office in Tokyo?")
    # Another collection on the same server is fine.
    other = settings.with_overrides(collection="other-briefs")
    with BriefQA(tmp_path / "three", settings=other, embedder=embedder) as third:
        assert third.ingest([SEED]).added == 1
