"""The ONNX Runtime embedder: the same vectors and token counts as sentence-transformers,
and a server that answers without torch in its address space."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from briefqa import BriefQA, Settings, load_brief
from briefqa.index.chunking import chunk_brief
from briefqa.index.embeddings import SentenceTransformerEmbedder, embedder_from_settings
from briefqa.index.onnx_embedder import OnnxEmbedder
from briefqa.schema import Chunk
from briefqa.text import sentence_spans

from .conftest import ROOT, SEED, free_port, running_server


@pytest.fixture(scope="module")
def onnx(model_cache: Path) -> OnnxEmbedder:
    """The packaged model, exported once for the run (the tests' model cache)."""
    return OnnxEmbedder(cache_dir=model_cache)


def _chunks(embedder: SentenceTransformerEmbedder) -> list[Chunk]:
    settings = Settings()
    folder = Path(os.environ["BRIEFQA_DATA_DIR"]).parent / "docs"
    folder.mkdir()
    paths = [SEED]
    with open(ROOT / "evals" / "clapnq_dev" / "docs.jsonl", encoding="utf-8") as rows:
        for n, line in enumerate(rows):
            doc = json.loads(line)
            paths.append(folder / f"{n}.txt")
            paths[-1].write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return [
        chunk
        for path in paths
        for chunk in chunk_brief(
            load_brief(path),
            embedder.count_tokens,
            max_tokens=embedder.max_tokens,
            target_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
    ]


def test_same_vectors_and_token_counts_as_torch(
    onnx: OnnxEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    chunks = _chunks(embedder)
    texts = [c.embedding_text for c in chunks]
    assert len(texts) > 500
    # Chunking depends on the counts: the same counts make the same chunks.
    assert onnx.count_tokens(texts) == embedder.count_tokens(texts)
    assert onnx.count_tokens([c.text for c in chunks]) == embedder.count_tokens(
        [c.text for c in chunks]
    )
    assert (onnx.name, onnx.max_tokens, onnx.dimension) == (
        embedder.name,
        embedder.max_tokens,
        embedder.dimension,
    )
    ours, theirs = onnx.embed(texts), embedder.embed(texts)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * theirs).sum(axis=1).min()) >= 0.9999
    # Longer than the model reads: both cut at the same word piece.
    long = ["word " * 600]
    assert float(onnx.embed(long)[0] @ embedder.embed(long)[0]) >= 0.9999

    # Span vectors, as ingest asks for them (sentences after the heading line).
    seed = [c for c in chunks if c.doc_id == chunks[0].doc_id]
    seed_texts = [c.embedding_text for c in seed]
    spans = [
        [(a + len(t) - len(c.text), b + len(t) - len(c.text)) for a, b in sentence_spans(c.text)]
        for c, t in zip(seed, seed_texts, strict=True)
    ]
    ours_p, ours_s = onnx.embed_with_spans(seed_texts, spans)
    theirs_p, theirs_s = embedder.embed_with_spans(seed_texts, spans)
    assert float((ours_p * theirs_p).sum(axis=1).min()) >= 0.9999
    for a, b in zip(ours_s, theirs_s, strict=True):
        assert a.shape == b.shape and (a.size == 0 or float((a * b).sum(axis=1).min()) >= 0.9999)


def test_the_export_is_cached_by_weights_and_backend_chosen_by_settings(
    onnx: OnnxEmbedder, tmp_path: Path
) -> None:
    models = Path(os.environ["BRIEFQA_MODEL_CACHE_DIR"])
    exported = onnx.path
    built = embedder_from_settings(Settings())  # finds the export in the model cache
    assert isinstance(built, OnnxEmbedder) and built.name == "all-MiniLM-L6-v2"
    # No second export and no temporary file left behind.
    assert [p.name for p in models.iterdir()] == [exported.parent.name]
    assert exported.parent.name.startswith("all-MiniLM-L6-v2-")
    # The weights beside the graph, where ONNX Runtime maps them instead of copying.
    files = sorted(p.name for p in exported.parent.iterdir())
    assert files == ["model.onnx", "model.onnx.data", "sha256.json"]
    torch = embedder_from_settings(Settings(embedding_backend="torch"))
    assert isinstance(torch, SentenceTransformerEmbedder)


def test_a_damaged_export_is_found_by_its_hashes_and_made_again(
    onnx: OnnxEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "models"
    copy = cache / onnx.path.parent.name
    shutil.copytree(onnx.path.parent, copy)
    weights = copy / "model.onnx.data"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4096] = bytes(4096)  # a page of weights zeroed
    weights.write_bytes(bytes(raw))
    again = OnnxEmbedder(cache_dir=cache)
    assert "does not match its hashes: exporting it again" in caplog.text
    assert again.path == copy / "model.onnx" and weights.read_bytes() != bytes(raw)
    texts = ["Which country opposed a NATO liaison office in Tokyo?"]
    assert np.allclose(again.embed(texts), onnx.embed(texts), atol=1e-5)


def test_serve_answers_without_torch(onnx: OnnxEmbedder, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with BriefQA(data, settings=Settings(), embedder=onnx) as qa:
        assert qa.ingest([SEED]).chunks > 5

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    # The server finds the export in the model cache, as the settings say.
    env.update(
        BRIEFQA_DATA_DIR=str(data),
        BRIEFQA_CORPUS_DIR=str(tmp_path / "none"),
        BRIEFQA_MODEL_CACHE_DIR=str(onnx.path.parent.parent),
    )
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with running_server(command, f"{url}/api/v1/healthz", log, 120, env) as server:
        request = urllib.request.Request(
            f"{url}/api/v1/ask",
            data=json.dumps({"question": "Which country opposed a NATO office in Tokyo?"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        body = json.loads(urllib.request.urlopen(request, timeout=60).read())
        assert "France" in body["answer"] and body["citations"], body
        maps = Path(f"/proc/{server.pid}/maps").read_text()
    assert "onnxruntime" in maps
    assert "libtorch" not in maps, "briefqa serve loaded torch"
