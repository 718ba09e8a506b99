"""The OpenAI-compatible API (/v1), driven by the official ``openai`` client against a real
``briefqa serve`` with logins on; one server for the module, for CI's sake."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi.testclient import TestClient

from briefqa import BriefQA, Settings
from briefqa.serve.auth import hash_password
from briefqa.serve.openai_api import parse_chat_request, text_deltas
from briefqa.serve.server import create_app
from briefqa.testing import HashEmbedder

from .conftest import SEED, free_port
from .test_web import _serve

pytestmark = [pytest.mark.server, pytest.mark.slow]

QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
PASSWORD = "alice-Secret-7"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with logins on, computing one answer at a time: a stream that kept its
    turn after it ended would stall every later test."""
    tmp = tmp_path_factory.mktemp("openai")
    users = tmp / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    env = {"BRIEFQA_AUTH_FILE": str(users), "BRIEFQA_SERVER_CONCURRENCY": "1"}
    for url, _ in _serve(tmp, **env):
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=f"alice:{PASSWORD}", timeout=60)


def _ask(question: str, **kwargs: Any) -> dict[str, Any]:
    return {"model": "briefqa", "messages": [{"role": "user", "content": question}], **kwargs}


def _check_cited(content: str, extra: dict[str, Any]) -> None:
    assert "France" in content and "[1]" in content
    assert extra["outcome"] in ("answered", "low_confidence") and extra["answer"] == content
    first = extra["citations"][0]
    assert first["n"] == 1 and first["title"].startswith("NATO Intensifies")
    assert "France" in first["quote"] and first["end"] - first["start"] == len(first["quote"])
    assert first["date"] == "2023-08-24" and first["doc_id"] and first["chunk_id"]
    assert {s["chunk_id"] for s in extra["sources"]} >= {first["chunk_id"]}


def test_a_cited_answer(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="briefqa",
        messages=[
            {"role": "system", "content": "Answer in French."},  # accepted, ignored
            {"role": "user", "content": QUESTION},
        ],
    )
    assert completion.object == "chat.completion" and completion.model == "briefqa"
    assert completion.id.startswith("chatcmpl-") and completion.created > 0
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    _check_cited(content, completion.briefqa)  # type: ignore[attr-defined]
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 10
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 10


