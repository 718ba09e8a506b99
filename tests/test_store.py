"""Every VectorStore implementation passes the same contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from briefqa.store import ChromaStore
from briefqa.testing import check_vector_store


def test_persistent_chroma_passes_the_contract(tmp_path: Path) -> None:
    check_vector_store(ChromaStore.persistent(tmp_path / "chroma", "briefs"))


@pytest.mark.server
def test_chroma_server_passes_the_contract(chroma_server: str) -> None:
    check_vector_store(ChromaStore.server(chroma_server, "contract"))


def test_persistent_store_survives_reopening(tmp_path: Path) -> None:
    from briefqa.testing import HashEmbedder, sample_chunk

    store = ChromaStore.persistent(tmp_path / "chroma", "briefs")
    chunk = sample_chunk(0, "a", "text that must persist")
    store.upsert([chunk], HashEmbedder().embed([chunk.text]))
    # Another process: nothing can come from this process's in-memory Chroma instance.
    script = (
        "import sys; from pathlib import Path; from briefqa.store import ChromaStore; "
        "s = ChromaStore.persistent(Path(sys.argv[1]), 'briefs'); "
        "print([c.text for c in s.get(['a-0'])])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "chroma")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "['text that must persist']"
