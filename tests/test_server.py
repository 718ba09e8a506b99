"""The REST API, in process (FastAPI's TestClient) on the real engine and seed brief."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from briefqa import BriefQA, ConfigError, Settings, StoreError, load_brief
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.serve.auth import hash_password, load_users, verify_password
from briefqa.serve.server import create_app

from .conftest import SEED

QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
NEW_BRIEF = """# Arctic Shipping Routes Open Up

Brief No. 7/2024, 2024-03-05

## Findings

The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record.
Norway proposed a joint Arctic coast guard exercise with Iceland and Canada.
"""


def _engine(tmp_path: Path, embedder: SentenceTransformerEmbedder, **settings: object) -> BriefQA:
    qa = BriefQA(data_dir=tmp_path / "data", settings=Settings(**settings), embedder=embedder)
    qa.ingest([SEED])
    return qa


@pytest.fixture
def client(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    qa = _engine(tmp_path, embedder, max_upload_mb=0.05)
    with TestClient(create_app(qa, ui=False)) as test_client:
        yield test_client
    qa.close()


def test_healthz_and_documents(client: TestClient) -> None:
    health = client.get("/api/v1/healthz").json()
    assert health["status"] == "ok" and health["briefs"] == 1 and health["chunks"] > 5
    docs = client.get("/api/v1/documents").json()
    assert [d["title"] for d in docs] == ["NATO Intensifies Cooperation with Indo-Pacific Partners"]
    assert docs[0]["date"] == "2023-08-24" and docs[0]["chunks"] == health["chunks"]


def test_healthz_reports_each_part_and_503_when_one_is_down(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    qa = _engine(tmp_path, embedder)
    with TestClient(create_app(qa, ui=False)) as client:
        health = client.get("/api/v1/healthz").json()
        assert health["checks"] == {
            "manifest": "ok", "vector_store": "ok", "embedding_model": "ok", "reading_model": "ok",
        }  # fmt: skip

        def down() -> int:
            raise StoreError("the Chroma server at http://127.0.0.1:1 is not answering")

        monkeypatch.setattr(qa.index.store, "count", down)
        response = client.get("/api/v1/healthz")
        assert response.status_code == 503 and response.json()["status"] == "unavailable"
        assert "not answering" in response.json()["checks"]["vector_store"]
        assert response.json()["checks"]["manifest"] == "ok"
    qa.close()


def test_client_mistakes_are_4xx_naming_the_problem(client: TestClient) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/ask", "/v1/chat/completions", "/api/v1/feedback", "/api/v1/export"):
        response = client.post(path, content=deep, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text[:200])
    surrogate = '{"question": "Who is \\ud800 in NATO?"}'
    response = client.post(
        "/api/v1/ask", content=surrogate, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "lone surrogate" in response.json()["detail"]
    chat = '{"model": "briefqa", "messages": [{"role": "user", "content": "Who \\udc00?"}]}'
    response = client.post(
        "/v1/chat/completions", content=chat, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "surrogate" in response.json()["error"]["message"]
    answer = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    long = {"question": "why " * 50_000, "answer": answer, "rating": "dislike"}
    response = client.post("/api/v1/feedback", json=long)
    assert response.status_code == 422
    assert "the feedback's question" in response.json()["detail"]


def test_ask_returns_the_cli_json_with_verified_citations(client: TestClient) -> None:
    response = client.post("/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert {"answer", "refused", "citations", "sources", "unsupported", "timings"} <= set(body)
    assert "France" in body["answer"] and not body["refused"]
    assert body["outcome"] in ("answered", "low_confidence") and body["kind"] == "search"
    # Quotes and offsets index the brief's normalised text (the seed's no-break spaces
    # become spaces), not the file's bytes.
    text = load_brief(SEED).text
    france = [c for c in body["citations"] if "France" in c["quote"]]
    assert france, body["citations"]
    for citation in body["citations"]:
        assert citation["quote"] in text
        source = next(s for s in body["sources"] if s["chunk_id"] == citation["chunk_id"])
        assert source["text"][citation["start"] - source["start"] :].startswith(citation["quote"])


def test_follow_up_uses_the_history(client: TestClient) -> None:
    first = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    follow = client.post(
        "/api/v1/ask",
        json={
            "question": "Why did it object?",
            "history": [
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": first["answer"]},
            ],
        },
    ).json()
    assert "Tokyo" in follow["standalone_question"]
    assert not follow["refused"] and "China" in follow["answer"]


def test_unanswerable_question_is_refused_with_nearest_passages(client: TestClient) -> None:
    body = client.post(
        "/api/v1/ask", json={"question": "Who won the 2022 football World Cup final?"}
    ).json()
    assert body["refused"] and body["citations"] == [] and body["nearest"]
    assert body["outcome"] == "refused"


def test_summary_of_a_brief_is_cited_like_an_answer(client: TestClient) -> None:
    doc_id = client.get("/api/v1/documents").json()[0]["doc_id"]
    response = client.get(f"/api/v1/documents/{doc_id}/summary")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "answered" and body["kind"] == "brief" and not body["refused"]
    assert body["citations"] and not body["unsupported"] and "[1]" in body["answer"]
    words = " ".join(SEED.read_text().split())  # the seed has a no-break space or two
    for citation in body["citations"]:
        assert citation["doc_id"] == doc_id and " ".join(citation["quote"].split()) in words
        source = next(s for s in body["sources"] if s["chunk_id"] == citation["chunk_id"])
        assert source["text"][citation["start"] - source["start"] :].startswith(citation["quote"])
    # The lead comes first: the brief's opening sentence.
    assert body["answer"].startswith("The participation of the leaders of Australia")

    missing = client.get("/api/v1/documents/no-such-brief/summary")
    assert missing.status_code == 404
    assert "no brief with id 'no-such-brief'" in missing.json()["detail"]


def test_low_confidence_answers_come_with_the_nearest_passages(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # Every answer the refusal model is not certain of falls in the low-confidence band.
    qa = _engine(tmp_path, embedder, refusal_threshold=0.05, confidence_threshold=1.0)
    with TestClient(create_app(qa, ui=False)) as unsure:
        body = unsure.post("/api/v1/ask", json={"question": QUESTION}).json()
        assert body["outcome"] == "low_confidence" and not body["refused"], body["confidence"]
        assert "France" in body["answer"] and body["citations"] and body["nearest"]
        # Sent back with feedback as /ask returned it, and as clients saved it before.
        for answer in (body, {k: v for k, v in body.items() if k not in ("outcome", "kind")}):
            response = unsure.post(
                "/api/v1/feedback", json={"question": QUESTION, "answer": answer, "rating": "like"}
            )
            assert response.status_code == 201, response.text
    qa.close()
    assert len((tmp_path / "data" / "feedback.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"question": "   "}, 422, "empty"),
        ({"question": "x" * 20_000}, 422, "limit"),
        ({"question": QUESTION, "filters": {"date_from": "24/08/2023"}}, 422, "date"),
        ({"question": QUESTION, "history": [{"role": "robot", "content": "hi"}]}, 422, "role"),
        ({}, 422, "question"),
    ],
)
def test_bad_questions_get_clear_4xx(
    client: TestClient, payload: dict[str, object], status: int, words: str
) -> None:
    response = client.post("/api/v1/ask", json=payload)
    assert response.status_code == status
    assert words in json.dumps(response.json()["detail"])


def test_filters_limit_the_briefs_used(client: TestClient) -> None:
    body = client.post(
        "/api/v1/ask", json={"question": QUESTION, "filters": {"date_to": "2020-01-01"}}
    ).json()
    assert body["refused"] and body["nearest"] == []


def test_upload_then_ask_about_it_then_delete(client: TestClient, tmp_path: Path) -> None:
    response = client.post(
        "/api/v1/documents",
        files={"files": ("arctic.md", NEW_BRIEF.encode(), "text/markdown")},
    )
    assert response.status_code == 201, response.text
    result = response.json()["results"][0]
    assert result["ok"] and result["brief"]["title"] == "Arctic Shipping Routes Open Up"
    doc_id = result["brief"]["doc_id"]
    assert len(client.get("/api/v1/documents").json()) == 2

    answer = client.post(
        "/api/v1/ask", json={"question": "How much cargo did the Northern Sea Route carry?"}
    ).json()
    assert "36 million tonnes" in answer["answer"]
    assert {c["doc_id"] for c in answer["citations"]} == {doc_id}

    # The same bytes again are recognised, not indexed twice.
    again = client.post("/api/v1/documents", files={"files": ("copy.md", NEW_BRIEF.encode())})
    assert again.status_code == 201 and again.json()["results"][0]["brief"]["doc_id"] == doc_id
    assert len(client.get("/api/v1/documents").json()) == 2

    assert client.delete(f"/api/v1/documents/{doc_id}").status_code == 204
    assert [d["doc_id"] for d in client.get("/api/v1/documents").json()] != [doc_id]
    assert len(client.get("/api/v1/documents").json()) == 1
    assert client.delete(f"/api/v1/documents/{doc_id}").status_code == 404


def test_upload_errors_are_clear_and_spare_the_rest_of_the_batch(
    client: TestClient, tmp_path: Path
) -> None:
    big = b"word " * 20_000  # 100 kB, over the 0.05 MB limit of this client
    response = client.post("/api/v1/documents", files={"files": ("big.txt", big)})
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    response = client.post("/api/v1/documents", files={"files": ("tool.exe", b"MZ\x90\x00")})
    assert response.status_code == 415 and ".exe" in response.json()["detail"]

    response = client.post(
        "/api/v1/documents",
        files=[
            ("files", ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")),
            ("files", ("arctic.md", NEW_BRIEF.encode(), "text/markdown")),
        ],
    )
    assert response.status_code == 422
    broken, good = response.json()["results"]
    assert not broken["ok"] and "pdf" in broken["error"].lower()
    assert good["ok"], "a bad file must not stop the rest of the batch"
    assert len(client.get("/api/v1/documents").json()) == 2
    # A failed upload leaves no file behind.
    uploads = tmp_path / "data" / "uploads"
    assert sorted(p.name for p in uploads.rglob("*") if p.is_file()) == ["arctic.md"]


def test_upload_names_cannot_escape_the_data_dir(client: TestClient, tmp_path: Path) -> None:
    response = client.post(
        "/api/v1/documents", files={"files": ("../../../outside.md", NEW_BRIEF.encode())}
    )
    assert response.status_code == 201
    stored = response.json()["results"][0]["brief"]["sources"][0]
    assert Path(stored).resolve().is_relative_to((tmp_path / "data" / "uploads").resolve())
    assert not (tmp_path / "outside.md").exists()


def test_feedback_is_stored_for_evaluators(client: TestClient, tmp_path: Path) -> None:
    answer = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    response = client.post(
        "/api/v1/feedback",
        json={"question": QUESTION, "answer": answer, "rating": "dislike", "comment": "order"},
    )
    assert response.status_code == 201
    lines = (tmp_path / "data" / "feedback.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["question"] == QUESTION and record["rating"] == "dislike"
    assert record["comment"] == "order" and record["citations"] == answer["citations"]
    bad = client.post(
        "/api/v1/feedback", json={"question": QUESTION, "answer": answer, "rating": "meh"}
    )
    assert bad.status_code == 422


def test_openapi_schema_lists_every_route(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/ask", "/api/v1/documents", "/api/v1/documents/{doc_id}",
            "/api/v1/documents/{doc_id}/summary", "/api/v1/healthz",
            "/api/v1/feedback"} <= set(schema["paths"])  # fmt: skip
    answer = json.dumps(schema["components"]["schemas"]["AnswerModel"])
    assert "citations" in answer and "low_confidence" in answer and "kind" in answer


# ------------------------------------------------------------------------ auth


def test_password_hashes_verify_and_reject() -> None:
    hashed = hash_password("correct horse")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong", hashed)
    assert not verify_password("correct horse", "scrypt$garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_malformed_auth_files_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice plaintext-password\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_users(path)
    path.write_text("# nobody\n")
    with pytest.raises(ConfigError, match="no users"):
        load_users(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_users(tmp_path / "missing")


ROUTES = [
    ("get", "/api/v1/healthz", {}),
    ("get", "/api/v1/documents", {}),
    ("post", "/api/v1/documents", {"files": {"files": ("a.md", NEW_BRIEF.encode())}}),
    ("delete", "/api/v1/documents/abc", {}),
    ("get", "/api/v1/documents/abc/summary", {}),
    ("post", "/api/v1/ask", {"json": {"question": QUESTION}}),
    ("post", "/api/v1/feedback", {"json": {}}),
    ("get", "/api/v1/openapi.json", {}),
]


def test_with_auth_every_route_requires_a_login(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    users = tmp_path / "users"
    users.write_text(f"# staff\nalice:{hash_password('s3cret-pass')}\n")
    qa = _engine(tmp_path, embedder, auth_file=users)
    with TestClient(create_app(qa)) as client:
        for method, path, kwargs in ROUTES:
            for auth in (None, ("alice", "wrong"), ("mallory", "s3cret-pass")):
                response = getattr(client, method)(path, auth=auth, **kwargs)
                assert response.status_code == 401, (method, path, auth)
                assert "s3cret" not in response.text
        assert client.get("/api/v1/healthz", auth=("alice", "s3cret-pass")).status_code == 200
        login = ("alice", "s3cret-pass")
        answer = client.post("/api/v1/ask", auth=login, json={"question": QUESTION})
        assert "France" in answer.json()["answer"]
        # The chat: the page holds only a login form until one succeeds.
        for path in ("/config", "/gradio_api/info", "/gradio_api/queue/status"):
            assert client.get(path).status_code == 401, path
        page = client.get("/").text
        assert '"auth_required":true' in page.replace(" ", "") and "bq-chat" not in page
        failed = client.post("/login", data={"username": "alice", "password": "nope"})
        assert failed.status_code == 400
        ok = client.post("/login", data={"username": "alice", "password": "s3cret-pass"})
        assert ok.status_code == 200
        assert "bq-chat" in client.get("/config").text
    qa.close()


def test_fifo_gate_admits_in_arrival_order_and_bounds_width() -> None:
    import threading
    import time

    from briefqa.serve.server import FifoGate

    gate = FifoGate(2)
    order: list[int] = []
    inside = [0]
    most = [0]
    lock = threading.Lock()

    def work(n: int) -> None:
        with gate:
            with lock:
                order.append(n)
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = []
    for n in range(12):
        thread = threading.Thread(target=work, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.005)  # arrive in order
    for thread in threads:
        thread.join()
    assert order == list(range(12)) and most[0] == 2


def test_the_chat_is_built_without_gradios_unused_mcp_import() -> None:
    """gradio imports the mcp SDK for a server briefqa never starts; serve keeps it out
    (24 MB, 0.4 s of every start), and briefqa's own MCP server can still import it."""
    script = (
        "import sys\n"
        "from briefqa.serve.server import _import_gradio\n"
        "gr = _import_gradio()\n"
        "assert gr.Blocks and 'mcp' not in sys.modules, sorted(sys.modules)\n"
        "import mcp.server\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_passed_login_is_remembered_and_a_failed_one_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import briefqa.serve.auth

    users = briefqa.serve.auth.Users({"alice": hash_password("s3cret-pass")})
    checked: list[str] = []
    real = briefqa.serve.auth.verify_password

    def counted(password: str, hashed: str) -> bool:
        checked.append(password)
        return real(password, hashed)

    monkeypatch.setattr(briefqa.serve.auth, "verify_password", counted)
    assert users.check("alice", "s3cret-pass") and users.check("alice", "s3cret-pass")
    assert checked == ["s3cret-pass"], "the second login was not hashed again"
    for _ in range(2):  # a failure is hashed every time, and never taken for the pass
        assert not users.check("alice", "s3cret-pass ")
        assert not users.check("mallory", "s3cret-pass")
    assert len(checked) == 5
