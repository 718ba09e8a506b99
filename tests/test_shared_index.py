"""The index in PostgreSQL: workers with data dirs of their own (no shared file) behind
one database and one `chroma run` server, as on several hosts.

The manifest and the sentence vectors keep one contract in SQLite and PostgreSQL; two
engines see each other's uploads (dense and BM25) and removals; concurrent uploads
through both leave every brief once; a worker killed mid-ingest loses and duplicates
nothing (`briefqa check` against the database); a database restart fails clearly then
works again; `briefqa check --rebuild` and `briefqa upgrade-database` keep everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from briefqa import BriefQA, ConfigError, IndexLocked, Settings, StoreError
from briefqa.database import writer_turn
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.index.manifest import Manifest, PostgresManifest, Source, SQLiteManifest
from briefqa.index.sentences import (
    PostgresSentenceVectors,
    SentenceVectors,
    SQLiteSentenceVectors,
)
from briefqa.schema import Brief

from .conftest import ROOT, SEED

pytestmark = [pytest.mark.server]

ARCTIC = (
    "Arctic Shipping Routes Open Up\n\n"
    "The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record year.\n"
)
ARCTIC_QUESTION = "How much cargo did the Northern Sea Route carry in 2023?"


def _brief(doc_id: str, text: str = "Some text.") -> Brief:
    return Brief(doc_id, f"Brief {doc_id}", text, (), f"/c/{doc_id}.txt", f"sha-{doc_id}", "txt")


@pytest.fixture(params=["sqlite", "postgres"])
def manifest(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Manifest]:
    if request.param == "sqlite":
        kept: Manifest = SQLiteManifest(tmp_path / "manifest.sqlite3")
    else:
        kept = PostgresManifest(request.getfixturevalue("postgres_url"))
    yield kept
    kept.close()


def test_the_manifest_keeps_one_contract_in_both_databases(manifest: Manifest) -> None:
    a, b = _brief("a"), _brief("b")
    manifest.add_pending(["a-1", "a-2", "b-1"])
    assert manifest.commit(
        [(a, ["a-1", "a-2"], [Source("/c/a.txt", "a", "sha-a")]),
         (b, ["b-1"], [Source("/c/b.txt", "b", "sha-b")])],
        fingerprints={"a": b"\x01\x02"},
    ) == []  # fmt: skip
    assert manifest.pending() == []
    assert [i.doc_id for i in manifest.briefs()] == ["a", "b"]
    assert manifest.chunk_ids("a") == ["a-1", "a-2"]
    assert [(c.doc_id, c.signature, c.origin) for c in manifest.copies()] == [
        ("a", b"\x01\x02", "/c/a.txt")
    ]
    generation = manifest.generation()
    manifest.fill_metadata("a", number="No. 7", date="2024-05-01", authors=["Ann Lee"])
    info = manifest.brief("a")
    assert info is not None and (info.number, info.date, info.authors) == (
        "No. 7", "2024-05-01", ("Ann Lee",)
    )  # fmt: skip
    assert manifest.generation() > generation
    # A second file of brief a; then b's only file re-pointed at a: b is dropped.
    assert manifest.point(Source("/c/a-copy.txt", "a", "sha-a2")) == []
    assert manifest.point(Source("/c/b.txt", "a", "sha-b2")) == ["b-1"]
    assert manifest.pending() == ["b-1"] and not manifest.has_brief("b")
    before = manifest.generation()
    manifest.clear_pending(["b-1"])
    assert manifest.pending() == [] and manifest.generation() == before + 1
    assert [s.path for s in manifest.sources_of("a")] == ["/c/a-copy.txt", "/c/a.txt", "/c/b.txt"]
    assert manifest.remove_source("/c/a.txt") == (None, [])  # a still has other files
    assert manifest.remove_brief("a") == ["a-1", "a-2"]
    assert manifest.remove_brief("a") is None and manifest.briefs() == []
    manifest.set_meta("embedding_model", "m1")
    manifest.set_meta("embedding_model", "m2")
    assert manifest.get_meta("embedding_model") == "m2"


def test_a_database_with_another_programs_tables_is_refused(postgres_url: str) -> None:
    import psycopg

    from briefqa import UnknownSchema

    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE meta (id INTEGER, note TEXT)")
    with pytest.raises(UnknownSchema, match=r"table\(s\) meta, which briefqa's index"):
        PostgresManifest(postgres_url)


def test_a_manifest_copies_into_postgres(tmp_path: Path, postgres_url: str) -> None:
    here = SQLiteManifest(tmp_path / "manifest.sqlite3")
    here.commit([(_brief("a"), ["a-1"], [Source("/c/a.txt", "a", "sha-a")])], {"a": b"\x00"})
    here.set_meta("index_id", "abc")
    there = PostgresManifest(postgres_url)
    assert there.load(here.dump()) == 1
    assert there.load(here.dump()) == 0  # nothing twice
    assert there.briefs() == here.briefs() and there.copies() == here.copies()
    assert there.get_meta("index_id") == "abc"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sentence_vectors_keep_one_contract(kind: str, tmp_path: Path, request: Any) -> None:
    vectors: SentenceVectors = (
        SQLiteSentenceVectors(tmp_path / "s.sqlite3")
        if kind == "sqlite"
        else PostgresSentenceVectors(request.getfixturevalue("postgres_url"))
    )
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((1, 3), np.float32)]
    vectors.put(["c1", "c2"], arrays)
    vectors.put(["c1"], [arrays[0] * 2])  # replaced
    got = vectors.get(["c1", "c2", "unknown"])
    assert set(got) == {"c1", "c2"} and np.allclose(got["c1"], arrays[0] * 2)
    assert vectors.ids() == {"c1", "c2"} and vectors.damaged() == []
    vectors.delete(["c1"])
    assert vectors.ids() == {"c2"}
    vectors.close()


def test_one_writer_at_a_time_across_workers(postgres_url: str) -> None:
    """The database's writer lock: a second writer waits its bounded time, then is
    refused (409 over REST); a long writer lets a waiting one go first."""
    order: list[str] = []
    with writer_turn(postgres_url, 0) as turn:
        with pytest.raises(IndexLocked, match=r"waited 0\.2 s"), writer_turn(postgres_url, 0.2):
            pass
        assert turn.give_way() is False  # nobody waits

        def waiter() -> None:
            with writer_turn(postgres_url, 30):
                order.append("waiter")

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.5)
        assert turn.give_way() is True
        order.append("long writer")
        thread.join()
    assert order == ["waiter", "long writer"]


def test_a_write_stops_when_the_writers_lock_is_lost(postgres_url: str) -> None:
    """The lock lives on a connection of its own; if it ends (a restart, a network cut),
    the writes that follow are refused instead of interleaving with another writer's."""
    import psycopg

    from briefqa import database

    manifest = PostgresManifest(postgres_url)
    with writer_turn(postgres_url, 0):
        manifest.set_meta("note", "kept")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            # The timeout makes it wait until the backend is gone, its locks with it.
            pid = database._holders.get()[postgres_url]
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        with pytest.raises(StoreError, match=r"writers' lock .* was lost"):
            manifest.set_meta("note", "after the lock was lost")
    assert manifest.get_meta("note") == "kept"
    with writer_turn(postgres_url, 5):  # free for the next writer
        manifest.set_meta("note", "next")


