"""The REST and OpenAI-compatible API fuzzed from its own OpenAPI schema (schemathesis):
whatever a client sends that the schema allows or nearly allows, the server answers
without a 5xx, logins off and on (with and without the login)."""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from briefqa import BriefQA, Settings
from briefqa.serve.auth import hash_password
from briefqa.serve.server import create_app
from briefqa.testing import HashEmbedder

from .conftest import SEED

PASSWORD = "fuzz-pass-8412"
LOGIN = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
# schemathesis reads the schema when the tests are collected, so the two apps (one open,
# one behind logins) are built then, on the hash embedder: about a second.
FOLDER = Path(tempfile.mkdtemp(prefix="briefqa-fuzz-"))
atexit.register(shutil.rmtree, FOLDER, True)


def _app(name: str, **options: Any) -> Any:
    qa = BriefQA(FOLDER / name, settings=Settings(**options), embedder=HashEmbedder())
    qa.ingest([SEED])
    atexit.register(qa.close)
    return create_app(qa, ui=False)


USERS = FOLDER / "users"
USERS.write_text(f"alice:{hash_password(PASSWORD)}\n")
OPEN = schemathesis.openapi.from_asgi("/api/v1/openapi.json", _app("open", max_upload_mb=0.1))
LOCKED = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json",
    _app("locked", max_upload_mb=0.1, auth_file=USERS),
    headers={"Authorization": LOGIN},  # to read the schema
)
FUZZ = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


@OPEN.parametrize()
@FUZZ
def test_no_request_is_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


@LOCKED.parametrize()
@FUZZ
def test_no_request_is_a_server_error_with_logins_on(case: schemathesis.Case) -> None:
    logged_in = case.call(headers={"Authorization": LOGIN})
    assert logged_in.status_code < 500, (case.method, case.path, logged_in.text[:300])
    anonymous = case.call(headers={"Authorization": "Bearer"})  # no user, no password
    assert anonymous.status_code == 401, (case.method, case.path, anonymous.status_code)
