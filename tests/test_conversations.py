"""Conversations kept per user: the store's contract, the REST routes with two logins,
the shared read-only page, and answers that stay readable after their brief is removed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from briefqa import (
    ANONYMOUS,
    Answer,
    BriefQA,
    ConfigError,
    ConversationNotFound,
    InvalidQuestion,
    NotFound,
    Settings,
    StoreError,
    UnknownSchema,
    load_settings,
)
from briefqa.conversations import ConversationStore, SQLiteConversations, title_of
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.postgres import PostgresConversations
from briefqa.serve.auth import hash_password
from briefqa.serve.markup import render_sources
from briefqa.serve.server import create_app

from .conftest import SEED

QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
FOLLOW_UP = "When was the liaison office proposed?"


def _answer(question: str, text: str = "It was France [1].") -> Answer:
    return Answer(
        question=question,
        text=text,
        citations=(),
        sources=(),
        refused=False,
        unsupported=(),
        standalone_question=question,
        timings={"total_ms": 12.0},
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationStore]:
    """Each backend, through the same contract."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        kept: ConversationStore = PostgresConversations(url)
    else:
        kept = SQLiteConversations(tmp_path / "conversations.sqlite3")
    yield kept
    kept.close()


def test_turns_are_kept_in_order_and_listed_newest_first(store: ConversationStore) -> None:
    first = store.start("alice", _answer(QUESTION))
    assert first.title == QUESTION and first.size == 1 and first.turns[0].number == 0
    second = store.start("alice", _answer("What is the AP4?"))
    store.add("alice", first.id, _answer(FOLLOW_UP, "In 2023 [1]."))
    store.rate("alice", first.id, 1, "dislike")
    listed = store.list("alice")
    # The one continued last comes first; listings carry no turns, only their count.
    assert [c.id for c in listed] == [first.id, second.id]
    assert listed[0].size == 2 and listed[0].turns == ()
    opened = store.get("alice", first.id)
    assert [t.answer.question for t in opened.turns] == [QUESTION, FOLLOW_UP]
    assert [t.rating for t in opened.turns] == [None, "dislike"]
    assert opened.turns[1].answer.text == "In 2023 [1]."
    assert opened.to_dict()["turns"][1]["question"] == FOLLOW_UP


def test_one_user_never_sees_another_users_conversations(store: ConversationStore) -> None:
    mine = store.start("alice", _answer(QUESTION))
    assert store.list("bob") == []
    for act in (
        lambda: store.get("bob", mine.id),
        lambda: store.add("bob", mine.id, _answer("And?")),
        lambda: store.rename("bob", mine.id, "Mine now"),
        lambda: store.share("bob", mine.id),
        lambda: store.rate("bob", mine.id, 0, "like"),
        lambda: store.delete("bob", mine.id),
    ):
        with pytest.raises(ConversationNotFound, match="yours or shared with you"):
            act()
    # Shared: bob may read it, and still not change it.
    store.share("alice", mine.id)
    assert store.get("bob", mine.id).turns[0].answer.question == QUESTION
    with pytest.raises(NotFound):
        store.rename("bob", mine.id, "Mine now")
    store.share("alice", mine.id, shared=False)
    with pytest.raises(NotFound):
        store.get("bob", mine.id)
    assert store.get("alice", mine.id).title == QUESTION


def test_rename_delete_and_bad_input_name_the_problem(store: ConversationStore) -> None:
    kept = store.start("alice", _answer(QUESTION))
    assert store.rename("alice", kept.id, "  NATO and  Japan ").title == "NATO and Japan"
    with pytest.raises(InvalidQuestion, match="title is empty"):
        store.rename("alice", kept.id, "   ")
    with pytest.raises(InvalidQuestion, match="title is 201 characters"):
        store.rename("alice", kept.id, "x" * 201)
    with pytest.raises(InvalidQuestion, match="rating"):
        store.rate("alice", kept.id, 0, "meh")  # type: ignore[arg-type]
    with pytest.raises(ConversationNotFound, match="no turn 5"):
        store.rate("alice", kept.id, 5, "like")
    with pytest.raises(InvalidQuestion, match="user name is empty"):
        store.list("")
    store.delete("alice", kept.id)
    assert store.list("alice") == []
    with pytest.raises(NotFound):
        store.get("alice", kept.id)


def test_titles_come_from_the_first_question_cut_at_a_word() -> None:
    long = "What did the brief recommend about " + "maritime cooperation " * 8 + "?"
    title = title_of(long)
    assert len(title) <= 81 and title.endswith("…") and " maritime cooperation" in title
    assert not title[:-1].endswith(" ")
    assert title_of("  Who  wrote it? ") == "Who wrote it?"


