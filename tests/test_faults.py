"""A full disk at each write point: a briefqa error naming the cause with advice that
works (followed as given), no traceback, nothing lost, the index consistent again.

SQLite's own "database or disk is full" comes from the real engine (its page limit set to
the file's size); Chroma, numpy and file writes get an injected ``OSError(ENOSPC)``.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from briefqa import BriefQA, Settings
from briefqa.cli import main
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.serve.server import create_app

from .conftest import free_port, running_server

QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
ARCTIC = (
    "# Arctic Shipping Routes Open Up\n\n"
    "The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record year.\n\n"
    # Long enough that its rows need new pages in every file (a short brief fits in
    # the free space of pages the files already have).
    + "\n\n".join(
        f"## Port {n}\n\nPort {n} handled {n * 7} icebreaker escorts and {n * 130} "
        f"container moves in season {2000 + n}, while its berth {n} was dredged to "
        f"{n + 9} metres for vessels of class {n % 5}."
        for n in range(1, 150)
    )
    + "\n"
)


def _enospc(*args: object, **kwargs: object) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


def _sqlite_full(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection ``module`` opens can no longer grow its file."""
    import briefqa.index.databases

    real = briefqa.index.databases.open_wal

    def opened(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")
        return db

    monkeypatch.setattr(f"briefqa.index.{module}.open_wal", opened)


def _chroma_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.api.models.Collection import Collection

    monkeypatch.setattr(Collection, "upsert", _enospc)


def _bm25_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("briefqa.index.bm25.np.save", _enospc)


FULL: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "manifest": lambda mp: _sqlite_full("manifest", mp),
    "sentence vectors": lambda mp: _sqlite_full("sentences", mp),
    "Chroma": _chroma_full,
    "saved BM25 index": _bm25_full,
}


@contextmanager
def _full(point: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        FULL[point](monkeypatch)
        yield


def _ask(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["ask", QUESTION, "--json"]) == 0
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    return {k: answer[k] for k in ("answer", "citations", "outcome")}


@pytest.mark.parametrize("point", list(FULL))
def test_a_full_disk_while_ingesting(
    point: str,
    tmp_path: Path,
    seed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BRIEFQA_DATA_DIR", str(tmp_path / "data"))
    assert main(["ingest", str(seed)]) == 0
    capsys.readouterr()
    before = _ask(capsys)
    new = tmp_path / "new" / "arctic.md"
    new.parent.mkdir()
    new.write_text(ARCTIC)

    with _full(point):
        code = main(["ingest", str(new)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if point == "saved BM25 index":
        # Derived and rebuilt from the manifest when missing: the ingest itself stands.
        assert code == 0 and "added 1" in out
    else:
        assert code == 4, err
        assert "is full" in err and "free some space" in err
        # Space freed: the advice, followed as given.
        assert "`briefqa check`" in err
        if main(["check"]) != 0:
            assert "--repair" in capsys.readouterr().err
            assert main(["check", "--repair"]) == 0
        assert main(["ingest", str(new)]) == 0
    assert main(["check"]) == 0
    capsys.readouterr()
    assert _ask(capsys) == before, "nothing the index held is lost"
    assert main(["ask", "How much cargo did the Northern Sea Route carry in 2023?"]) == 0
    assert "36 million tonnes" in capsys.readouterr().out


@pytest.fixture
def client(
    tmp_path: Path, seed: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[tuple[BriefQA, TestClient]]:
    qa = BriefQA(tmp_path / "data", embedder=embedder)
    qa.ingest([seed])
    with TestClient(create_app(qa, ui=False)) as test_client:
        yield qa, test_client
    qa.close()


def test_a_full_disk_on_upload_and_feedback_is_507_and_keeps_nothing_half_written(
    client: tuple[BriefQA, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    qa, http = client
    uploads = qa.data_dir / "uploads"
    with monkeypatch.context() as full:
        full.setattr(Path, "write_bytes", _enospc)
        reply = http.post(
            "/api/v1/documents", files={"files": ("arctic.md", ARCTIC.encode(), "text/markdown")}
        )
    assert reply.status_code == 507, reply.text
    assert "is full" in reply.text and "Traceback" not in reply.text
    assert not [p for p in uploads.rglob("*") if p.is_file()], "nothing kept in uploads/"
    assert len(http.get("/api/v1/documents").json()) == 1

    answer = http.post("/api/v1/ask", json={"question": QUESTION}).json()
    feedback = {"question": QUESTION, "answer": answer, "rating": "dislike"}
    assert http.post("/api/v1/feedback", json=feedback).status_code == 201
    log = qa.data_dir / "feedback.jsonl"
    kept = log.read_bytes()

    class HalfThenFull:
        """The feedback file on a disk that fills up half-way through the line."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.file = open(*args, **kwargs)  # noqa: SIM115 (closed by __exit__)

        def __enter__(self) -> HalfThenFull:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def fileno(self) -> int:
            return int(self.file.fileno())

        def write(self, data: Any) -> int:
            if len(data) > 1:
                return int(self.file.write(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as full:
        full.setattr("briefqa.jsonlines.open", HalfThenFull, raising=False)
        reply = http.post("/api/v1/feedback", json=feedback)
    assert reply.status_code == 507 and "is full" in reply.text, reply.text
    assert log.read_bytes() == kept, "no half line left in feedback.jsonl"
    assert http.post("/api/v1/feedback", json=feedback).status_code == 201
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["rating"] == "dislike" for line in lines)

    # The upload, once space is freed.
    reply = http.post(
        "/api/v1/documents", files={"files": ("arctic.md", ARCTIC.encode(), "text/markdown")}
    )
    assert reply.status_code == 201 and qa.check().consistent


@pytest.mark.server
def test_chroma_killed_and_restarted(
    tmp_path: Path, seed: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """The Chroma server dies under a running briefqa: every request is a 503 naming
    it (no traceback), a failed upload keeps nothing, healthz says what is down; once
    Chroma is back, everything answers as before without a restart."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [chroma, "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    heartbeat = f"{url}/api/v2/heartbeat"
    qa = BriefQA(tmp_path / "data", settings=Settings(chroma_url=url), embedder=embedder)
    with running_server(command, heartbeat, tmp_path / "chroma-1.log") as server:
        qa.ingest([seed])
        http = TestClient(create_app(qa, ui=False))
        before = http.post("/api/v1/ask", json={"question": QUESTION}).json()
        server.kill()
        server.wait()

        down = http.post("/api/v1/ask", json={"question": QUESTION})
        assert down.status_code == 503 and "Chroma" in down.text, down.text
        health = http.get("/api/v1/healthz")
        assert health.status_code == 503 and health.json()["checks"]["vector_store"] != "ok"
        upload = http.post(
            "/api/v1/documents", files={"files": ("arctic.md", ARCTIC.encode(), "text/markdown")}
        )
        assert upload.status_code == 503 and "Traceback" not in upload.text, upload.text
        uploads = qa.data_dir / "uploads"
        assert not [p for p in uploads.rglob("*") if p.is_file()], "nothing kept in uploads/"
        v1 = http.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
        )
        assert v1.status_code == 503 and v1.json()["error"]["message"], v1.text

    with running_server(command, heartbeat, tmp_path / "chroma-2.log"):
        assert http.get("/api/v1/healthz").status_code == 200
        again = http.post("/api/v1/ask", json={"question": QUESTION}).json()
        assert again["answer"] == before["answer"] and again["citations"] == before["citations"]
        assert qa.check().consistent
        http.close()
        qa.close()
