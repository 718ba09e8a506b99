"""`briefqa serve` as staff meet it: a real server process, driven through gradio_client
and through headless Chromium (Debian's, via Playwright).

Set BRIEFQA_SCREENSHOTS=docs/screenshots (``make screenshots``) to refresh the README's
screenshots; otherwise they go to a temporary folder.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from briefqa.serve.auth import hash_password

from .conftest import ROOT, SEED, free_port, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
QUESTION = "Which country opposed a NATO liaison office in Tokyo?"
PASSWORD = "s3cret-pass"
HOSTILE_BRIEF = """Arctic <b>Shipping</b> Routes Open Up

The Northern Sea Route carried 36 million tonnes of cargo in 2023, a record year.
Analysts quoted the line <script>window.bqPwned = 1; alert("pwned")</script> in their notes.
An image tag <img src=x onerror="window.bqPwned = 2"> appeared in the draft as well.
"""


def _serve(tmp: Path, **env: str) -> Iterator[tuple[str, Path]]:
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")},
        "BRIEFQA_DATA_DIR": str(tmp / "data"),
        "BRIEFQA_CORPUS_DIR": str(corpus),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        **env,
    }
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    # The page itself answers with or without logins on.
    with running_server(command, f"{url}/", tmp / "serve.log", 180, environment):
        yield url, tmp / "data"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server on the seed corpus: its URL and data dir."""
    yield from _serve(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(served: tuple[str, Path]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with logins on whose answers all fall in the low-confidence band (refused
    below 0.05, sure only at 1.0): both kinds of test share one start, for CI's sake."""
    tmp = tmp_path_factory.mktemp("guarded")
    users = tmp / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\n")
    env = {
        "BRIEFQA_AUTH_FILE": str(users),
        "BRIEFQA_REFUSAL_THRESHOLD": "0.05",
        "BRIEFQA_CONFIDENCE_THRESHOLD": "1.0",
    }
    for url, _ in _serve(tmp, **env):
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("BRIEFQA_SCREENSHOTS")
    path = ROOT / folder if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _page(browser: object, url: str) -> object:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    page.goto(url)
    return page


def _settle(page: object) -> None:
    """Wait until no event is pending and nothing fades, for a clean screenshot."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "!document.querySelector('.pending')"
        " && !document.getAnimations().some(a => a instanceof CSSTransition)",
        timeout=30_000,
    )


def _log_in(page: object, password: str = PASSWORD, user: str = "alice") -> None:
    page.wait_for_selector("input[type=password]", timeout=60_000)  # type: ignore[attr-defined]
    page.fill("input[type=text]", user)  # type: ignore[attr-defined]
    page.fill("input[type=password]", password)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]


def _get_json(url: str, login: tuple[str, str]) -> Any:
    token = base64.b64encode(":".join(login).encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _ask(page: object, question: str) -> None:
    page.fill("#bq-question textarea", question)  # type: ignore[attr-defined]
    page.click("#bq-ask")  # type: ignore[attr-defined]


# --------------------------------------------------------------- gradio_client


def test_gradio_client_gets_a_streamed_cited_answer(server: str) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    job = client.submit(QUESTION, [], [], "", "", api_name="/ask")
    cleared, chat, sources = job.result(timeout=120)
    assert len(job.outputs()) >= 2, "the answer arrives in pieces"
    assert cleared == ""
    answer = chat[-1]["content"][0]["text"] if isinstance(chat[-1]["content"], list) else ""
    assert chat[-1]["role"] == "assistant" and "France" in answer
    assert 'class="bq-cite"' in answer
    assert "<mark" in sources and "France’s opposition" in sources


def test_gradio_client_errors_on_empty_question(server: str) -> None:
    from gradio_client import Client

    with pytest.raises(Exception, match="empty"):
        Client(server, verbose=False).predict("  ", [], [], "", "", api_name="/ask")


# --------------------------------------------------------------------- browser


def test_chat_answer_citation_click_shows_highlighted_quote(
    served: tuple[str, Path], browser: object, shots: Path
) -> None:
    server, data_dir = served
    page = _page(browser, server)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    _settle(page)
    page.screenshot(path=str(shots / "empty.png"))
    _ask(page, QUESTION)
    page.wait_for_selector("#bq-chat a.bq-cite", timeout=60_000)
    assert "France" in page.inner_text("#bq-chat")
    cite = page.locator("#bq-chat a.bq-cite").last
    target = cite.get_attribute("href")[1:]
    cite.click()
    active = page.locator(".bq-source.bq-active")
    active.wait_for(timeout=10_000)
    assert active.get_attribute("id") == target
    quote = active.locator("mark").first.inner_text()
    assert quote.strip() in SEED.read_text()
    # An extracted sentence shows the reading model's verdict (a support score without it).
    assert "answers the question" in active.inner_text() or "support" in active.inner_text()
    page.screenshot(path=str(shots / "chat.png"))

    # Feedback: a dislike, then a comment, both stored with the answer for evaluators.
    page.locator("#bq-chat button[aria-label='Dislike']").last.click()
    page.fill("#bq-comment textarea", "France should come first")
    page.click("#bq-send-comment")
    page.wait_for_selector("#bq-comment", state="hidden", timeout=30_000)
    events = [json.loads(line) for line in (data_dir / "feedback.jsonl").read_text().splitlines()]
    assert [e["rating"] for e in events] == ["dislike", "dislike"]
    assert events[-1]["comment"] == "France should come first"
    assert events[0]["answer_id"] == events[1]["answer_id"]
    assert events[-1]["question"] == QUESTION and events[-1]["citations"]

    # The page has a heading; a message's accessible name is its text, not its HTML.
    assert page.locator("h1").count() == 1
    labels = page.eval_on_selector_all(
        "#bq-chat [aria-label]", "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert labels and not [label for label in labels if "<" in label], labels

    # A follow-up uses the conversation.
    _ask(page, "Why did it object to the office?")
    page.wait_for_selector("#bq-turn-1", timeout=60_000)
    assert "China" in page.locator("#bq-chat .message").last.inner_text()
    assert not page.dialogs


def test_refusal_looks_different_and_lists_nearest(
    server: str, browser: object, shots: Path
) -> None:
    page = _page(browser, server)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    _ask(page, "Who won the 2022 football World Cup final?")
    page.wait_for_selector("#bq-chat .bq-refusal", timeout=60_000)
    assert "do not cover" in page.inner_text("#bq-chat .bq-refusal")
    assert page.locator("#bq-sources .bq-nearest").count() >= 1
    assert page.locator("#bq-chat a.bq-cite").count() == 0
    assert page.locator("#bq-chat .bq-low").count() == 0
    page.screenshot(path=str(shots / "refusal.png"))

    # A refusal in the brief's own terms: what it lacks, beside its details.
    _ask(page, "Who wrote this brief?")
    page.wait_for_selector("#bq-turn-1", timeout=60_000)
    refusal = page.locator("#bq-chat .bq-refusal").last.inner_text()
    assert "does not give the names of its authors" in refusal
    assert "Number: 116" in page.inner_text("#bq-turn-1 .bq-nearest")


def test_summary_from_the_briefs_tab_is_cited_in_the_chat(
    served: tuple[str, Path], browser: object, shots: Path
) -> None:
    server, data_dir = served
    page = _page(browser, server)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    page.get_by_role("tab", name="Briefs").click()
    # Clicking a brief's row picks it for the summary.
    page.locator("#bq-briefs [role=gridcell]", has_text="NATO Intensifies").first.click()
    page.wait_for_function(
        "document.querySelector('#bq-summary-pick input').value.includes('NATO Intensifies')",
        timeout=30_000,
    )
    page.click("#bq-summary")
    page.wait_for_selector("#bq-chat a.bq-cite", timeout=60_000)  # back in the chat
    chat = page.inner_text("#bq-chat")
    assert "Summary of “NATO Intensifies Cooperation" in chat
    assert "The participation of the leaders of Australia" in chat
    cite = page.locator("#bq-chat a.bq-cite").last
    target = cite.get_attribute("href")[1:]
    cite.click()
    active = page.locator(".bq-source.bq-active")
    active.wait_for(timeout=10_000)
    assert active.get_attribute("id") == target
    assert " ".join(active.locator("mark").first.inner_text().split()) in " ".join(
        SEED.read_text().split()
    )
    page.screenshot(path=str(shots / "summary.png"))

    # A summary is rated like any answer.
    page.locator("#bq-chat button[aria-label='Like']").last.click()
    page.wait_for_selector("#bq-comment", timeout=30_000)
    event = json.loads((data_dir / "feedback.jsonl").read_text().splitlines()[-1])
    assert event["rating"] == "like" and event["question"].startswith("Summary of")
    assert not page.dialogs


def test_upload_a_brief_then_ask_about_it_and_markup_stays_text(
    served: tuple[str, Path], browser: object, shots: Path, tmp_path: Path
) -> None:
    server, data = served
    brief = tmp_path / "arctic-shipping.txt"
    brief.write_text(HOSTILE_BRIEF)
    page = _page(browser, server)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    page.get_by_role("tab", name="Briefs").click()
    # The drop zone takes several briefs and says so; Remove is quieter than Add.
    assert "Drop briefs here (several at once)" in page.inner_text("#bq-upload")
    assert "stop" not in (page.get_attribute("#bq-remove", "class") or "")
    assert "primary" in (page.get_attribute("#bq-add", "class") or "")
    page.set_input_files("#bq-upload input[type=file]", str(brief))
    page.wait_for_selector("#bq-upload :text('arctic-shipping.txt')", timeout=30_000)
    page.click("#bq-add")
    page.wait_for_function(
        "document.querySelector('#bq-upload-result').innerText.includes('indexed:')",
        timeout=120_000,
    )
    assert "failed" not in page.inner_text("#bq-upload-result")
    assert "Arctic <b>Shipping</b> Routes Open Up" in page.inner_text("#bq-briefs")
    # Titles and file names in the page's font, ids short enough not to break.
    font = page.eval_on_selector("#bq-briefs td", "td => getComputedStyle(td).fontFamily")
    assert "mono" not in font.lower(), font
    with urllib.request.urlopen(f"{server}/api/v1/documents", timeout=30) as response:
        ids = [b["doc_id"] for b in json.load(response)]
    table = page.inner_text("#bq-briefs")
    assert len(ids) == 2 and all(i[:12] in table and i not in table for i in ids), table
    # The Try suggestions follow the archive: the newest brief's first.
    page.get_by_role("tab", name="Chat").click()
    page.wait_for_function(
        "(document.querySelector('#bq-try') || {innerText: ''}).innerText.includes('Arctic')",
        timeout=60_000,
    )
    page.locator("#bq-try button", has_text="Arctic").first.click()
    page.wait_for_function(
        "document.querySelector('#bq-question textarea').value.includes('Arctic')",
        timeout=30_000,
    )
    page.fill("#bq-question textarea", "")
    page.get_by_role("tab", name="Briefs").click()
    _settle(page)  # the lists refresh after the result shows, and fade back in
    page.screenshot(path=str(shots / "briefs.png"))
    assert list(data.rglob("arctic-shipping.txt")), "the brief is kept in the data dir"
    cache = data.parent / "gradio"  # GRADIO_TEMP_DIR of this server
    assert cache.is_dir() and not list(cache.rglob("arctic-shipping.txt")), "copy gone"

    page.get_by_role("tab", name="Chat").click()
    _ask(page, "How much cargo did the Northern Sea Route carry in 2023?")
    page.wait_for_selector("#bq-chat a.bq-cite", timeout=60_000)
    assert "36 million tonnes" in page.inner_text("#bq-chat")
    _ask(page, "What did analysts quote in their notes about the script?")
    page.wait_for_selector("#bq-turn-1", timeout=60_000)
    panel = page.inner_text("#bq-sources")
    assert "<script>" in panel and "Arctic <b>Shipping</b>" in panel
    assert page.evaluate("window.bqPwned") is None, "brief text ran as code"
    assert not page.dialogs, page.dialogs

    # New chat clears the conversation and the sources.
    page.click("#bq-new")
    page.wait_for_selector("#bq-turn-0", state="detached", timeout=30_000)
    assert page.locator("#bq-chat a.bq-cite").count() == 0

    # Remove the brief again from the Briefs tab.
    page.get_by_role("tab", name="Briefs").click()
    page.click("#bq-pick input")
    page.get_by_role("option", name="Arctic <b>Shipping</b> Routes Open Up").click()
    page.click("#bq-remove")
    page.wait_for_function(
        "!document.querySelector('#bq-briefs').innerText.includes('Arctic')", timeout=60_000
    )
    assert "NATO Intensifies" in page.inner_text("#bq-briefs")
    log = (data.parent / "serve.log").read_text()
    assert "added from the chat: arctic-shipping.txt" in log and "removed from the chat" in log


def test_with_auth_the_page_asks_for_a_login(guarded: str, browser: object, shots: Path) -> None:
    page = _page(browser, guarded)
    page.wait_for_selector("input[type=password]", timeout=60_000)
    assert page.locator("#bq-question").count() == 0
    page.screenshot(path=str(shots / "login.png"))
    _log_in(page, "wrong")
    page.wait_for_selector(":text('Incorrect')", timeout=30_000)
    _log_in(page)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)


def test_low_confidence_answer_is_marked_and_lists_nearest(
    guarded: str, browser: object, shots: Path
) -> None:
    page = _page(browser, guarded)
    _log_in(page)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    _ask(page, QUESTION)
    page.wait_for_selector("#bq-chat .bq-low", timeout=60_000)
    banner = page.locator("#bq-chat .bq-low")
    assert "Low confidence — check the sources" in banner.inner_text()
    # Still an answer, with working citations, not a refusal.
    message = page.locator("#bq-chat .message").last.inner_text()
    assert "France" in message and "\\" not in message, "the Markdown below is rendered"
    assert page.locator("#bq-chat .bq-refusal").count() == 0
    page.locator("#bq-chat a.bq-cite").last.click()
    page.locator(".bq-source.bq-active mark").first.wait_for(timeout=10_000)
    assert "Low confidence" in page.inner_text("#bq-sources")
    assert page.locator("#bq-sources .bq-nearest").count() >= 1
    page.screenshot(path=str(shots / "low-confidence.png"))


# ------------------------------------------------------ feedback into test questions

#: A sentence of the seed brief's conclusions, far from the passage about France.
ELSEWHERE = "This is about better understanding the Asian partners"


def test_a_dislike_in_the_chat_becomes_a_test_question_that_fails(
    served: tuple[str, Path],
    browser: object,
    shots: Path,
    tmp_path: Path,
    embedder: object,
) -> None:
    """Staff dislike an answer in the browser; the evaluator exports the drafts, picks the
    evidence sentence on the review page, and the new question fails on the
    configuration that gave the answer."""
    from briefqa import Configuration, run_evaluation
    from briefqa.cli import main

    server, data_dir = served
    page = _page(browser, server)
    page.wait_for_selector("#bq-question textarea", timeout=60_000)
    _ask(page, QUESTION)
    page.wait_for_selector("#bq-chat a.bq-cite", timeout=60_000)
    page.locator("#bq-chat button[aria-label='Dislike']").last.click()
    page.wait_for_selector("#bq-comment", timeout=30_000)
    drafts = tmp_path / "drafts.jsonl"
    assert main(["--data-dir", str(data_dir), "feedback", "export", "--only", "down",
                 "--out", str(drafts)]) == 0  # fmt: skip
    [draft] = [json.loads(line) for line in drafts.open()]
    assert draft["question"] == QUESTION and draft["rating"] == "dislike"

    questions = tmp_path / "set.jsonl"
    port = free_port()
    command = [sys.executable, "-m", "briefqa.cli", "--data-dir", str(data_dir), "feedback",
               "review", str(drafts), "--set", str(questions), "--port", str(port)]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")}
    url = f"http://127.0.0.1:{port}"
    with running_server(command, f"{url}/", tmp_path / "review.log", 180, environment):
        review = _page(browser, url)
        review.wait_for_selector("#bq-draft :text('Which country opposed')", timeout=60_000)
        assert "Staff disliked this answer" in review.inner_text("#bq-draft")
        review.locator("#bq-evidence label", has_text=ELSEWHERE).click()
        review.fill("#bq-gold textarea", "threat perceptions")
        _settle(review)
        review.evaluate("window.scrollTo(0, 0)")
        review.screenshot(path=str(shots / "review.png"))
        review.click("#bq-answerable")
        review.wait_for_selector("#bq-review-status :text('answerable')", timeout=30_000)
        assert "Every draft is reviewed" in review.inner_text("#bq-draft")
        assert not review.dialogs
    [row] = [json.loads(line) for line in questions.open()]
    assert row["id"] == draft["id"] and row["evidence"].startswith(ELSEWHERE)
    assert row["answers"] == ["threat perceptions"] and not row["unanswerable"]
    assert json.loads(drafts.read_text())["status"] == "answerable"

    # The configuration that gave the disliked answer fails the new question.
    corpus = data_dir.parent / "corpus"
    report = run_evaluation(
        questions,
        corpus=corpus,
        embedder=embedder,
        configurations=[Configuration("as answered", row["configuration"])],
    )
    assert [f["id"] for f in report.failures] == [row["id"]]


# ------------------------------------------------------------------ conversations


def _restartable(tmp_path: Path, **settings: str) -> tuple[str, list[str], dict[str, str]]:
    """A `briefqa serve` over the seed corpus to start (and start again) on one port: the
    browser keeps its storage per origin. Its URL, command and environment."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BRIEFQA_")},
        "BRIEFQA_DATA_DIR": str(tmp_path / "data"),
        "BRIEFQA_CORPUS_DIR": str(corpus),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_TEMP_DIR": str(tmp_path / "gradio"),
        **settings,
    }
    command = [sys.executable, "-m", "briefqa.cli", "serve", "--port", str(port)]
    return f"http://127.0.0.1:{port}", command, env