# ------------------------------------------------------------- two workers


@pytest.fixture
def shared(postgres_url: str, chroma_server: str, tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return Settings(
        database_url=postgres_url, chroma_url=chroma_server, corpus_dir=corpus, lock_wait_s=120
    )


def test_two_workers_with_data_dirs_of_their_own(
    tmp_path: Path, shared: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    one = BriefQA(tmp_path / "one", settings=shared, embedder=embedder)
    two = BriefQA(tmp_path / "two", settings=shared, embedder=embedder)
    with one, two:
        assert one.ingest([shared.corpus_dir]).added == 1
        assert [b.doc_id for b in two.documents()] == [b.doc_id for b in one.documents()]
        two.ask("Which country opposed a NATO liaison office in Tokyo?")  # BM25 built

        # An upload through one is answered by the other, from both sides of the search.
        added = one.add("arctic.txt", ARCTIC.encode())
        [key] = added.sources
        assert key.startswith("upload:")
        answer = two.ask(ARCTIC_QUESTION)
        assert "36 million tonnes" in answer.text
        cited = [s for s in answer.sources if s.doc_id == added.doc_id]
        assert cited and cited[0].lexical is not None, "two's BM25 index has the brief"
        assert not (tmp_path / "two" / "uploads").exists()  # no file was shared

        # The file is there for any worker that must read it again.
        local = two.index.file(key)
        assert local is not None and local.read_text() == ARCTIC
        assert local.is_relative_to(tmp_path / "two")

        two.remove(added.doc_id)
        assert added.doc_id not in {b.doc_id for b in one.documents()}
        again = one.ask(ARCTIC_QUESTION)
        assert all(s.doc_id != added.doc_id for s in again.sources + again.nearest)

        # Eight uploads at once, split across both: every brief once.
        texts = {
            f"brief-{i}.txt": f"Report {i}\n\nThe harbour of Port {i} moved {i + 3} ships.\n"
            for i in range(8)
        }
        errors: list[BaseException] = []

        def upload(engine: BriefQA, name: str) -> None:
            try:
                engine.add(name, texts[name].encode())
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=upload, args=(one if i % 2 else two, name))
            for i, name in enumerate(texts)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        titles = [b.title for b in one.documents()]
        assert sorted(t for t in titles if t.startswith("Report")) == sorted(
            f"Report {i}" for i in range(8)
        )
        for engine in (one, two):
            check = engine.check()
            assert check.consistent, check
            assert check.briefs == 9 and check.chunks == check.stored

        # A file another host indexed is not this host's to prune.
        [seed_brief] = [b for b in one.documents() if not b.title.startswith("Report")]
        elsewhere = Source("/srv/host-a/corpus/seed.txt", seed_brief.doc_id, "sha-of-a")
        one.index.manifest.point(elsewhere)
        (tmp_path / "empty").mkdir()
        assert two.ingest([tmp_path / "empty"], prune=True).removed == 0
        assert elsewhere.path in two.brief(seed_brief.doc_id).sources
        one.index.manifest.remove_source(elsewhere.path)

        # An upload through two, removed through one: two's copy of the file stays, but
        # is not the database's, and the rebuild below must not bring the brief back.
        removed = two.add("removed.txt", b"Removed brief\n\nIt said 7 things.\n")
        one.remove(removed.doc_id)
        generation = one.index.manifest.generation()

        # Starting again from the briefs' files: the uploads come back from the database.
        report, check = two.rebuild()
        assert report.failed == 0 and check.consistent and check.briefs == 9
        assert len(one.documents()) == 9
        assert removed.doc_id not in {b.doc_id for b in one.documents()}
        # The count goes on (one's BM25 index was built for an earlier generation), and
        # one reopens the collection two made again.
        assert two.index.manifest.generation() > generation
        later = two.add("later.txt", b"Later brief\n\nThe canal carried 41 barges in June.\n")
        found = one.ask("How many barges did the canal carry in June?")
        hit = [s for s in found.sources if s.doc_id == later.doc_id]
        assert hit and hit[0].lexical is not None


def test_a_local_chroma_with_a_shared_database_is_refused(
    tmp_path: Path, postgres_url: str, embedder: SentenceTransformerEmbedder
) -> None:
    settings = Settings(database_url=postgres_url)
    with BriefQA(tmp_path / "one", settings=settings, embedder=embedder) as one:
        one.ingest([SEED])
    two = BriefQA(tmp_path / "two", settings=settings, embedder=embedder)
    with two, pytest.raises(ConfigError, match="BRIEFQA_CHROMA_URL"):
        two.ask("Which country opposed a NATO liaison office in Tokyo?")


def test_the_data_dir_index_upgrades_into_postgres(
    tmp_path: Path, postgres_url: str, embedder: SentenceTransformerEmbedder
) -> None:
    """A data dir of today (its own Chroma files) moves its index into the database and
    serves on with it: same briefs, same answers, uploads readable from the database."""
    data = tmp_path / "data"
    with BriefQA(data, embedder=embedder) as here:
        here.ingest([SEED])
        upload = here.add("arctic.txt", ARCTIC.encode())
        before = here.ask(ARCTIC_QUESTION).text
        briefs = {b.doc_id for b in here.documents()}
    with BriefQA(data, settings=Settings(database_url=postgres_url), embedder=embedder) as there:
        counts = there.upgrade_database()
        assert (counts["briefs_copied"], counts["uploads_copied"]) == (2, 1)
        assert counts["sentence_rows_copied"] > 0
        assert there.upgrade_database()["briefs_copied"] == 0
        assert {b.doc_id for b in there.documents()} == briefs
        assert there.ask(ARCTIC_QUESTION).text == before
        [key] = there.brief(upload.doc_id).sources
        assert key.startswith("upload:") and there.index.uploads is not None
        assert there.index.uploads.has(key)
        assert there.check().consistent


# -------------------------------------------------------------- failures


def test_a_worker_killed_mid_ingest_loses_and_duplicates_nothing(
    tmp_path: Path, shared: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    """SIGKILL while the ingest writes (chunk ids pending in the database): another
    worker's `briefqa check` names what was left, the next ingest finishes the job."""
    corpus = tmp_path / "passages"
    corpus.mkdir()
    for i, line in enumerate(_passages(24)):
        (corpus / f"passage-{i:02d}.md").write_text(f"# Passage {i}\n\n{line}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    env.update(
        BRIEFQA_DATABASE_URL=str(shared.database_url),
        BRIEFQA_CHROMA_URL=str(shared.chroma_url),
        BRIEFQA_DATA_DIR=str(tmp_path / "killed"),
        BRIEFQA_EMBEDDING_BATCH_SIZE="1",  # many small writes to be killed in
        HF_HUB_OFFLINE="1",
    )
    command = [sys.executable, "-m", "briefqa.cli", "ingest", str(corpus)]
    manifest = PostgresManifest(str(shared.database_url))
    with open(tmp_path / "ingest.log", "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not (manifest.briefs() and manifest.pending()):
            assert proc.poll() is None, (tmp_path / "ingest.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the ingest never reached a second write"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with BriefQA(tmp_path / "checker", settings=shared, embedder=embedder) as other:
        left = other.check()
        assert left.pending and not left.missing and not left.duplicated
        report = other.ingest([corpus])
        assert report.failed == 0
        check = other.check()
        assert check.consistent, check
        assert check.briefs == 24 and check.chunks == check.stored
        titles = [b.title for b in other.documents()]
        assert sorted(titles) == sorted(set(titles)) and len(titles) == 24


def test_questions_fail_clearly_while_postgres_is_down_then_work_again(
    tmp_path: Path, chroma_server: str, embedder: SentenceTransformerEmbedder
) -> None:
    from fastapi.testclient import TestClient

    from briefqa.database import close_pools
    from briefqa.serve.server import create_app
    from briefqa.testing import PG_PASSWORD, postgres_cluster

    with postgres_cluster() as (url, control):
        settings = Settings(database_url=url, chroma_url=chroma_server)
        qa = BriefQA(tmp_path / "worker", settings=settings, embedder=embedder)
        qa.ingest([SEED])
        question = {"question": "Which country opposed a NATO liaison office in Tokyo?"}
        try:
            with TestClient(create_app(qa, ui=False)) as client:
                assert client.post("/api/v1/ask", json=question).status_code == 200
                control("stop")
                down = client.post("/api/v1/ask", json=question)
                assert down.status_code == 503, down.text
                assert "127.0.0.1" in down.text and PG_PASSWORD not in down.text
                control("start")
                deadline = time.monotonic() + 30
                while (back := client.post("/api/v1/ask", json=question)).status_code != 200:
                    assert time.monotonic() < deadline, back.text
                    time.sleep(0.5)
                assert "France" in back.json()["answer"]
        finally:
            qa.close()
            close_pools()


def _passages(n: int) -> list[str]:
    import json

    rows = []
    with open(ROOT / "evals" / "clapnq_dev" / "docs.jsonl", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            if len(text) > 800 and text not in rows:
                rows.append(text)
            if len(rows) == n:
                return rows
    raise AssertionError("not enough passages")