def test_kept_across_reopening_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    first = SQLiteConversations(path)
    kept = first.start(ANONYMOUS, _answer(QUESTION))
    first.close()
    again = SQLiteConversations(path)
    assert again.get(ANONYMOUS, kept.id).turns[0].answer.text == "It was France [1]."
    again.close()
    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE conversation_turns (x TEXT)")
    db.close()
    with pytest.raises(UnknownSchema, match="conversations file"):
        SQLiteConversations(foreign)


# ---------------------------------------------------------------- the REST API


@pytest.fixture
def two_users(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password('alice-pw')}\nbob:{hash_password('bob-pw')}\n")
    qa = BriefQA(tmp_path / "data", settings=Settings(auth_file=users), embedder=embedder)
    qa.ingest([SEED])
    with TestClient(create_app(qa, ui=False)) as client:
        yield client
    qa.close()


ALICE = ("alice", "alice-pw")
BOB = ("bob", "bob-pw")


def test_rest_keeps_a_conversation_for_its_user_only(two_users: TestClient) -> None:
    client = two_users
    first = client.post(
        "/api/v1/ask", json={"question": QUESTION, "conversation_id": "new"}, auth=ALICE
    ).json()
    cid = first["conversation_id"]
    assert first["citations"] and cid
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first["answer"]},
    ]
    follow = client.post(
        "/api/v1/ask",
        json={"question": FOLLOW_UP, "history": history, "conversation_id": cid},
        auth=ALICE,
    )
    assert follow.status_code == 200 and follow.json()["conversation_id"] == cid
    # Without conversation_id nothing is kept (as before).
    plain = client.post("/api/v1/ask", json={"question": QUESTION}, auth=ALICE).json()
    assert plain.get("conversation_id") is None

    listed = client.get("/api/v1/conversations", auth=ALICE).json()
    assert [(c["id"], c["turns_count"], c["title"]) for c in listed] == [(cid, 2, QUESTION)]
    assert "turns" not in listed[0]
    opened = client.get(f"/api/v1/conversations/{cid}", auth=ALICE).json()
    assert [t["question"] for t in opened["turns"]] == [QUESTION, FOLLOW_UP]
    assert opened["turns"][0]["citations"][0]["quote"] == first["citations"][0]["quote"]

    # Bob: nothing listed, and alice's conversation does not exist for him.
    assert client.get("/api/v1/conversations", auth=BOB).json() == []
    for method in ("get", "delete"):
        response = getattr(client, method)(f"/api/v1/conversations/{cid}", auth=BOB)
        assert response.status_code == 404, method
    renamed = client.patch(f"/api/v1/conversations/{cid}", json={"title": "x"}, auth=BOB)
    assert renamed.status_code == 404
    asked = {"question": QUESTION, "conversation_id": cid}
    added = client.post("/api/v1/ask", json=asked, auth=BOB)
    assert added.status_code == 404 and "yours or shared" in added.json()["detail"]

    # Renamed and shared by alice: bob reads it, and only reads it.
    changed = client.patch(
        f"/api/v1/conversations/{cid}", json={"title": "NATO office", "shared": True}, auth=ALICE
    ).json()
    assert changed["title"] == "NATO office" and changed["shared"] is True
    assert client.get(f"/api/v1/conversations/{cid}", auth=BOB).json()["title"] == "NATO office"
    assert client.delete(f"/api/v1/conversations/{cid}", auth=BOB).status_code == 404
    continued = client.post("/api/v1/ask", json=asked, auth=BOB)  # readable, not his to go on
    assert continued.status_code == 404
    nothing = client.patch(f"/api/v1/conversations/{cid}", json={}, auth=ALICE)
    assert nothing.status_code == 422 and "nothing to change" in nothing.json()["detail"]

    markdown = client.get(f"/api/v1/conversations/{cid}?format=markdown", auth=ALICE)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "# NATO office" in markdown.text and QUESTION in markdown.text

    assert client.delete(f"/api/v1/conversations/{cid}", auth=ALICE).status_code == 204
    assert client.get("/api/v1/conversations", auth=ALICE).json() == []
    assert client.get(f"/api/v1/conversations/{cid}", auth=ALICE).status_code == 404