def test_a_conversation_survives_reload_and_restart_and_is_shared_read_only(
    tmp_path: Path, browser: object, shots: Path
) -> None:
    """Alice's chat is kept: reloaded, and after a server restart, it reopens with its
    citations; she renames and shares it, Bob (logged in) reads it through the link but
    does not see it in his list, and her delete removes it."""
    users = tmp_path / "users"
    users.write_text(f"alice:{hash_password(PASSWORD)}\nbob:{hash_password('bob-pass')}\n")
    url, command, env = _restartable(tmp_path, BRIEFQA_AUTH_FILE=str(users))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    with running_server(command, f"{url}/", tmp_path / "serve-1.log", 180, env):
        page.goto(url)
        _log_in(page)
        page.wait_for_selector("#bq-question textarea", timeout=60_000)
        _ask(page, QUESTION)
        page.wait_for_selector("#bq-chat a.bq-cite", timeout=60_000)
        page.wait_for_selector(f"#bq-conversations :text('{QUESTION}')", timeout=30_000)
        _ask(page, "Why did it object to the office?")
        page.wait_for_selector("#bq-turn-1", timeout=60_000)
        _settle(page)

        page.reload()
        page.wait_for_selector("#bq-turn-1", timeout=60_000)  # both turns, with sources
        assert page.locator("#bq-chat a.bq-cite").count() >= 2
        assert "France" in page.inner_text("#bq-chat")
        # A rating after the reopening is kept with the turn it was given to.
        page.locator("#bq-chat button[aria-label='Dislike']").last.click()
        page.wait_for_selector("#bq-comment", timeout=30_000)
        kept = _get_json(f"{url}/api/v1/conversations", ("alice", PASSWORD))
        turns = _get_json(f"{url}/api/v1/conversations/{kept[0]['id']}", ("alice", PASSWORD))
        assert [t["rating"] for t in turns["turns"]] == [None, "dislike"]

        page.click("#bq-manage")
        page.fill("#bq-conv-title input, #bq-conv-title textarea", "NATO office in Tokyo")
        page.click("#bq-rename")
        page.wait_for_selector("#bq-conversations :text('NATO office in Tokyo')", timeout=30_000)
        page.click("#bq-share")
        link = page.locator("#bq-shared-link")
        link.wait_for(timeout=30_000)
        shared = f"{url}/{link.get_attribute('href')}"
        _settle(page)
        page.screenshot(path=str(shots / "conversations.png"))

    with running_server(command, f"{url}/", tmp_path / "serve-2.log", 180, env):
        page.goto(url)  # the login is the server's: after a restart, log in again
        _log_in(page)
        page.wait_for_selector("#bq-turn-1", timeout=60_000)
        assert "France" in page.inner_text("#bq-chat")
        page.locator("#bq-chat a.bq-cite").first.click()
        page.locator(".bq-source.bq-active").wait_for(timeout=10_000)
        # A follow-up continues the reopened conversation.
        _ask(page, "Who proposed the office?")
        page.wait_for_selector("#bq-turn-2", timeout=60_000)

        other = browser.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
        bob = other.new_page()
        bob.goto(url)
        _log_in(bob, "bob-pass", user="bob")
        bob.wait_for_selector("#bq-question textarea", timeout=60_000)
        _settle(bob)
        assert "NATO office" not in bob.inner_text("#bq-conversations")
        bob.goto(shared)
        assert "NATO office in Tokyo" in bob.inner_text("h1")
        assert "shared read-only by alice" in bob.inner_text("body")
        assert bob.locator(".bq-source mark").count() >= 1
        other.close()

        page.click("#bq-manage")
        page.click("#bq-delete")
        page.wait_for_function(
            "!document.querySelector('#bq-conversations').innerText.includes('NATO office')",
            timeout=30_000,
        )
        assert page.locator("#bq-chat a.bq-cite").count() == 0
        gone = urllib.request.Request(shared)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(gone, timeout=10)  # no login: refused before anything
    context.close()


