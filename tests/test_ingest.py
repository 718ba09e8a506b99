"""Ingestion end to end: real model, real Chroma (embedded and `chroma run`)."""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from briefqa import BriefQA, ConfigError, IndexLocked, NotFound, Settings, StoreError, load_brief
from briefqa.index.directory import ingest_lock
from briefqa.index.embeddings import SentenceTransformerEmbedder, Vectors
from briefqa.index.ingest import expand_paths
from briefqa.index.isolation import ParseLimits
from briefqa.index.store import ChromaStore
from briefqa.schema import Brief, IngestError
from briefqa.testing import HashEmbedder


class Counting:
    """Wraps the real embedder and counts what it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.embedded = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self.inner.embed(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def _consistent(qa: BriefQA) -> set[str]:
    """Store and manifest hold exactly the same chunk ids, and nothing is pending."""
    in_manifest = qa.index.manifest.chunk_ids()
    assert len(in_manifest) == len(set(in_manifest)), "duplicate chunk ids in the manifest"
    assert qa.index.store.ids() == set(in_manifest)
    assert qa.index.manifest.pending() == []
    return set(in_manifest)


def test_seed_brief_is_indexed_with_its_metadata(qa: BriefQA, seed: Path) -> None:
    report = qa.ingest([seed.parent])
    assert (report.added, report.failed, report.errors) == (1, 0, [])
    [info] = qa.documents()
    assert info.title == "NATO Intensifies Cooperation with Indo-Pacific Partners"
    assert (info.number, info.date, info.format) == ("116", "2023-08-24", "txt")
    assert info.sections == ("Basis for Cooperation", "Opportunities", "Limitations", "Conclusions")
    assert info.chunks == report.chunks > 0
    assert info.sources == (str(seed.resolve()),)
    ids = _consistent(qa)
    stored = qa.index.store.get(sorted(ids))
    assert not any("PEMPEL" in c.text or "Reuters/Forum" in c.text for c in stored)
    assert any("France’s opposition" in c.text for c in stored)
    text = load_brief(seed).text
    assert all(text[c.start : c.end] == c.text for c in stored), "stored offsets slice back"


def test_search_finds_the_passage(
    qa: BriefQA, seed: Path, embedder: SentenceTransformerEmbedder
) -> None:
    qa.ingest(seed)
    query = embedder.embed(["Which country opposed a NATO liaison office in Tokyo?"])[0]
    hits = qa.index.store.search(query, k=3)
    assert any("France’s opposition" in chunk.text for chunk, _ in hits)
    fused = qa.retrieve("Which country opposed a NATO liaison office in Tokyo?", k=2)
    assert any(h.section == "Limitations" and "France’s opposition" in h.text for h in fused)


def test_reingest_unchanged_computes_no_embeddings(
    tmp_path: Path, seed: Path, embedder: SentenceTransformerEmbedder
) -> None:
    counting = Counting(embedder)
    with BriefQA(tmp_path / "data", embedder=counting) as qa:
        first = qa.ingest([seed.parent])
        assert counting.embedded == first.chunks > 0
        ids = _consistent(qa)
        second = qa.ingest([seed.parent])
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, 1, 0)
    assert counting.embedded == first.chunks, "nothing may be embedded again"
    with BriefQA(tmp_path / "data", embedder=counting) as again:  # a new process, same index
        assert again.ingest([seed]).unchanged == 1
        assert _consistent(again) == ids


def test_changed_brief_replaces_its_chunks(qa: BriefQA, seed: Path) -> None:
    qa.ingest([seed])
    old_ids = _consistent(qa)
    old_id = qa.documents()[0].doc_id
    seed.write_text(seed.read_text().replace("France’s opposition", "Spain’s opposition"))
    report = qa.ingest([seed])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
    [info] = qa.documents()
    assert info.doc_id != old_id
    new_ids = _consistent(qa)
    assert not (old_ids & new_ids), "no chunk of the old version may survive"
    texts = [c.text for c in qa.index.store.get(sorted(new_ids))]
    assert any("Spain’s opposition" in t for t in texts)
    assert not any("France’s opposition" in t for t in texts)


def test_prune_removes_briefs_whose_files_are_gone(qa: BriefQA, seed: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.md"
    other.write_text("# Arctic\n\n" + "Ice is melting fast in the Arctic region this year. " * 5)
    qa.ingest([seed, other])
    assert len(qa.documents()) == 2
    other.unlink()
    kept = qa.ingest([seed])
    assert kept.removed == 0 and len(qa.documents()) == 2, "without --prune nothing is removed"
    pruned = qa.ingest([seed], prune=True)
    assert pruned.removed == 1
    assert [d.title for d in qa.documents()] == [
        "NATO Intensifies Cooperation with Indo-Pacific Partners"
    ]
    _consistent(qa)


def test_a_corrupt_file_does_not_stop_the_batch(qa: BriefQA, seed: Path) -> None:
    folder = seed.parent
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "good.md").write_text("# Cables\n\n" + "Undersea cables carry the data. " * 10)
    report = qa.ingest([folder, folder / "missing.txt"])
    assert report.added == 2
    assert report.failed == 4 and not report.ok
    reasons = {Path(e.path).name: e.error for e in report.errors}
    assert "not a readable PDF" in reasons["broken.pdf"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "no such file" in reasons["missing.txt"]
    assert len(qa.documents()) == 2
    _consistent(qa)


def test_same_brief_from_two_files_is_stored_once(qa: BriefQA, seed: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    shutil.copy(seed, copy)
    report = qa.ingest([seed, copy])
    assert (report.added, report.unchanged) == (1, 1)
    [info] = qa.documents()
    assert len(info.sources) == 2
    seed.unlink()
    assert qa.ingest([copy], prune=True).removed == 0, "still present through the copy"
    copy.unlink()
    assert qa.ingest([], prune=True).removed == 1
    assert qa.index.store.count() == 0
    _consistent(qa)


def test_remove_by_id(qa: BriefQA, seed: Path) -> None:
    qa.ingest([seed])
    doc_id = qa.documents()[0].doc_id
    qa.remove(doc_id)
    assert qa.documents() == [] and qa.index.store.count() == 0
    with pytest.raises(NotFound, match=doc_id):
        qa.remove(doc_id)


class FailingStore(ChromaStore):
    """A real Chroma store whose writes fail after a given number of calls."""

    def __init__(self, path: Path, fail_after: int) -> None:
        inner = ChromaStore.persistent(path, "briefs")
        self.__dict__.update(inner.__dict__)
        self.left = fail_after

    def upsert(self, chunks, embeddings) -> None:  # type: ignore[no-untyped-def]
        super().upsert(chunks[: len(chunks) // 2], embeddings[: len(chunks) // 2])
        if self.left <= 0:
            raise StoreError("disk full (simulated)")
        self.left -= 1
        super().upsert(chunks, embeddings)


def test_a_failed_write_leaves_no_partial_brief(tmp_path: Path, seed: Path) -> None:
    embedder = HashEmbedder()
    data = tmp_path / "data"
    with BriefQA(data, embedder=embedder, store=FailingStore(data / "chroma", 0)) as qa:
        with pytest.raises(StoreError):
            qa.ingest([seed])
        assert qa.documents() == []
        assert qa.index.manifest.pending(), "the half-written chunks are known"
    # The next run (a healthy store on the same files) cleans up and indexes whole.
    with BriefQA(data, embedder=embedder) as qa:
        assert qa.ingest([seed]).added == 1
        _consistent(qa)


def test_embedding_failure_is_reported_per_brief(tmp_path: Path, seed: Path) -> None:
    embedder = HashEmbedder()
    embedder.fail_on = "France"
    with BriefQA(tmp_path / "data", embedder=embedder) as qa:
        report = qa.ingest([seed])
        assert report.failed == 1 and "fake failure" in report.errors[0].error
        assert qa.documents() == [] and qa.index.store.count() == 0


def _brief(word: str) -> str:
    return f"# {word} brief\n\n" + f"The {word} region matters a great deal for security. " * 5


def test_embedding_failure_fails_only_the_failing_brief(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, word in [("a.md", "Arctic"), ("b.md", "Baltic"), ("c.md", "Caspian")]:
        (docs / name).write_text(_brief(word))
    embedder = HashEmbedder()
    embedder.fail_on = "Baltic"
    seen: list[tuple[int, int]] = []
    with BriefQA(tmp_path / "data", embedder=embedder) as qa:
        report = qa.ingest([docs], progress=lambda done, total: seen.append((done, total)))
        assert (report.added, report.updated, report.unchanged, report.failed) == (2, 0, 0, 1)
        assert [Path(e.path).name for e in report.errors] == ["b.md"]
        assert "fake failure" in report.errors[0].error
        assert sorted(d.title for d in qa.documents()) == ["Arctic brief", "Caspian brief"]
        _consistent(qa)
    assert seen[-1][0] == seen[-1][1] > 0, "progress must reach the total"


def test_embedding_failure_fails_every_copy_of_the_brief(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a1.md").write_text(_brief("Arctic"))
    (docs / "a2.md").write_text(_brief("Arctic"))
    (docs / "b.md").write_text(_brief("Baltic"))
    embedder = HashEmbedder()
    embedder.fail_on = "Arctic"
    with BriefQA(tmp_path / "data", embedder=embedder) as qa:
        report = qa.ingest([docs])
        assert (report.added, report.unchanged, report.failed) == (1, 0, 2)
        assert report.failed == len(report.errors)
        assert sorted(Path(e.path).name for e in report.errors) == ["a1.md", "a2.md"]
        assert [d.title for d in qa.documents()] == ["Baltic brief"]
        _consistent(qa)


def test_a_changed_file_counts_as_updated_whatever_its_new_content(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "b.md").write_text(_brief("Baltic"))
    (docs / "d.md").write_text(_brief("Danube"))
    (docs / "e.md").write_text(_brief("Euphrates"))
    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        qa.ingest([docs])
        # b.md changes to the content of a new file added in the same run (sorted first).
        (docs / "b.md").write_text(_brief("Caspian"))
        (docs / "a-new.md").write_text(_brief("Caspian"))
        # d.md changes to the content of a brief already indexed.
        (docs / "d.md").write_text(_brief("Euphrates"))
        report = qa.ingest([docs], prune=True)
        assert (report.added, report.updated, report.unchanged, report.failed) == (1, 2, 1, 0)
        assert report.failed == len(report.errors) == 0
        sources = {d.title: len(d.sources) for d in qa.documents()}
        assert sources == {"Caspian brief": 2, "Euphrates brief": 2}
        _consistent(qa)


def test_files_are_hashed_once_and_unchanged_ones_not_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import briefqa.index.ingest as ingest

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(_brief("Arctic"))
    hashed: list[Path] = []
    parsed: list[Path] = []
    real_sha, real_read = ingest._sha256, ingest.read_brief

    def sha(path: Path) -> str:
        hashed.append(path)
        return real_sha(path)

    def read(path: str | Path, limits: ParseLimits) -> Brief:
        parsed.append(Path(path))
        return real_read(path, limits)

    monkeypatch.setattr(ingest, "_sha256", sha)
    monkeypatch.setattr(ingest, "read_brief", read)
    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        assert qa.ingest([docs]).added == 1
        assert (len(hashed), len(parsed)) == (0, 1), "a new file is read and hashed once"
        [source] = qa.index.manifest.sources()
        assert source.sha256 == load_brief(docs / "a.md").sha256
        assert qa.ingest([docs]).unchanged == 1
        assert (len(hashed), len(parsed)) == (1, 1), "an unchanged file is never parsed"


def test_a_path_that_is_not_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    files, errors = expand_paths([fifo])
    assert files == []
    assert errors == [IngestError(str(fifo), "not a regular file")]


def test_ingest_lock_refuses_a_second_writer_after_the_wait(tmp_path: Path, seed: Path) -> None:
    settings = Settings(lock_wait_s=0.3)
    with BriefQA(tmp_path / "data", settings=settings, embedder=HashEmbedder()) as qa:
        with ingest_lock(qa.data_dir), pytest.raises(IndexLocked, match=r"waited 0\.3 s"):
            qa.ingest([seed])
        assert qa.ingest([seed]).added == 1  # released afterwards


def test_a_writer_waits_for_another_to_finish(tmp_path: Path, seed: Path) -> None:
    with BriefQA(tmp_path / "data", embedder=HashEmbedder()) as qa:
        with ingest_lock(qa.data_dir):
            later = threading.Thread(target=lambda: qa.ingest([seed]))
            later.start()
            time.sleep(0.5)
            assert later.is_alive() and qa.documents() == []
        later.join(timeout=60)
        assert [b.title for b in qa.documents()] == [load_brief(seed).title]


def test_a_long_ingest_lets_an_upload_in_between_batches(
    tmp_path: Path, seed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("briefqa.index.ingest._BATCH", 2)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(8):
        (corpus / f"brief-{n}.txt").write_text(f"Brief {n}\n\nParagraph number {n} of a corpus.\n")
    events: list[str] = []
    qa = BriefQA(tmp_path / "data", embedder=HashEmbedder())

    def upload() -> None:
        qa.add("upload.txt", b"An Upload\n\nIt was added while the corpus was indexed.\n")
        events.append("upload done")

    uploader = threading.Thread(target=upload)

    def progress(done: int, total: int) -> None:
        if not uploader.is_alive() and not events:
            events.append("ingest started")
            uploader.start()
            # Wait until the upload queues for the lock (it holds the queue shared).
            with open(qa.data_dir / "ingest.queue", "a+") as queue:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        return
                    fcntl.flock(queue, fcntl.LOCK_UN)
                    time.sleep(0.02)

    report = qa.ingest([corpus], progress=progress)
    events.append("ingest done")
    uploader.join(timeout=60)
    assert report.added == 8
    assert events == ["ingest started", "upload done", "ingest done"]
    assert len(qa.documents()) == 9
    qa.close()


def test_index_remembers_its_embedding_model(tmp_path: Path, seed: Path) -> None:
    with BriefQA(tmp_path / "data", embedder=HashEmbedder(name="model-a")) as qa:
        qa.ingest([seed])
    with (
        BriefQA(tmp_path / "data", embedder=HashEmbedder(name="model-b")) as qa,
        pytest.raises(ConfigError, match="model-a"),
    ):
        qa.ingest([seed])


@pytest.mark.server
def test_ingest_into_a_chroma_server(
    chroma_server: str, tmp_path: Path, seed: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(chroma_url=chroma_server, data_dir=tmp_path / "data")
    with BriefQA(settings=settings, embedder=embedder) as qa:
        report = qa.ingest([seed])
        assert report.added == 1
        assert isinstance(qa.index.store, ChromaStore)
        ids = _consistent(qa)
        query = embedder.embed(["Which country opposed a NATO liaison office in Tokyo?"])[0]
        assert any("France’s opposition" in c.text for c, _ in qa.index.store.search(query, k=3))
        assert qa.ingest([seed]).unchanged == 1
        assert _consistent(qa) == ids
    # Nothing of the index lives in the data dir but the manifest.
    assert not (tmp_path / "data" / "chroma").exists()


def test_unreachable_chroma_server_is_a_clear_error(tmp_path: Path) -> None:
    from .conftest import free_port

    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}")
    with (
        BriefQA(settings=settings, embedder=HashEmbedder()) as qa,
        pytest.raises(StoreError, match="cannot reach the Chroma server"),
    ):
        qa.index.store.count()