def test_rest_without_logins_keeps_one_anonymous_list(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    qa = BriefQA(tmp_path / "data", embedder=embedder)
    qa.ingest([SEED])
    with TestClient(create_app(qa, ui=False)) as client:
        kept = client.post("/api/v1/ask", json={"question": QUESTION, "conversation_id": "new"})
        assert kept.status_code == 200
        assert [c["id"] for c in client.get("/api/v1/conversations").json()] == [
            kept.json()["conversation_id"]
        ]
        bad = client.patch(f"/api/v1/conversations/{kept.json()['conversation_id']}",
                           json={"title": ""})  # fmt: skip
        assert bad.status_code == 422 and "title is empty" in bad.json()["detail"]
    assert qa.conversations.list(ANONYMOUS)[0].size == 1
    qa.close()


def test_an_answer_stays_readable_after_its_brief_is_removed(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    qa = BriefQA(tmp_path / "data", embedder=embedder)
    info = qa.ingest([SEED])
    answer = qa.ask(QUESTION)
    kept = qa.conversations.start(ANONYMOUS, answer)
    assert info.errors == [] and answer.citations
    qa.remove(answer.citations[0].doc_id)
    opened = qa.conversations.get(ANONYMOUS, kept.id).turns[0].answer
    assert opened.text == answer.text
    assert opened.citations[0].quote == answer.citations[0].quote
    # The card shows the quoted passage, marked as gone from the archive.
    html = render_sources([opened], briefs={})
    assert "source removed" in html and "bq-quote" in html
    qa.close()


def test_a_damaged_conversations_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    from briefqa import DataDamaged, diagnose

    path = tmp_path / "conversations.sqlite3"
    kept = SQLiteConversations(path)
    kept.start("alice", _answer(QUESTION))
    kept.close()
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # the tables' pages
    path.write_bytes(bytes(data))
    found = diagnose(tmp_path, sqlite3.DatabaseError("database disk image is malformed"))
    assert isinstance(found, DataDamaged)
    assert "conversations.sqlite3" in str(found) and "restore it from a backup" in str(found)
    # The store says so itself: a caller (the chat, REST) sees a StoreError, never SQLite's.
    with pytest.raises(StoreError, match=r"conversations\.sqlite3"):
        SQLiteConversations(path).list("alice")


def test_concurrent_turns_are_numbered_once_each(store: ConversationStore) -> None:
    """Two tabs (or two workers) adding to one conversation at once: no turn lost or
    numbered twice."""
    kept = store.start("alice", _answer(QUESTION))
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda i: store.add("alice", kept.id, _answer(f"Q{i}?")).number,
                                range(16)))  # fmt: skip
    assert sorted(numbers) == list(range(1, 17))
    turns = store.get("alice", kept.id).turns
    assert [t.number for t in turns] == list(range(17))
    assert {t.answer.question for t in turns[1:]} == {f"Q{i}?" for i in range(16)}


# ---------------------------------------------------------------- PostgreSQL