def test_a_chat_goes_on_on_a_worker_that_never_served_it(tmp_path: Path, browser: object) -> None:
    """The worker that answers the next question may not be the one that served the page
    (a restart, or another worker behind the load balancer): without reloading, the
    follow-up continues the same kept conversation, with the history it relies on."""
    url, command, env = _restartable(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    with running_server(command, f"{url}/", tmp_path / "serve-1.log", 180, env):
        page.goto(url)
        page.wait_for_selector("#bq-question textarea", timeout=60_000)
        _ask(page, QUESTION)
        page.wait_for_selector(f"#bq-conversations :text('{QUESTION}')", timeout=60_000)
        _settle(page)
    with running_server(command, f"{url}/", tmp_path / "serve-2.log", 180, env):
        _ask(page, "Why did it object to the office?")  # the same page, a new worker
        page.wait_for_selector("#bq-turn-1", timeout=60_000)
        _settle(page)
        with urllib.request.urlopen(f"{url}/api/v1/conversations", timeout=30) as listed:
            conversations = json.loads(listed.read())
        assert [c["turns_count"] for c in conversations] == [2], conversations
        # A new chat stays new after a reload (the browser remembers that none is open).
        page.click("#bq-new")
        page.wait_for_function("!document.querySelector('#bq-turn-0')", timeout=30_000)
        _settle(page)
        page.reload()
        page.wait_for_selector("#bq-question textarea", timeout=60_000)
        _settle(page)
        assert page.locator("#bq-turn-0").count() == 0
    context.close()
