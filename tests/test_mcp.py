"""`briefqa mcp`, driven by the MCP SDK's own client as Claude Desktop or an IDE would:
over stdio, against a real process on an index of the seed brief. One server session
serves the whole module (the embedding model loads once), through an anyio portal so
that the tests themselves stay synchronous. `make setup` installs the mcp extra: a
missing SDK fails here rather than skipping."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from briefqa import BriefQA, Settings, load_brief

from .conftest import SEED, free_port

pytestmark = pytest.mark.slow

FRANCE = "Which country opposed a NATO liaison office in Tokyo?"
GDP = "What is the GDP of Japan?"
TOOLS = {"ask_briefs", "search_briefs", "list_briefs", "get_brief"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    """An index of the seed brief, built once for the module."""
    root = tmp_path_factory.mktemp("mcp")
    with BriefQA(data_dir=root / "data", settings=Settings(), embedder=embedder) as qa:
        assert qa.ingest(SEED).added == 1
    return root / "data"


@asynccontextmanager
async def _session(params: StdioServerParameters) -> AsyncIterator[ClientSession]:
    with open(os.devnull, "w") as quiet:  # the model's load messages on stderr
        async with (
            stdio_client(params, errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@pytest.fixture(scope="module")
def mcp(data_dir: Path) -> Iterator[tuple[BlockingPortal, ClientSession]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "briefqa.cli", "mcp"],
        env={
            "BRIEFQA_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        },
        cwd=str(data_dir.parent),
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_session(params)) as session,
    ):
        yield portal, session


def _call(mcp: tuple[BlockingPortal, ClientSession], tool: str, **args: Any) -> CallToolResult:
    portal, session = mcp
    result: CallToolResult = portal.call(session.call_tool, tool, args)
    return result


def _data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == result.structured_content, "text and structure agree"
    return result.structured_content


def test_tools_are_listed_with_schemas(mcp: tuple[BlockingPortal, ClientSession]) -> None:
    portal, session = mcp
    tools = {t.name: t for t in portal.call(session.list_tools).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.output_schema, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint
    ask = tools["ask_briefs"].input_schema
    assert ask["required"] == ["question"] and "filters" in ask["properties"]
    k = tools["search_briefs"].input_schema["properties"]["k"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 50, 5)
    assert tools["get_brief"].input_schema["required"] == ["doc_id"]
    assert set(tools["list_briefs"].input_schema["properties"]) == {"date_from", "date_to"}


def test_ask_answers_with_a_citation(mcp: tuple[BlockingPortal, ClientSession]) -> None:
    answer = _data(_call(mcp, "ask_briefs", question=FRANCE))
    assert answer["outcome"] == "answered"
    assert "France" in answer["answer"] and "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert first["n"] == 1 and "France" in first["quote"]
    assert first["title"] == "NATO Intensifies Cooperation with Indo-Pacific Partners"
    assert first["date"] == "2023-08-24" and first["section"] == "Limitations"
    text = load_brief(SEED).text
    assert text[first["start"] : first["end"]] == first["quote"]
    assert answer["sources"] and answer["sources"][0]["doc_id"] == first["doc_id"]


def test_ask_refuses_what_the_briefs_do_not_cover(
    mcp: tuple[BlockingPortal, ClientSession],
) -> None:
    answer = _data(_call(mcp, "ask_briefs", question=GDP))
    assert answer["outcome"] == "refused"
    assert answer["citations"] == [] and answer["nearest"]


def test_search_list_and_get(mcp: tuple[BlockingPortal, ClientSession]) -> None:
    [brief] = _data(_call(mcp, "list_briefs"))["briefs"]
    assert brief["number"] == "116" and brief["date"] == "2023-08-24"
    assert "Limitations" in brief["sections"]
    assert _data(_call(mcp, "list_briefs", date_from="2024-01-01"))["briefs"] == []

    found = _data(_call(mcp, "search_briefs", query="liaison office in Tokyo", k=3))
    passages = found["passages"]
    assert len(passages) == 3 and any("France" in p["text"] for p in passages)
    scoped = {"doc_ids": [brief["doc_id"]], "date_to": "2023-12-31"}
    assert _data(_call(mcp, "search_briefs", query="Japan", k=1, filters=scoped))["passages"]

    full = _data(_call(mcp, "get_brief", doc_id=brief["doc_id"]))
    assert full["text_from"] == "file" and full["text"] == load_brief(SEED).text
    for p in passages:  # search offsets point into the full text
        assert full["text"][p["start"] : p["end"]] == p["text"]
    assert [s["section"] for s in full["outline"]][-2:] == ["Limitations", "Conclusions"]


@pytest.mark.parametrize(
    ("tool", "args", "names"),
    [
        ("get_brief", {"doc_id": "nope"}, "no brief with id 'nope'"),
        ("search_briefs", {"query": "Japan", "k": 99}, "k"),
        ("search_briefs", {"query": "Japan", "k": 0}, "greater than or equal to 1"),
        ("ask_briefs", {"question": "  "}, "the question is empty"),
        ("ask_briefs", {"question": "Japan?", "filters": {"date_from": "24/08/2023"}},
         "date_from must be a date like 2023-08-24"),
        ("ask_briefs", {"question": "Japan?", "filters": {"doc_ids": ["zz"]}},
         "unknown doc_id 'zz'"),
        ("list_briefs", {"date_to": "yesterday"}, "date_to must be a date"),
        ("search_briefs", {"query": ""}, "the query is empty"),
        ("search_briefs", {"query": "Japan " * 200_000}, "characters long; the limit is"),
    ],
)  # fmt: skip
def test_bad_arguments_are_tool_errors(
    mcp: tuple[BlockingPortal, ClientSession], tool: str, args: dict[str, Any], names: str
) -> None:
    result = _call(mcp, tool, **args)
    assert result.is_error
    assert names in result.content[0].text  # type: ignore[union-attr]
    # ...and the server is still serving.
    assert _data(_call(mcp, "list_briefs"))["briefs"]


# Any JSON a client may send as an argument: wrong types, deep and long values, text
# with lone surrogates and control characters.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_NAIVE = re.compile(r"Traceback|\b(Key|Type|Attribute|Index|Recursion|Unicode\w*)Error\b")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_arguments_get_a_result_or_a_tool_error_that_names_the_problem(
    mcp: tuple[BlockingPortal, ClientSession], data: st.DataObject
) -> None:
    portal, session = mcp
    tools = {t.name: t.input_schema for t in portal.call(session.list_tools).tools}
    name = data.draw(st.sampled_from(sorted(tools)))
    properties = tools[name].get("properties", {})
    fields = {key: _JSON | st.text(min_size=1, max_size=200) for key in properties}
    args = data.draw(st.fixed_dictionaries({}, optional=fields))
    if data.draw(st.booleans()):  # a long value, or one nested deeper than anyone writes
        deep: Any = "Japan"
        for _ in range(data.draw(st.integers(1, 250))):  # deeper: the client cannot send it
            deep = [deep]
        key = data.draw(st.sampled_from(sorted(properties) or ["extra"]))
        args[key] = data.draw(st.sampled_from([deep, "Tokyo " * 50_000]))
    try:
        result = portal.call(partial(session.call_tool, name, args, read_timeout_seconds=60))
    except MCPError as exc:  # a request the SDK cannot read is answered with a JSON-RPC error
        assert "nest arguments less" in str(exc), (name, str(exc)[:300])
        return
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    if result.is_error:
        assert text and not _NAIVE.search(text), (name, args, text[:300])
    else:
        assert result.structured_content is not None, (name, args)


def test_no_schema_field_is_missing_from_any_surface(tmp_path: Path) -> None:
    """The REST API and the CLI give the dataclasses' JSON (to_dict); MCP's result types
    are built from it. A field added to a dataclass and left out of either fails here."""
    import dataclasses

    from briefqa import Answer, BriefInfo, Citation, Hit
    from briefqa.serve.mcp_server import AskResult, BriefSummary, CitationResult, Passage
    from briefqa.testing import HashEmbedder

    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        qa.ingest(SEED)
        answer = qa.ask(FRANCE)
        [info] = qa.documents()
    assert answer.citations and answer.sources
    # Answer's own question is the caller's input, and its text is "answer" in JSON.
    renamed = {Answer: {"text": "answer", "question": None}}
    surfaces = [
        (Answer, answer.to_dict(), AskResult),
        (Citation, answer.citations[0].to_dict(), CitationResult),
        (Hit, answer.sources[0].to_dict(), Passage),
        (BriefInfo, info.to_dict(), BriefSummary),
    ]
    for kind, json_shape, mcp_type in surfaces:
        names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
        wanted = {renamed.get(kind, {}).get(n, n) for n in names} - {None}
        assert set(json_shape) == wanted, (kind.__name__, set(json_shape) ^ wanted)
        assert set(mcp_type.model_fields) == wanted, (
            kind.__name__,
            set(mcp_type.model_fields) ^ wanted,
        )


def test_streamable_http_served_by_the_server_behind_its_logins(
    data_dir: Path, embedder: Any, tmp_path: Path
) -> None:
    """`briefqa serve` with BRIEFQA_MCP_HTTP: MCP's streamable HTTP at /mcp/, the SDK's
    session manager run from the app's lifespan, behind the same logins as the APIs: the
    SDK's client with a user's password lists the tools and asks; without, 401."""
    import httpx2
    import uvicorn
    from mcp.client.streamable_http import streamable_http_client

    from briefqa.serve.auth import hash_password
    from briefqa.serve.server import create_app

    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password('alice-Secret-7')}\n")
    settings = Settings(auth_file=users, mcp_http=True)
    qa = BriefQA(data_dir=data_dir, settings=settings, embedder=embedder)
    app = create_app(qa, ui=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/mcp"  # without the slash: redirected to /mcp/

    async def talk() -> tuple[set[str], dict[str, Any]]:
        client = httpx2.AsyncClient(auth=("alice", "alice-Secret-7"), timeout=60)
        async with (
            client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            result = await session.call_tool("ask_briefs", {"question": FRANCE})
            assert result.structured_content is not None
            return names, result.structured_content

    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with start_blocking_portal() as portal:
            names, answer = portal.call(talk)
        anonymous = httpx2.post(url + "/", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert anonymous.status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        qa.close()
    assert names == TOOLS
    assert answer["outcome"] == "answered" and "France" in answer["citations"][0]["quote"]
