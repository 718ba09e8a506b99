"""The `briefqa` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import briefqa

from .conftest import SEED

REPORT_KEYS = {"added", "updated", "unchanged", "removed", "failed", "chunks", "seconds", "errors"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefqa.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


@pytest.mark.slow
def test_ingest_json_docs_and_exit_codes(tmp_path: Path) -> None:
    folder = tmp_path / "briefs"
    folder.mkdir()
    (folder / "seed.txt").write_bytes(SEED.read_bytes())
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.5 broken")

    first = _run("ingest", str(folder), "--json")
    assert first.returncode == 1, first.stderr  # one file failed
    summary = json.loads(first.stdout)
    assert set(summary) == REPORT_KEYS
    assert (summary["added"], summary["failed"]) == (1, 1)
    assert summary["errors"][0]["path"].endswith("corrupt.pdf")
    assert "not a readable PDF" in summary["errors"][0]["error"]

    (folder / "corrupt.pdf").unlink()
    second = _run("ingest", str(folder), "--json", "--prune")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["unchanged"] == 1
    assert json.loads(second.stdout)["chunks"] == 0

    docs = _run("docs", "--json")
    assert docs.returncode == 0
    [info] = json.loads(docs.stdout)
    assert info["number"] == "116" and info["date"] == "2023-08-24"

    listing = _run("docs")
    assert "NATO Intensifies Cooperation" in listing.stdout and "No. 116" in listing.stdout

    plain = _run("ingest", str(folder))
    assert "unchanged 1" in plain.stdout and plain.returncode == 0

    removed = _run("remove", info["doc_id"])
    assert removed.returncode == 0
    missing = _run("remove", info["doc_id"])
    assert missing.returncode == 2 and "no brief with id" in missing.stderr


def test_cli_is_built_on_the_public_api() -> None:
    source = Path(briefqa.__file__).with_name("cli.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("briefqa." not in line for line in imports), imports


def test_public_api_matches_all() -> None:
    # dir() lists the lazily loaded eval names, too; getattr loads them. Submodules
    # (briefqa.engine, briefqa.prompts, ...) appear once imported and are not exports.
    exported = {
        name
        for name in dir(briefqa)
        if not name.startswith("_") and not isinstance(getattr(briefqa, name), ModuleType)
    }
    assert set(briefqa.__all__) - {"__version__"} == exported


def test_import_leaves_the_eval_extra_alone() -> None:
    # A fresh interpreter: this one has long since imported everything.
    code = (
        "import sys, briefqa; "
        "print(sorted(m for m in ('matplotlib', 'langchain_text_splitters', 'sklearn', "
        "'briefqa.evaluation', 'briefqa.reports') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_settings_come_from_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("briefqa.toml").write_text('collection = "from_toml"\nchunk_tokens = 100\n')
    monkeypatch.setenv("BRIEFQA_CHUNK_TOKENS", "120")
    settings = briefqa.Settings()
    assert settings.collection == "from_toml"
    assert settings.chunk_tokens == 120  # the environment wins over the file
    monkeypatch.setenv("BRIEFQA_CHROMA_URL", "localhost:8000")
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        briefqa.Settings()