def test_the_sqlite_data_dir_upgrades_into_postgres(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Today's data dir, copied by `briefqa upgrade-database`: every conversation with its
    id, user, title, turns and ratings; a second run copies nothing twice."""
    from briefqa.cli import main

    data = tmp_path / "data"
    old = SQLiteConversations(data / "conversations.sqlite3")
    first = old.start("alice", _answer(QUESTION))
    old.add("alice", first.id, _answer(FOLLOW_UP, "In 2023 [1]."))
    old.rate("alice", first.id, 1, "like")
    old.rename("alice", first.id, "NATO office")
    old.share("alice", first.id)
    second = old.start("bob", _answer("What is the AP4?"))
    before = {c.id: c for c in old.every()}
    old.close()
    with BriefQA(data) as here:  # feedback kept in the data dir's file, as today
        here.feedback(_answer(QUESTION), "dislike", "France should come first")
        here.feedback(_answer("What is the AP4?"), "like")
        drafts_before = here.feedback_drafts()

    env = {"BRIEFQA_DATABASE_URL": postgres_url}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert main(["--data-dir", str(data), "upgrade-database"]) == 0
        assert ", 2 conversation(s) and 2 feedback event(s)" in capsys.readouterr().out
        assert main(["--data-dir", str(data), "upgrade-database"]) == 0
        assert ", 0 conversation(s) and 0 feedback event(s)" in capsys.readouterr().out
    # An evaluator's drafts come from the database now, the same as from the file.
    with BriefQA(tmp_path / "elsewhere", settings=Settings(database_url=postgres_url)) as there:
        assert there.feedback_drafts() == drafts_before
        assert there.feedback_drafts(only="down")[0]["comments"] == ["France should come first"]
    moved = PostgresConversations(postgres_url)
    after = {c.id: c for c in moved.every()}
    assert after == before
    assert moved.get("bob", first.id).title == "NATO office"  # still shared
    assert [c.id for c in moved.list("bob")] == [second.id]
    assert moved.get("alice", first.id).turns[1].rating == "like"


def test_upgrade_needs_a_database_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BRIEFQA_DATABASE_URL"):
        BriefQA(tmp_path / "data").upgrade_database()
    with pytest.raises(ConfigError, match="postgresql://") as bad:
        load_settings(database_url="mysql://root:hunter2@db/briefqa")
    assert "hunter2" not in str(bad.value)


def test_the_schema_is_versioned_and_a_newer_one_is_refused(postgres_url: str) -> None:
    import psycopg

    from briefqa.database import close_pools, connect, migrate

    pool = connect(postgres_url)
    assert migrate(pool) == {"conversations": 1, "feedback": 1, "index": 1}  # again: nothing
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE briefqa_schema SET version = 7 WHERE part = 'conversations'")
    close_pools()
    with pytest.raises(UnknownSchema, match="version 7, written by a newer briefqa"):
        PostgresConversations(postgres_url)


def test_two_workers_share_conversations_through_postgres(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, postgres_url: str, chroma_server: str
) -> None:
    """Two engines with data dirs of their own (no shared file), one database and one
    Chroma server: a conversation started through one is listed and continued through
    the other."""
    settings = Settings(database_url=postgres_url, chroma_url=chroma_server)
    one = BriefQA(tmp_path / "one", settings=settings, embedder=embedder)
    two = BriefQA(tmp_path / "two", settings=settings, embedder=embedder)
    assert one.ingest([SEED]).added == 1
    assert two.ingest([SEED]).unchanged == 1  # the database lists it already
    with (
        TestClient(create_app(one, ui=False)) as first,
        TestClient(create_app(two, ui=False)) as second,
    ):
        started = first.post("/api/v1/ask", json={"question": QUESTION, "conversation_id": "new"})
        cid = started.json()["conversation_id"]
        go_on = {"question": FOLLOW_UP, "conversation_id": cid}
        assert second.post("/api/v1/ask", json=go_on).status_code == 200
        assert [c["turns_count"] for c in first.get("/api/v1/conversations").json()] == [2]
        # A rating through one worker reaches the evaluators through the other.
        rated = {"question": QUESTION, "answer": started.json(), "rating": "dislike"}
        assert first.post("/api/v1/feedback", json=rated).status_code == 201
    assert [d["rating"] for d in two.feedback_drafts()] == ["dislike"]
    assert not (tmp_path / "one" / "conversations.sqlite3").exists()
    assert not (tmp_path / "one" / "feedback.jsonl").exists()
    one.close()
    two.close()


def test_a_restarted_database_fails_clearly_then_works_again(tmp_path: Path) -> None:
    """While PostgreSQL is down, a call fails with StoreError naming the database (never
    the password); once it is back, the same store works without being made again."""
    from briefqa.testing import PG_PASSWORD, postgres_cluster

    with postgres_cluster() as (url, control):
        kept = PostgresConversations(url)
        first = kept.start("alice", _answer(QUESTION))
        control("stop")
        with pytest.raises(StoreError, match=r"'postgres' at 127\.0\.0\.1") as failed:
            kept.list("alice")
        assert PG_PASSWORD not in str(failed.value)
        control("start")
        kept.add("alice", first.id, _answer(FOLLOW_UP))
        assert kept.get("alice", first.id).size == 2
        from briefqa.database import close_pools

        close_pools()


def test_the_anonymous_user_name_is_reserved_for_the_chat_without_logins(tmp_path: Path) -> None:
    from briefqa.serve.auth import load_users

    users = tmp_path / "users"
    users.write_text(f"{ANONYMOUS}:{hash_password('x')}\n")
    with pytest.raises(ConfigError, match="reserved"):
        load_users(users)


def test_postgres_keeps_every_feedback_event_and_names_a_refused_login(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two equal clicks in one second are two events; a comment with a NUL character is
    kept (cleaned) as in the file; a wrong password is named, the password is not."""
    with BriefQA(tmp_path / "data", settings=Settings(database_url=postgres_url)) as qa:
        answer = _answer(QUESTION)
        for rating in ("like", None, "like"):  # liked, taken back, liked again
            qa.feedback(answer, rating)
        assert [d["rating"] for d in qa.feedback_drafts()] == ["like"]
        qa.feedback(answer, "dislike", "wrong\x00 brief")
        [draft] = qa.feedback_drafts()
        assert draft["rating"] == "dislike" and draft["comments"] == ["wrong brief"]
    wrong = postgres_url.replace("briefqa-test-pw", "not-the-password")
    with pytest.raises(StoreError, match="password authentication failed") as refused:
        PostgresConversations(wrong)
    assert "not-the-password" not in str(refused.value)
