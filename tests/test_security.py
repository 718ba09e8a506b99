"""Security of `briefqa serve` with logins on: every route of the app refuses a caller
without credentials, secrets never reach logs or error messages, uploads stay inside the
data dir and size limits hold."""

from __future__ import annotations

import base64
import re
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from briefqa import BriefQA, Settings
from briefqa.serve.access import PUBLIC
from briefqa.serve.auth import hash_password
from briefqa.serve.server import create_app
from briefqa.testing import HashEmbedder

from .conftest import SEED, free_port
from .test_server import NEW_BRIEF
from .test_web import _serve

PASSWORD = "correct-horse-battery-7"
WRONG_PASSWORD = "wrong-horse-Secret-9"
API_KEY = "sk-briefqa-test-0123456789abcdef"
URL_PASSWORD = "url-pass-5ecret"


def _app_routes(app: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every HTTP route, the mounted chat's and included routers' too."""
    for route in app.routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.120)
            included = route.include_context.prefix or ""
            yield from _app_routes(route.original_router, prefix + included)
        elif hasattr(route, "methods"):
            # A route without methods (MCP's endpoint) takes any: probe GET and POST.
            for method in sorted(route.methods or ("GET", "POST")):
                yield method, prefix + route.path
        elif hasattr(route, "routes"):  # a mount
            yield from _app_routes(route, prefix + route.path.rstrip("/"))


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users"
    path.write_text(f"alice:{hash_password(PASSWORD)}\n")
    return path


@pytest.fixture(scope="module")
def routes(users_file: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """Every route the server has, read from the very app it runs."""
    data = tmp_path_factory.mktemp("routes") / "data"
    settings = Settings(auth_file=users_file, mcp_http=True)
    with BriefQA(data, settings=settings, embedder=HashEmbedder()) as qa:
        found = sorted(set(_app_routes(create_app(qa))))
    assert ("POST", "/api/v1/ask") in found and ("POST", "/gradio_api/queue/join") in found
    assert ("GET", "/api/v1/documents/{doc_id}/summary") in found
    return found


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, users_file: Path
) -> Iterator[tuple[str, Path]]:
    """A real server with logins on, answering through an LLM server that is down, and
    configured with an API key and a password in the LLM's URL: secrets to leak."""
    closed = free_port()
    tmp = tmp_path_factory.mktemp("locked")
    env = {
        "BRIEFQA_AUTH_FILE": str(users_file),
        "BRIEFQA_MCP_HTTP": "true",
        "BRIEFQA_LLM": "openai",
        "BRIEFQA_LLM_MODEL": "some-model",
        "BRIEFQA_LLM_API_KEY": API_KEY,
        "BRIEFQA_LLM_BASE_URL": f"http://ops:{URL_PASSWORD}@127.0.0.1:{closed}/v1",
        "BRIEFQA_LLM_TIMEOUT": "5",
    }
    for url, _ in _serve(tmp, **env):
        yield url, tmp


def _probe(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", "x", path)
    if method == "POST":
        kwargs.setdefault("json", {})
    return client.request(method, url, **kwargs)


@pytest.mark.server
@pytest.mark.slow
def test_with_logins_on_every_route_refuses_an_anonymous_caller(
    locked: tuple[str, Path], routes: list[tuple[str, str]]
) -> None:
    url, _ = locked
    public = [(m, p) for m, p in routes if PUBLIC.match(re.sub(r"\{[^}]+\}", "x", p))]
    # Only the login page, the login and logout actions and static files are public.
    assert {p for _, p in public} <= {
        "/", "/login", "/login/", "/logout", "/favicon.ico", "/robots.txt", "/manifest.json",
        "/theme.css", "/gradio_api/theme.css", "/assets/{path:path}", "/static/{path:path}",
        "/svelte/{path:path}", "/pwa_icon", "/pwa_icon/{size}",
    }  # fmt: skip
    refused = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for method, path in routes:
            for auth in (None, ("alice", WRONG_PASSWORD), ("mallory", PASSWORD)):
                response = _probe(client, method, path, auth=auth)
                if (method, path) in public:
                    # Reachable, but nothing of the briefs or the chat before a login.
                    assert "NATO" not in response.text and "bq-chat" not in response.text
                    continue
                assert response.status_code == 401, (method, path, auth, response.text[:200])
                refused += 1
        # The chat opens with the session cookie its login page sets; the REST API with
        # HTTP Basic.
        assert client.get("/config").status_code == 401
        login = client.post("/login", data={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200
        assert "bq-chat" in client.get("/config").text
        assert client.get("/gradio_api/info").status_code == 200
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/v1/healthz", auth=("alice", PASSWORD)).json()["briefs"] == 1
    # Every route but the public ones (79 with Gradio 6), each asked three ways.
    assert refused == 3 * (len(routes) - len(public)) and len(routes) - len(public) > 70


@pytest.mark.server
@pytest.mark.slow
def test_secrets_never_reach_logs_or_error_messages(locked: tuple[str, Path]) -> None:
    url, tmp = locked
    secrets = [PASSWORD, WRONG_PASSWORD, API_KEY, URL_PASSWORD]
    seen: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(2):
            seen.append(client.get("/api/v1/documents", auth=("alice", WRONG_PASSWORD)).text)
            seen.append(
                client.post("/login", data={"username": "alice", "password": WRONG_PASSWORD}).text
            )
        # The LLM server is down: the answer fails with a clear error, and no secret.
        failed = client.post(
            "/api/v1/ask",
            auth=("alice", PASSWORD),
            json={"question": "Which country opposed a NATO liaison office in Tokyo?"},
        )
        assert failed.status_code == 503, failed.text
        detail = failed.json()["detail"]
        assert "answer model (openai at http://***@127.0.0.1" in detail
        seen.append(failed.text)
    # The command line says the same, without the secrets either.
    env = {
        **{k: v for k, v in __import__("os").environ.items()},
        "BRIEFQA_DATA_DIR": str(tmp / "data"),
        "BRIEFQA_LLM": "openai",
        "BRIEFQA_LLM_MODEL": "some-model",
        "BRIEFQA_LLM_API_KEY": API_KEY,
        "BRIEFQA_LLM_BASE_URL": f"http://ops:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1",
    }
    cli = subprocess.run(
        [sys.executable, "-m", "briefqa.cli", "ask", "What did Japan offer?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert cli.returncode == 2 and "the answer model (openai" in cli.stderr
    seen += [cli.stdout, cli.stderr]
    log = (tmp / "serve.log").read_text(errors="replace")
    assert "POST /api/v1/ask" in log  # the log is the server's, and has the requests
    for text in [*seen, log]:
        for secret in secrets:
            assert secret not in text


def test_the_server_log_masks_secrets_whatever_logs_them() -> None:
    """HTTP clients log every URL they call at INFO: an LLM URL with a password in it,
    or a key echoed by a library, is masked by the server's log filter."""
    import io
    import logging

    from briefqa.serve.server import _redact_logs

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        _redact_logs(Settings(llm_api_key=API_KEY))
        url = f"http://ops:{URL_PASSWORD}@127.0.0.1:8000/v1/chat/completions"
        logging.getLogger("httpx2").warning("HTTP Request: POST %s 200 OK", url)
        logging.getLogger("some.library").error("bad key %s", API_KEY)
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert "HTTP Request: POST http://***@127.0.0.1:8000/v1" in written
    assert "bad key ***" in written
    assert URL_PASSWORD not in written and API_KEY not in written


def test_uploads_stay_inside_the_data_dir_and_limits_hold(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(max_upload_mb=0.05)
    qa = BriefQA(data, settings=settings, embedder=HashEmbedder())
    names = [
        "../../escape.md", "/etc/cron.d/escape.md", "..\\..\\escape.md", "a/../../escape.md",
        "C:\\Windows\\escape.md", "%2e%2e%2fescape.md", "escape\x00.md", "~/.bashrc.md",
        "é" * 300 + ".md", ".hidden.md",
    ]  # fmt: skip
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(data)}
    with TestClient(create_app(qa, ui=False)) as client:
        for n, name in enumerate(names):
            body = NEW_BRIEF.replace("36 million", f"{n} million").encode()
            response = client.post("/api/v1/documents", files={"files": (name, body)})
            assert response.status_code in (201, 422), (name, response.text)
        # Over the limit: refused by the size of the request, before its body is read.
        response = client.post(
            "/api/v1/documents",
            content=b"x" * 100,
            headers={"content-length": str(10**9), "content-type": "multipart/form-data"},
        )
        assert response.status_code == 413
        big = client.post("/api/v1/documents", files={"files": ("big.md", b"word " * 20_000)})
        assert big.status_code == 413 and "limit" in big.json()["detail"]
        # A body without a length is counted as it is read and cut off at the limit.
        chunked = client.post(
            "/api/v1/documents",
            content=iter([b"--x\r\n", *[b"x" * 65536] * 40]),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert chunked.status_code == 413 and "limit" in chunked.json()["detail"]
        # Other routes take far less than an upload (BRIEFQA_MAX_REQUEST_MB).
        question = {"question": "x" * 3_000_000}
        assert client.post("/api/v1/ask", json=question).status_code == 413
    qa.close()
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(data)}
    assert after == before, "nothing is written outside the data dir"
    stored = [p for p in (data / "uploads").rglob("*") if p.is_file()]
    assert len(stored) == len(names)
    assert not [p for p in stored if p.name.startswith(".")], "no hidden files"
    assert max(len(p.name.encode()) for p in stored) <= 150
    assert all(p.resolve().is_relative_to((data / "uploads").resolve()) for p in stored)
    assert SEED.exists()


# Routes that read a body, as an anonymous caller would send one.
BODY_ROUTES = [
    "/api/v1/ask", "/api/v1/documents", "/api/v1/export", "/api/v1/feedback",
    "/v1/chat/completions", "/mcp/", "/gradio_api/upload", "/gradio_api/queue/join",
]  # fmt: skip


def _send_headers(url: str, path: str, length: int | None, auth: str = "") -> socket.socket:
    """A POST's request line and headers, declaring ``length`` bytes (chunked if None)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    login = f"Authorization: {auth}\r\n" if auth else ""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}{login}{size}\r\n\r\n".encode())
    return sock


def _status(sock: socket.socket) -> int:
    line = sock.makefile("rb").readline().decode()
    return int(line.split()[1])


def _readable(sock: socket.socket) -> bool:
    """Whether the server has answered (poll, not select: the test process may hold
    more than 1,024 descriptors by now, which select cannot watch)."""
    watch = select.poll()
    watch.register(sock, select.POLLIN)
    return bool(watch.poll(0))


def _rss_mb(url: str) -> float:
    """The resident memory of the server listening at ``url`` (Linux)."""
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and port.encode() in command:
            status = (proc / "status").read_text()
            return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]
    raise AssertionError(f"no server process on port {port}")


@pytest.mark.server
@pytest.mark.slow
def test_with_logins_on_no_body_is_read_before_the_login(locked: tuple[str, Path]) -> None:
    url, _ = locked
    for path in BODY_ROUTES:
        # 150 MB declared and none sent: the answer comes without waiting for the body.
        with _send_headers(url, path, 150 * 1024 * 1024) as sock:
            assert _status(sock) == 401, path
    # Twelve callers at once pushing 150 MB each: all refused, the server's memory flat.
    before = _rss_mb(url)
    peak = [before]

    def push(path: str) -> int:
        with _send_headers(url, path, 150 * 1024 * 1024) as sock:
            sock.settimeout(10)
            chunk = b"x" * (1024 * 1024)
            try:
                for _ in range(150):
                    if _readable(sock):
                        break  # answered
                    sock.sendall(chunk)
                    peak[0] = max(peak[0], _rss_mb(url))
            except OSError:
                pass  # the server closed a refused request's connection
            return _status(sock)

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(push, (BODY_ROUTES * 2)[:12]))
    assert statuses == [401] * 12
    assert peak[0] - before <= 50, (before, peak[0])


@pytest.mark.server
@pytest.mark.slow
def test_a_logged_in_body_over_its_routes_limit_is_cut_off_while_read(
    locked: tuple[str, Path],
) -> None:
    url, _ = locked
    login = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    # Declared over the 2 MB of a question: refused before a byte of it is read.
    with _send_headers(url, "/api/v1/ask", 3 * 1024 * 1024, login) as sock:
        assert _status(sock) == 413
    # Sent in chunks with no length: counted as it arrives and cut off at the limit.
    for path in ("/api/v1/ask", "/v1/chat/completions"):
        with _send_headers(url, path, None, login) as sock:
            chunk = b"x" * 65536
            try:
                for _ in range(64):
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                pass
            assert _status(sock) == 413, path
