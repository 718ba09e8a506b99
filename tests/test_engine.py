"""The engine's edges: reuse after close, threads, bad settings, bad inputs, bad files."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

from briefqa import (
    BriefQA,
    ConfigError,
    Filters,
    InvalidQuestion,
    Settings,
    StoreError,
    load_settings,
)
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.testing import HashEmbedder

from .conftest import SEED


def test_engine_works_again_after_close(tmp_path: Path) -> None:
    qa = BriefQA(tmp_path / "data", embedder=HashEmbedder())
    qa.ingest([SEED])
    first = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    qa.close()
    again = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    assert again.text == first.text
    qa.close()


def test_parts_are_built_once_across_threads(tmp_path: Path) -> None:
    qa = BriefQA(tmp_path / "data", embedder=HashEmbedder())
    qa.ingest([SEED])
    qa.close()
    answerers = []

    def work() -> None:
        answerers.append(qa.answerer)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(a) for a in answerers}) == 1
    qa.close()


def test_searching_never_builds_the_answer_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MCP search_briefs and as_retriever search; with a local LLM configured, they must
    not load it (a GGUF model takes seconds and hundreds of MB)."""
    import briefqa.answer.llm

    loaded: list[str] = []

    class Loading:
        def __init__(self, settings: object) -> None:
            loaded.append("the answer model")
            raise AssertionError("a search built the answer model")

    monkeypatch.setattr(briefqa.answer.llm, "ChatWriter", Loading)
    qa = BriefQA(tmp_path / "data", settings=Settings(llm="llamacpp"), embedder=HashEmbedder())
    qa.ingest([SEED])
    question = "Which country opposed a NATO liaison office in Tokyo?"
    assert qa.retrieve(question, k=3)
    assert qa.as_retriever(k=3).invoke(question)
    assert qa.evidence(question) is not None
    pytest.importorskip("mcp")
    from briefqa.serve.mcp_server import create_server

    found = anyio.run(create_server(qa).call_tool, "search_briefs", {"query": question, "k": 3})
    assert "liaison" in str(found).lower()
    qa.warm_up()
    assert loaded == []
    with pytest.raises(AssertionError, match="built the answer model"):
        qa.ask(question)  # an answer does build it
    qa.close()


def test_every_write_ends_with_the_lexical_index_current(tmp_path: Path) -> None:
    """ingest, add and remove each leave the saved BM25 index at the manifest's
    generation, so the next question (in this or another process) rebuilds nothing."""
    qa = BriefQA(tmp_path / "data", embedder=HashEmbedder())

    def saved() -> list[str]:
        return sorted(p.name for p in (qa.data_dir / "bm25").glob("gen-*"))

    qa.ingest([SEED])
    generation = qa.index.manifest.generation
    assert saved() == [f"gen-{generation()}"]
    info = qa.add("rare.txt", b"Rare Words\n\nThe quokka census counted 4,112 animals.\n")
    assert saved() == [f"gen-{generation()}"]
    [hit] = qa.retrieve("quokka", k=1, mode="lexical")
    assert hit.doc_id == info.doc_id
    qa.remove(info.doc_id)
    assert saved() == [f"gen-{generation()}"]
    assert not qa.retrieve("quokka", k=1, mode="lexical")
    qa.close()


def test_asking_with_another_model_than_the_index_is_refused(tmp_path: Path) -> None:
    with BriefQA(tmp_path / "data", embedder=HashEmbedder(name="model-a")) as qa:
        qa.ingest([SEED])
    with (
        BriefQA(tmp_path / "data", embedder=HashEmbedder(name="model-b")) as qa,
        pytest.raises(ConfigError, match="model-a"),
    ):
        qa.ask("Which country opposed the office?")


def test_invalid_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFQA_TOP_K", "0")
    with pytest.raises(ConfigError, match="top_k"):
        BriefQA()
    monkeypatch.delenv("BRIEFQA_TOP_K")
    Path("briefqa.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match=r"briefqa\.toml"):
        load_settings()
    Path("briefqa.toml").write_text("chunk_tokens = 100\nchunk_overlap_tokens = 80\n")
    with pytest.raises(ConfigError, match="at most half"):
        load_settings()


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        BriefQA(path)


def test_corrupt_manifest_is_a_store_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="unreadable"):
        BriefQA(data, embedder=HashEmbedder()).documents()


def test_filters_are_validated() -> None:
    assert Filters(date_from="2023-08-24").date_from == "2023-08-24"
    with pytest.raises(InvalidQuestion, match="date like"):
        Filters(date_from="2023-1-5")
    with pytest.raises(InvalidQuestion, match="tuple"):
        Filters(doc_ids="a330b309642cba01")  # type: ignore[arg-type]


def test_bad_history_and_invisible_questions(tmp_path: Path) -> None:
    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        qa.ingest([SEED])
        with pytest.raises(InvalidQuestion, match="history"):
            qa.ask("why?", history=["hello"])  # type: ignore[list-item]
        with pytest.raises(InvalidQuestion, match="empty"):
            qa.ask("\u200b\u200b\ufeff")
        answer = qa.ask("Why?", history=[{"role": "user", "content": None}])  # type: ignore[dict-item]
        assert "None" not in answer.standalone_question


def test_extractive_text_that_sounds_like_a_refusal_is_still_an_answer(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    brief = tmp_path / "air.md"
    brief.write_text(
        "# Air Defence\n\nThe alliance cannot answer every request for air defence systems "
        "from Ukraine, because its own stocks of interceptors are low.\n"
    )
    with BriefQA(tmp_path / "data", embedder=embedder) as qa:
        qa.ingest([brief])
        answer = qa.ask("Why can the alliance not answer every request for air defence systems?")
        assert not answer.refused
        assert "cannot answer every request" in answer.text


def test_changing_chunk_settings_on_an_existing_index_is_refused(tmp_path: Path) -> None:
    from briefqa import Settings

    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        qa.ingest([SEED])
    other = Settings(chunk_tokens=100, chunk_overlap_tokens=20)
    with BriefQA(tmp_path / "data", settings=other, embedder=HashEmbedder()) as qa:
        assert qa.ask("Which country opposed the office?").question  # asking is fine
        with pytest.raises(ConfigError, match="chunk_tokens/overlap"):
            qa.ingest([SEED])