def test_a_streamed_answer(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            **_ask(QUESTION), stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    stop = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(stop) == 1
    _check_cited(content, stop[0].briefqa)  # type: ignore[attr-defined]
    # Asked for, the usage comes last, without choices.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_the_stream_is_server_sent_events_ending_with_done(server: str) -> None:
    headers = {"Authorization": f"Bearer alice:{PASSWORD}"}
    body = _ask(QUESTION, stream=True)
    with httpx.stream(
        "POST", f"{server}/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_a_refusal_is_a_normal_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(**_ask("What is the GDP of Japan?"))
    extra = completion.briefqa  # type: ignore[attr-defined]
    assert extra["outcome"] == "refused" and extra["citations"] == []
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == extra["answer"]
    assert "do not cover" in extra["answer"]

    streamed = list(
        client.chat.completions.create(**_ask("What is the GDP of Japan?"), stream=True)
    )
    assert streamed[-1].briefqa["outcome"] == "refused"  # type: ignore[attr-defined]


def test_a_follow_up_is_read_with_its_history(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(**_ask(QUESTION)).choices[0].message.content
    follow = client.chat.completions.create(
        model="briefqa",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first},
            # Text parts, as multimodal front ends send them, are read too.
            {"role": "user", "content": [{"type": "text", "text": "Why did it object?"}]},
        ],
    )
    extra = follow.briefqa  # type: ignore[attr-defined]
    assert "Tokyo" in extra["standalone_question"]
    assert extra["outcome"] != "refused" and "China" in (follow.choices[0].message.content or "")


def test_filters_travel_in_the_extra_body(client: openai.OpenAI, server: str) -> None:
    doc_id = httpx.get(f"{server}/api/v1/documents", auth=("alice", PASSWORD)).json()[0]["doc_id"]
    inside = client.chat.completions.create(
        **_ask(QUESTION), extra_body={"briefqa": {"filters": {"doc_ids": [doc_id]}}}
    )
    _check_cited(inside.choices[0].message.content or "", inside.briefqa)  # type: ignore[attr-defined]
    # No brief is dated after 2024: nothing to answer from.
    later = client.chat.completions.create(
        **_ask(QUESTION), extra_body={"briefqa": {"filters": {"date_from": "2024-01-01"}}}
    )
    assert later.briefqa["outcome"] == "refused"  # type: ignore[attr-defined]


def test_models_lists_briefqa(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["briefqa"]
    assert client.models.retrieve("briefqa").owned_by == "briefqa"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.models.retrieve("gpt-4o")


def test_logins_are_the_servers(server: str) -> None:
    for key in (f"alice:{PASSWORD}x", f"mallory:{PASSWORD}", "alice", "sk-anything"):
        wrong = openai.OpenAI(base_url=f"{server}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as raised:
            wrong.chat.completions.create(**_ask(QUESTION))
        error = raised.value.body
        assert isinstance(error, dict) and error["code"] == "invalid_api_key"
        assert "user:password" in error["message"] and PASSWORD not in error["message"]
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    # HTTP Basic works as well as the Bearer key; nothing at all gets an OpenAI-style 401,
    # before the body is even read.
    assert httpx.get(f"{server}/v1/models", auth=("alice", PASSWORD)).status_code == 200
    anonymous = httpx.post(f"{server}/v1/chat/completions", content=b"{not json")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"]


@pytest.mark.parametrize(
    ("body", "error", "named"),
    [
        ({"messages": []}, openai.BadRequestError, "messages must be a non-empty list"),
        (
            {"messages": [{"role": "assistant", "content": "Hello"}]},
            openai.BadRequestError,
            "no user message",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "."},
                ]
            },
            openai.BadRequestError,
            "last message must be the user's question",
        ),
        ({"messages": [{"role": "user", "content": "  "}]}, openai.BadRequestError, "is empty"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            openai.BadRequestError,
            "'image_url' part; briefqa reads text only",
        ),
        (
            {"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "Hi"}]},
            openai.BadRequestError,
            "messages[0].role is 'tool'",
        ),
        ({**_ask(QUESTION), "n": 2}, openai.BadRequestError, "n must be 1"),
        ({**_ask(QUESTION), "model": "gpt-4o"}, openai.NotFoundError, "'gpt-4o' does not exist"),
        (_ask("Why? " * 500), openai.BadRequestError, "the limit is 2,000"),
        (
            {**_ask(QUESTION), "extra_body": {"briefqa": {"filters": {"date_to": "soon"}}}},
            openai.BadRequestError,
            "date_to must be a date like 2023-08-24",
        ),
    ],
)
def test_bad_requests_name_the_problem(
    client: openai.OpenAI, body: dict[str, Any], error: type[Exception], named: str
) -> None:
    body = {"model": "briefqa", **body}
    with pytest.raises(error) as raised:
        client.chat.completions.create(**body)
    assert named in str(raised.value)


def test_many_streams_at_once_all_finish(tmp_path: Path) -> None:
    """More streaming clients than the server's worker threads, two answers at a time:
    each waits its turn and gets its whole stream (a stream that needed a second thread
    while holding its turn once stalled them all)."""
    from concurrent.futures import ThreadPoolExecutor

    embedder, settings = HashEmbedder(), Settings(server_concurrency=2)
    with BriefQA(tmp_path / "data", settings=settings, embedder=embedder) as qa:
        qa.ingest([SEED])
        port = free_port()
        config = uvicorn.Config(create_app(qa, ui=False), port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                time.sleep(0.05)
            client = openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key="x", timeout=90, max_retries=0
            )

            def stream(_: int) -> str:
                chunks = client.chat.completions.create(**_ask(QUESTION), stream=True)
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

            with ThreadPoolExecutor(60) as pool:
                texts = list(pool.map(stream, range(60)))
            assert all("France" in text for text in texts)
        finally:
            server.should_exit = True
            thread.join(10)


# --------------------------------------------------- in process, no logins, no model


def test_without_logins_any_key_is_accepted(tmp_path: Path) -> None:
    with (
        BriefQA(tmp_path / "data", settings=Settings(), embedder=HashEmbedder()) as qa,
        TestClient(create_app(qa, ui=False)) as http,
    ):
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=http)
        assert [m.id for m in client.models.list()] == ["briefqa"]
        broken = http.post("/v1/chat/completions", content=b"{not json")
        assert broken.status_code == 400 and "not JSON" in broken.json()["error"]["message"]
        wrong = http.get("/v1/chat/completions")  # errors keep OpenAI's shape, a 405 too
        assert wrong.status_code == 405 and wrong.json()["error"]["message"]


def test_parse_reads_history_and_ignores_system_messages() -> None:
    chat = parse_chat_request(
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": None},
                {"role": "user", "content": [{"type": "text", "text": "Q2"}]},
            ],
            "briefqa": {"filters": {"date_from": "2023-01-01"}},
        }
    )
    assert chat.question == "Q2" and not chat.stream
    assert chat.history == [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": ""}]
    assert chat.filters is not None and chat.filters.date_from == "2023-01-01"


def test_deltas_join_back_to_the_answer() -> None:
    text = "France objected [1]. Japan offered more [2].\n\nA row — 2023: 5 [1]."
    pieces = text_deltas(text)
    assert "".join(pieces) == text and len(pieces) == 3
