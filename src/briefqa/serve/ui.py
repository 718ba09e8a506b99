"""The web chat staff use: a Gradio app over the public :class:`briefqa.BriefQA` API.

Everything a brief contributes to a page (titles, passages, quotes, answers) is escaped
here before Gradio sees it: brief text is data, never markup. Citation markers become
links (``a.bq-cite``) whose click opens and highlights the cited passage in the sources
panel; a small script in :data:`HEAD` does that, because the chat and the panel are
separate components.

An answer shows as one of three outcomes (:attr:`briefqa.Answer.outcome`): answered;
low-confidence, the answer under a "check the sources" banner with the nearest passages
listed beside it; refused, set apart, with the nearest passages. A brief's summary from
the Briefs tab is posted into the chat as a turn of its own, so it gets the same
citations, sources panel, feedback and follow-ups as any answer. "Download as Markdown"
saves the conversation with its references (:func:`briefqa.export_markdown`).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from briefqa import (
    ANONYMOUS,
    SUPPORTED_SUFFIXES,
    Answer,
    BriefInfo,
    BriefQA,
    BriefQAError,
    Conversation,
    Filters,
    NotFound,
    export_markdown,
)
from briefqa.serve.markup import (
    EMPTY_SOURCES,
    brief_index,
    plain_markdown,
    render_answer,
    render_sources,
)

# Clicking [n] in an answer: open that turn's sources, highlight the passage, scroll to it.
HEAD = r"""
<script>
document.addEventListener("click", function (event) {
  const link = event.target.closest ? event.target.closest("a.bq-cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  // The chat's sanitiser keeps href but drops data-* attributes.
  const target = document.getElementById((link.getAttribute("href") || "").slice(1));
  if (!target) return;
  const folded = target.closest("details");
  if (folded) folded.open = true;
  document.querySelectorAll(".bq-source.bq-active").forEach(function (el) {
    el.classList.remove("bq-active");
  });
  target.classList.add("bq-active");
  target.scrollIntoView({ behavior: "smooth", block: "center" });
}, true);
// Gradio labels each chat message with its content, ours being HTML (citation links):
// screen readers get the message's text instead.
new MutationObserver(function () {
  document.querySelectorAll("#bq-chat [aria-label*='<']").forEach(function (el) {
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 1000);
    // Only a change: a text that itself holds "<" must not set off the observer again.
    if (el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text);
  });
}).observe(document.documentElement, {
  subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"],
});
</script>
"""

#: Gradio's own words that do not fit the page, by locale: the drop zone takes several
#: briefs at once, not "a file".
WORDING = {
    locale: {
        "upload_text.drop_file": "Drop briefs here (several at once)",
        "upload_text.click_to_upload": "Click to choose them",
    }
    for locale in ("en", "en-US", "en-GB")
}

log = logging.getLogger("briefqa.server")

#: Characters of a brief's id the Briefs table shows (the dropdowns hold the whole id).
SHORT_ID = 12
# Gradio finds the progress tracker by this default value.
_PROGRESS = gr.Progress()


#: Events only the page itself fires: not in Gradio's API page or client.
_PRIVATE: dict[str, Any] = {"api_visibility": "private"}


@dataclass
class _ChatTab:
    """The chat tab's components."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    new_chat: gr.Button
    download: gr.DownloadButton
    comment_row: gr.Row
    comment: gr.Textbox
    send_comment: gr.Button
    doc_filter: gr.Dropdown
    date_from: gr.Textbox
    date_to: gr.Textbox
    sources: gr.HTML
    tries: gr.Dataset
    history: _HistoryPanel


@dataclass
class _HistoryPanel:
    """The user's kept conversations, beside the chat."""

    conversations: gr.Radio
    title: gr.Textbox
    rename: gr.Button
    share: gr.Button
    delete: gr.Button
    link: gr.HTML


@dataclass
class _BriefsTab:
    """The briefs tab's components."""

    table: gr.Dataframe
    files: gr.File
    add: gr.Button
    added: gr.Dataframe
    to_summarise: gr.Dropdown
    summarise: gr.Button
    to_remove: gr.Dropdown
    remove: gr.Button
    removed: gr.Markdown


def build_ui(qa: BriefQA) -> gr.Blocks:
    """The chat and briefs tabs, wired to ``qa``."""
    # Gradio keeps each upload in its cache (the server puts it inside the data dir), one
    # file per content shared by every session that uploads the same bytes: it cannot be
    # deleted when one session is done with it, so Gradio sweeps files an hour old.
    with gr.Blocks(
        title="briefqa — policy briefs Q&A", analytics_enabled=False, delete_cache=(600, 3600)
    ) as demo:
        # The "Try" questions, asked of the engine now, so that the page opens with them.
        tries = _Suggestions(qa)
        # Per browser session: the answers so far, and which chat message holds which.
        session = gr.State(None)  # None until the first answer: see _session()
        # Per browser: the conversation open in it, so that a reload reopens it. The id
        # is checked against the user on every use, so the key only needs to outlive a
        # restart and be the same on every worker (Gradio's default is a new key each
        # start): one derived from where the conversations are kept.
        kept = qa.settings.database_url or str(qa.data_dir)
        current = gr.BrowserState(
            None,
            storage_key="bq-conversation",
            secret=hashlib.sha256(f"briefqa {kept}".encode()).hexdigest()[:32],
        )
        gr.HTML("<h1 class='bq-title'>Ask the institute's policy briefs</h1>")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"), gr.Row():
                chat = _chat_tab(tries.current())
            with gr.Tab("Briefs", id="briefs"):
                briefs = _briefs_tab()
        _wire_chat(qa, chat, session, current)
        _wire_history(qa, demo, chat, session, current)
        _wire_briefs(qa, tries, demo, briefs, chat, session, current, tabs)
    blocks: gr.Blocks = demo
    return blocks


def _history_panel() -> tuple[gr.Button, _HistoryPanel]:
    with gr.Column(scale=1, min_width=200, elem_id="bq-history"):
        new_chat = gr.Button("New chat", size="sm", elem_id="bq-new")
        conversations = gr.Radio(label="Your conversations", choices=[], elem_id="bq-conversations")
        with gr.Accordion("Rename, share or delete", open=False, elem_id="bq-manage"):
            title = gr.Textbox(label="Title", elem_id="bq-conv-title", max_length=200)
            rename = gr.Button("Rename", size="sm", elem_id="bq-rename")
            share = gr.Button("Share a read-only link", size="sm", elem_id="bq-share")
            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="bq-delete")
            link = gr.HTML(elem_id="bq-share-link")
    return new_chat, _HistoryPanel(conversations, title, rename, share, delete, link)


def _chat_tab(examples: list[str]) -> _ChatTab:
    new_chat, history = _history_panel()
    with gr.Column(scale=3):
        chatbot = gr.Chatbot(
            label="briefqa",
            elem_id="bq-chat",
            height=520,
            placeholder="Ask about the institute's briefs. Every claim in an "
            "answer cites the passage it comes from.",
            feedback_options=("Like", "Dislike"),
            buttons=["copy"],
        )
        with gr.Row():
            question = gr.Textbox(
                show_label=False,
                placeholder="Ask a question about the briefs…",
                elem_id="bq-question",
                scale=5,
                max_lines=4,
            )
            ask = gr.Button("Ask", variant="primary", elem_id="bq-ask", scale=1)
        with gr.Row():
            # Its file is written after each answer: a click downloads what the button
            # holds, so it must be ready before the click.
            download = gr.DownloadButton(
                "Download as Markdown", size="sm", interactive=False, elem_id="bq-download"
            )
        # Updated with the archive (refresh): a gr.Examples is fixed when the page is built.
        tries = gr.Dataset(
            components=[question],
            samples=[[q] for q in examples],
            label="Try",
            elem_id="bq-try",
            visible=bool(examples),
        )
        with gr.Row(visible=False) as comment_row:
            comment = gr.Textbox(
                label="Thanks! Anything to add about this answer? (optional)",
                elem_id="bq-comment",
                scale=5,
                max_length=4000,  # what a feedback comment may hold
            )
            send_comment = gr.Button("Send", scale=1, elem_id="bq-send-comment")
        with gr.Accordion("Limit to some briefs or dates", open=False):
            doc_filter = gr.Dropdown(
                label="Briefs", multiselect=True, choices=[], elem_id="bq-doc-filter"
            )
            with gr.Row():
                date_from = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="bq-from")
                date_to = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="bq-to")
    with gr.Column(scale=2):
        sources = gr.HTML(EMPTY_SOURCES, elem_id="bq-sources")
    return _ChatTab(
        chatbot, question, ask, new_chat, download, comment_row, comment, send_comment,
        doc_filter, date_from, date_to, sources, tries, history,
    )  # fmt: skip


def _briefs_tab() -> _BriefsTab:
    table = gr.Dataframe(
        headers=["Title", "Number", "Date", "Authors", "Chunks", "Files", "Id"],
        interactive=False,
        elem_id="bq-briefs",
        wrap=True,
        # Empty columns (no brief names its authors) must not shrink to a letter a line,
        # nor the id run off the table.
        column_widths=["30%", "8%", "11%", "14%", "7%", "18%", "12%"],
    )
    with gr.Row():
        with gr.Column():
            files = gr.File(
                label=f"Add briefs ({', '.join(SUPPORTED_SUFFIXES)})",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
                elem_id="bq-upload",
            )
            add = gr.Button("Add to the index", variant="primary", elem_id="bq-add")
            added = gr.Dataframe(
                headers=["File", "Result"],
                interactive=False,
                elem_id="bq-upload-result",
                wrap=True,
                column_widths=["35%", "65%"],
            )
        with gr.Column():
            # Picked here or by clicking its row; the summary opens in the chat.
            to_summarise = gr.Dropdown(
                label="Summarise a brief (or click its row above)",
                choices=[],
                elem_id="bq-summary-pick",
            )
            summarise = gr.Button("Summary", elem_id="bq-summary")
            to_remove = gr.Dropdown(label="Remove a brief", choices=[], elem_id="bq-pick")
            remove = gr.Button("Remove", variant="secondary", size="sm", elem_id="bq-remove")
            removed = gr.Markdown()
    return _BriefsTab(table, files, add, added, to_summarise, summarise, to_remove, remove, removed)


def _prepare_download(state: dict[str, Any] | None) -> Any:
    path = export_conversation(_session(state)["answers"], _export_dir())
    return gr.DownloadButton(value=path, interactive=path is not None)


def _wire_chat(qa: BriefQA, tab: _ChatTab, session: gr.State, current: gr.BrowserState) -> None:
    """Asking, a new chat and the download; the ratings (:func:`_wire_feedback`)."""

    def respond(
        message: str,
        chat: list[dict[str, Any]],
        state: dict[str, Any] | None,
        doc_ids: list[str] | None,
        start: str,
        end: str,
        request: gr.Request,
        # The browser's open conversation; API callers (gradio_client) have none.
        opened: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        state = _recovered(qa, state, opened, _user(request))
        try:
            filters = Filters(
                doc_ids=tuple(doc_ids) if doc_ids else None,
                date_from=(start or "").strip() or None,
                date_to=(end or "").strip() or None,
            )
            history = [(a.question, a.text) for a in state["answers"]]
            pieces = qa.stream(message or "", history=history, filters=filters)
            first = next(pieces)  # validates the question before the chat changes
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        chat = [
            *chat,
            {"role": "user", "content": plain_markdown(message.strip())},
            {"role": "assistant", "content": ""},
        ]
        draft = ""
        answer: Answer | None = None
        try:
            for piece in itertools.chain([first], pieces):
                if isinstance(piece, Answer):
                    answer = piece
                    break
                draft += piece
                chat[-1] = {"role": "assistant", "content": plain_markdown(draft)}
                yield "", chat, gr.skip(), state
        except BriefQAError as exc:  # an LLM server that fails mid-answer
            stopped = f"{draft}\n\n(The answer stopped: {exc})".strip()
            chat[-1] = {"role": "assistant", "content": plain_markdown(stopped)}
            yield "", chat, gr.skip(), state
            return
        assert answer is not None
        chat, state = _add_turn(chat[:-1], state, answer)
        state = _keep(qa, _user(request), state, answer)
        answers = state["answers"]
        sources = render_sources(answers, brief_index(qa, answers))
        yield "", chat, sources, state

    tab.tries.click(lambda sample: sample[0], tab.tries, tab.question, **_PRIVATE)
    inputs = [tab.question, tab.chatbot, session, tab.doc_filter, tab.date_from, tab.date_to,
              current]  # fmt: skip
    # The conversation list and the browser's open conversation are updated after the
    # answer, by a step of the page's own: the API's /ask gives the question box, the
    # chat and the sources, as it always has.
    outputs = [tab.question, tab.chatbot, tab.sources, session]

    def listed(
        state: dict[str, Any] | None, opened: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        # After a failed question on a worker without a session, the browser's open
        # conversation is still the one open.
        conversation = _session(state).get("conversation") or _open(opened)
        listing, titles = _listing(qa, _user(request), conversation)
        return listing, _remembered(conversation), titles.get(conversation or "", gr.skip())

    for asked in (
        tab.ask.click(respond, inputs, outputs, api_name="ask"),
        tab.question.submit(respond, inputs, outputs, **_PRIVATE),
    ):
        asked.then(_prepare_download, [session], [tab.download], **_PRIVATE).then(
            listed,
            [session, current],
            [tab.history.conversations, current, tab.history.title],
            **_PRIVATE,
        )

    def reset() -> tuple[Any, ...]:
        return [], EMPTY_SOURCES, None, gr.Row(visible=False), "", None, _NO_CONVERSATION, "", ""

    tab.new_chat.click(
        reset,
        None,
        [tab.chatbot, tab.sources, session, tab.comment_row, tab.question,
         tab.history.conversations, current, tab.history.title, tab.history.link],
        **_PRIVATE,
    ).then(_prepare_download, [session], [tab.download], **_PRIVATE)  # fmt: skip
    _wire_feedback(qa, tab, session, current)


def _wire_feedback(qa: BriefQA, tab: _ChatTab, session: gr.State, current: gr.BrowserState) -> None:
    """The ratings of answers (kept with their conversation too) and their comments."""

    def rate(
        state: dict[str, Any] | None, opened: str | None, data: gr.LikeData, request: gr.Request
    ) -> tuple[Any, ...]:
        state = _recovered(qa, state, opened, _user(request))
        index = data.index[0] if isinstance(data.index, tuple | list) else data.index
        turn = state["by_message"].get(index)
        if turn is None:  # a user message or an error line: nothing to rate
            return gr.Row(visible=False), state
        rating: Literal["like", "dislike"] | None = (
            "like" if data.liked is True or data.liked == "Like" else "dislike"
        )
        if data.liked in ("", None):  # the rating was taken back
            rating = None
        try:
            qa.feedback(state["answers"][turn], rating)
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        stored = state.get("stored", {}).get(turn)  # its number in the kept conversation
        if state.get("conversation") and stored is not None:
            try:
                qa.conversations.rate(_user(request), state["conversation"], stored, rating)
            except NotFound:  # deleted meanwhile, in another tab: the feedback log has it
                pass
            except BriefQAError as exc:
                log.error("a rating could not be kept with its conversation: %s", exc)
                gr.Warning(f"Your rating is recorded, but not with the conversation: {exc}")
        return gr.Row(visible=True), {**state, "rated": (turn, rating)}

    tab.chatbot.like(rate, [session, current], [tab.comment_row, session], **_PRIVATE)

    def send_feedback(text: str, state: dict[str, Any] | None) -> tuple[Any, ...]:
        rated = _session(state).get("rated")
        if rated is None or not text.strip():
            return gr.Row(visible=rated is not None), text
        turn, rating = rated
        try:
            qa.feedback(_session(state)["answers"][turn], rating, text)
        except BriefQAError as exc:  # the comment is kept in its box to shorten
            raise gr.Error(str(exc), print_exception=False) from None
        gr.Info("Thank you: your comment is recorded with the answer.")
        return gr.Row(visible=False), ""

    for event in (tab.send_comment.click, tab.comment.submit):
        event(send_feedback, [tab.comment, session], [tab.comment_row, tab.comment], **_PRIVATE)


def _wire_briefs(
    qa: BriefQA,
    tries: _Suggestions,
    demo: gr.Blocks,
    tab: _BriefsTab,
    chat: _ChatTab,
    session: gr.State,
    current: gr.BrowserState,
    tabs: gr.Tabs,
) -> None:
    """The briefs table and lists, adding, removing, and a summary posted into the chat."""

    def refresh() -> tuple[Any, ...]:
        found = tries.current()
        docs = qa.documents()  # read after the suggestions: the freshest list
        choices = [(_label(b), b.doc_id) for b in docs]
        return (
            _brief_rows(docs),
            gr.Dropdown(choices=choices),
            gr.Dropdown(choices=choices, value=None),
            gr.Dropdown(choices=choices, value=None),
            gr.Dataset(samples=[[q] for q in found], visible=bool(found)),
        )

    lists = [tab.table, chat.doc_filter, tab.to_remove, tab.to_summarise, chat.tries]
    demo.load(refresh, None, lists, **_PRIVATE)

    _wire_summary(qa, tab, chat, session, current, tabs)

    def pick_row(event: gr.SelectData) -> Any:
        row = event.row_value
        if not row:
            return gr.skip()
        # The Id column shows the id's start: the brief whose id it begins.
        found = [b.doc_id for b in qa.documents() if b.doc_id.startswith(str(row[-1]))]
        return gr.Dropdown(value=found[0]) if len(found) == 1 else gr.skip()

    tab.table.select(pick_row, None, tab.to_summarise, **_PRIVATE)

    # Gradio keeps one cached file for the same bytes and name, whoever uploads them: when
    # two sessions add the same file at once, the first deletes the copy the second's
    # turn would read. The second is told what the first found (the same brief).
    added = _RecentUploads()

    def upload(paths: list[str] | None, progress: gr.Progress = _PROGRESS) -> Any:
        if not paths:
            raise gr.Error("Choose one or more files to add first.", print_exception=False)
        rows = []
        for i, path in enumerate(paths):
            name = Path(path).name
            progress((i, len(paths)), desc=f"Indexing {name}")
            try:
                data = Path(path).read_bytes()
            except OSError:  # Gradio's copy was cleaned up while the upload queued
                earlier = added.result(path, wait_s=qa.settings.lock_wait_s)
                expired = "failed: the upload expired before its turn; add it again"
                rows.append([name, earlier or expired])
                continue
            # Gradio's cached copy goes at once: the data dir keeps the brief, and a copy
            # left in the cache could be fetched by its path by any logged-in user.
            added.begin(path)
            _forget_upload(Path(path))
            try:
                info = qa.add(name, data)
                rows.append([name, f"indexed: {info.title} ({info.chunks} chunks)"])
                log.info(
                    "added from the chat: %s as %s (%d chunks)", name, info.doc_id, info.chunks
                )
            except BriefQAError as exc:
                rows.append([name, f"failed: {getattr(exc, 'reason', exc)}"])
                log.warning("not added from the chat: %s: %s", name, exc)
            finally:
                added.finish(path, rows[-1][1] if rows and rows[-1][0] == name else None)
        progress((len(paths), len(paths)), desc="Done")
        return (rows, None, *refresh())

    tab.add.click(upload, [tab.files], [tab.added, tab.files, *lists], api_name="add_briefs")

    def drop(doc_id: str | None) -> Any:
        if not doc_id:
            raise gr.Error("Pick the brief to remove first.", print_exception=False)
        try:
            title = qa.brief(doc_id).title
            qa.remove(doc_id)
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        log.info("removed from the chat: %s (%s)", doc_id, title)
        return (f"Removed **{plain_markdown(title)}**.", *refresh())

    tab.remove.click(drop, [tab.to_remove], [tab.removed, *lists], **_PRIVATE)


class _Suggestions:
    """The "Try" questions of the archive as it is, computed once per state of it:
    asking the candidates takes a second."""

    def __init__(self, qa: BriefQA) -> None:
        self.qa = qa
        self._cache: dict[tuple[str, ...], list[str]] = {}
        # Pages load at once: one computes, the others wait for it rather than ask too.
        self._lock = threading.Lock()
        self.current()

    def current(self) -> list[str]:
        with self._lock:
            return self._current()

    def _current(self) -> list[str]:
        # Checked against the archive again after computing, so that a slow computation
        # never shows the suggestions of an archive an upload has changed meanwhile.
        found: list[str] = []
        for _ in range(3):
            key = tuple(b.doc_id for b in self.qa.documents())
            if key not in self._cache:
                self._cache = {key: example_questions(self.qa)}
            found = self._cache[key]
            if key == tuple(b.doc_id for b in self.qa.documents()):
                break
        return found


def _brief_rows(docs: Sequence[BriefInfo]) -> list[list[Any]]:
    """The Briefs table: one row a brief, its id shortened (the lists hold it whole)."""
    return [
        [
            b.title,
            b.number or "",
            b.date or "",
            ", ".join(b.authors),
            b.chunks,
            # Copies of one brief in several formats are one brief with several files.
            "\n".join(Path(p).name for p in b.sources),
            b.doc_id[:SHORT_ID],
        ]
        for b in docs
    ]


class _RecentUploads:
    """What became of each cached upload added in the last hour, by its path; a turn
    that finds the file gone while another session is still adding it waits for that."""

    def __init__(self, keep_s: float = 3600.0) -> None:
        self.keep_s = keep_s
        self._results: dict[str, tuple[float, str | None]] = {}  # None: still being added
        self._changed = threading.Condition()

    def begin(self, path: str) -> None:
        with self._changed:
            self._results[path] = (time.monotonic(), None)

    def finish(self, path: str, result: str | None) -> None:
        now = time.monotonic()
        with self._changed:
            self._results = {
                p: r for p, r in self._results.items() if now - r[0] < self.keep_s or r[1] is None
            }
            self._results[path] = (now, result or "failed: it could not be added; add it again")
            self._changed.notify_all()

    def result(self, path: str, wait_s: float = 0.0) -> str | None:
        """The result of adding ``path`` (waiting up to ``wait_s`` for one in progress),
        or None if it was not added in the last hour."""
        with self._changed:
            self._changed.wait_for(lambda: self._results.get(path, (0.0, ""))[1] is not None,
                                   timeout=wait_s)  # fmt: skip
            found = self._results.get(path)
        if found is None or found[1] is None or time.monotonic() - found[0] >= self.keep_s:
            return None
        return found[1]


def _forget_upload(path: Path) -> None:
    """Delete Gradio's cached copy of an upload (and its folder, Gradio makes one per
    file), but only inside Gradio's cache: the path comes from the request."""
    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(cache.resolve()) or not resolved.is_file():
            return
        resolved.unlink()
        if resolved.parent != cache.resolve():
            resolved.parent.rmdir()  # only when empty
    except OSError:
        pass  # already gone, or the folder holds another file


# ---------------------------------------------------------------- helpers


def example_questions(qa: BriefQA, limit: int = 4) -> list[str]:
    """Questions the indexed briefs do answer, newest briefs first: one about a whole
    brief, then some drawn from their section headings.

    Each candidate is asked of the engine as a user clicking it asks it (no filter) and
    kept only if it is answered with full confidence from its own brief, every sentence
    supported, so an example never leads a new user to a refusal, to a low-confidence
    answer, or to another brief than the one it names.
    """
    found: list[str] = []
    for candidate, info in itertools.islice(_candidates(qa.documents()), 3 * limit):
        if len(found) >= limit:
            break
        try:
            answer = qa.ask(candidate)
        except BriefQAError:
            continue
        sure = answer.outcome == "answered" and not answer.unsupported
        own = bool(answer.citations) and all(c.doc_id == info.doc_id for c in answer.citations)
        if sure and own and candidate not in found:
            found.append(candidate)
    return found


def _candidates(docs: Sequence[BriefInfo]) -> Iterator[tuple[str, BriefInfo]]:
    """Example questions, each naming its brief unless the archive holds only one: what
    each of the newest briefs is about, then their sections, so that the suggestions
    show the archive's breadth rather than one brief's headings."""
    newest = docs[:3]

    def name(info: BriefInfo) -> str:
        if len(docs) == 1:
            return "this brief"
        return f"brief {info.number}" if info.number else f"“{_short(info.title)}”"

    for info in newest:
        yield f"What is {name(info)} about?", info
    for info in newest:
        for section in info.sections[:3]:
            yield f"What does {name(info)} say about {section.lower()}?", info


def _short(title: str, words: int = 8) -> str:
    parts = title.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _label(info: BriefInfo) -> str:
    extra = " · ".join(x for x in (info.number or "", info.date or "") if x)
    return f"{_short(info.title)} ({extra})" if extra else _short(info.title)


def _wire_summary(
    qa: BriefQA,
    tab: _BriefsTab,
    chat: _ChatTab,
    session: gr.State,
    current: gr.BrowserState,
    tabs: gr.Tabs,
) -> None:
    """A brief's summary, asked for on the Briefs tab, posted into the chat as a turn."""

    def summary(
        doc_id: str | None,
        messages: list[dict[str, Any]],
        state: dict[str, Any] | None,
        opened: str | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        # Posted into the chat as a turn: citations, the sources panel, feedback and
        # follow-ups ("and what does it say about China?") work as for any answer.
        if not doc_id:
            raise gr.Error("Pick the brief to summarise first.", print_exception=False)
        try:
            answer = qa.summary(doc_id)
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        asked = {"role": "user", "content": plain_markdown(answer.question)}
        user = _user(request)
        here = _recovered(qa, state, opened, user)
        messages, state = _add_turn([*messages, asked], here, answer)
        state = _keep(qa, user, state, answer)
        listing = _listing(qa, user, state["conversation"])[0]
        answers = state["answers"]
        sources_html = render_sources(answers, brief_index(qa, answers))
        return (messages, sources_html, state, listing, _remembered(state.get("conversation")),
                gr.Tabs(selected="chat"))  # fmt: skip

    tab.summarise.click(
        summary,
        [tab.to_summarise, chat.chatbot, session, current],
        [chat.chatbot, chat.sources, session, chat.history.conversations, current, tabs],
        **_PRIVATE,
    ).then(_prepare_download, [session], [chat.download], **_PRIVATE)


def _wire_history(
    qa: BriefQA, demo: gr.Blocks, tab: _ChatTab, session: gr.State, current: gr.BrowserState
) -> None:
    """The list of the user's conversations: reopening one (and the one this browser had
    open, when the page loads), renaming, sharing and deleting it."""
    panel = tab.history
    shown = [tab.chatbot, tab.sources, session, panel.conversations, current, panel.title,
             panel.link, panel.share, tab.comment_row]  # fmt: skip

    def show(conversation: Conversation | None, user: str) -> tuple[Any, ...]:
        listing, _ = _listing(qa, user, conversation.id if conversation else None)
        hidden = gr.Row(visible=False)  # a comment box of the chat shown before
        if conversation is None:
            return ([], EMPTY_SOURCES, None, listing, _NO_CONVERSATION, "", "", _share_label(None),
                    hidden)  # fmt: skip
        chat, state = _restore(conversation)
        answers = state["answers"]
        sources = render_sources(answers, brief_index(qa, answers))
        ratings = [_THUMBS.get(turn.rating or "") for turn in conversation.turns]
        shown_chat = gr.Chatbot(value=chat, feedback_value=ratings)  # type: ignore[arg-type]
        return (shown_chat, sources, state, listing, conversation.id, conversation.title,
                _share_note(conversation), _share_label(conversation), hidden)  # fmt: skip

    def opened(conversation_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        user = _user(request)
        try:
            found = _own(qa, user, conversation_id)
        except BriefQAError as exc:
            log.error("the conversations of %s could not be read: %s", user, exc)
            gr.Warning(f"Your conversations cannot be read now: {exc}")
            found = None
        return show(found, user)

    demo.load(opened, [current], shown, **_PRIVATE)
    panel.conversations.input(opened, [panel.conversations], shown, **_PRIVATE).then(
        _prepare_download, [session], [tab.download], **_PRIVATE
    )

    def conversation_of(state: dict[str, Any] | None, opened: str | None) -> str:
        # What the browser shows: this worker's session may be of another conversation
        # (kept from before the browser went to another worker and came back).
        found = _open(opened) or _session(state).get("conversation")
        if not found:
            raise gr.Error("Ask a question first: this chat is not kept yet.",
                           print_exception=False)  # fmt: skip
        return str(found)

    def rename(
        title: str, state: dict[str, Any] | None, opened: str | None, request: gr.Request
    ) -> Any:
        user = _user(request)
        try:
            renamed = qa.conversations.rename(user, conversation_of(state, opened), title)
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return _listing(qa, user, renamed.id)[0], renamed.title

    for event in (panel.rename.click, panel.title.submit):
        event(rename, [panel.title, session, current], [panel.conversations, panel.title],
              **_PRIVATE)  # fmt: skip

    def share(
        state: dict[str, Any] | None, opened: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        user, conversation = _user(request), conversation_of(state, opened)
        try:
            now = qa.conversations.get(user, conversation).shared
            shared = qa.conversations.share(user, conversation, shared=not now)
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return _share_note(shared), _share_label(shared)

    panel.share.click(share, [session, current], [panel.link, panel.share], **_PRIVATE)

    def delete(
        state: dict[str, Any] | None, opened: str | None, request: gr.Request
    ) -> tuple[Any, ...]:
        user = _user(request)
        try:
            qa.conversations.delete(user, conversation_of(state, opened))
        except BriefQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        gr.Info("The conversation is deleted.")
        return show(None, user)

    panel.delete.click(delete, [session, current], shown, **_PRIVATE).then(
        _prepare_download, [session], [tab.download], **_PRIVATE
    )


def _user(request: gr.Request | None) -> str:
    """Whose conversations: the logged-in user, or everyone's on a server without logins."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else ANONYMOUS


def _keep(qa: BriefQA, user: str, state: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """Keep ``answer`` as the next turn of the session's conversation (starting one on
    the first answer): the session with the conversation's id. A failure to keep it is
    shown and logged; the answer stays on screen."""
    conversation = state.get("conversation")
    stored = dict(state.get("stored", {}))  # answer index → turn number in the store
    try:
        number = None
        if conversation is not None:
            try:
                number = qa.conversations.add(user, conversation, answer).number
            except NotFound:  # deleted in another tab: this answer starts a new one
                conversation, stored = None, {}
        if conversation is None:
            conversation, number = qa.conversations.start(user, answer).id, 0
    except BriefQAError as exc:
        log.error("a chat turn of %s could not be kept: %s", user, exc)
        gr.Warning(f"This answer could not be kept in your conversations: {exc}")
        return state
    stored[len(state["answers"]) - 1] = number
    return {**state, "conversation": conversation, "stored": stored}


def _listing(qa: BriefQA, user: str, selected: str | None) -> tuple[Any, dict[str, str]]:
    """The conversation list's update (the user's conversations, newest first), and
    their titles by id; when the store cannot be read, no update (the failure is logged
    and shown, and nothing on screen is lost)."""
    try:
        found = qa.conversations.list(user)
    except BriefQAError as exc:
        log.error("the conversations of %s could not be listed: %s", user, exc)
        gr.Warning(f"Your conversations cannot be listed now: {exc}")
        return gr.skip(), {}
    titles = {c.id: c.title for c in found}
    # The day it was last continued (UTC), so that two chats of one title can be told apart.
    choices = [(f"{c.title} · {_day(c.updated)}", c.id) for c in found]
    return gr.Radio(choices=choices, value=selected), titles


def _day(iso: str) -> str:
    day = datetime.fromisoformat(iso)
    return f"{day.day} {day:%b}" if day.year == datetime.now(UTC).year else f"{day:%Y-%m-%d}"


def _restore(conversation: Conversation) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chat messages and session of a kept conversation, as if just asked."""
    chat: list[dict[str, Any]] = []
    state = _new_session()
    for turn in conversation.turns:
        chat.append({"role": "user", "content": plain_markdown(turn.answer.question)})
        chat, state = _add_turn(chat, state, turn.answer)
    stored = {i: turn.number for i, turn in enumerate(conversation.turns)}
    return chat, {**state, "conversation": conversation.id, "stored": stored}


# A kept rating, as the chat's thumbs show it.
_THUMBS = {"like": "Like", "dislike": "Dislike"}


def _share_label(conversation: Conversation | None) -> Any:
    shared = conversation is not None and conversation.shared
    return gr.Button(value="Stop sharing" if shared else "Share a read-only link")


def _share_note(conversation: Conversation) -> str:
    if not conversation.shared:
        return ""
    link = f"shared/{html.escape(conversation.id)}"
    return (
        f'<p class="bq-meta">Read-only link for colleagues who are logged in: '
        f'<a href="{link}" target="_blank" id="bq-shared-link">{link}</a></p>'
    )


def _add_turn(
    chat: list[dict[str, Any]], state: dict[str, Any], answer: Answer
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``chat`` with ``answer`` as its last message, and the session that knows which
    message holds it (for ratings) and the answer itself (for follow-ups and sources)."""
    turn = len(state["answers"])
    chat = [*chat, {"role": "assistant", "content": render_answer(answer, turn)}]
    state = {
        **state,  # the conversation it is kept in
        "rated": None,  # a comment is about the answer just rated, never an earlier one
        "answers": [*state["answers"], answer],
        "by_message": {**state["by_message"], len(chat) - 1: turn},
    }
    return chat, state


def export_conversation(answers: Sequence[Answer], folder: Path) -> Path | None:
    """The conversation as a Markdown file under ``folder`` (None when it has no
    answers yet), named ``briefqa-conversation.md`` for the browser's download.

    Each export lands in a subfolder named by its content; Gradio serves a copy from its
    own cache, so exports older than an hour are deleted as new ones are written.
    """
    if not answers:
        return None
    text = export_markdown(answers)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        with contextlib.suppress(OSError):  # another session's sweep got there first
            if old.name != digest and time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old)
    path = folder / digest / "briefqa-conversation.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _export_dir() -> Path:
    # Inside Gradio's upload folder, which the server keeps in the data dir: a
    # conversation is as private as the questions, and Gradio serves files from there.
    return Path(gr.utils.get_upload_folder()) / "briefqa-exports"


def _new_session() -> dict[str, Any]:
    # stored: each answer's turn number in the kept conversation (ratings go there).
    return {"answers": [], "by_message": {}, "rated": None, "conversation": None, "stored": {}}


def _recovered(
    qa: BriefQA, state: dict[str, Any] | None, opened: str | None, user: str
) -> dict[str, Any]:
    """The session of the conversation the browser has open. This worker's session when
    it is of that conversation; otherwise (another worker served the page, this one
    restarted, or the browser went elsewhere and came back) that conversation's session
    from the store: a chat goes on on whichever worker its next question reaches."""
    if opened is None:  # a caller that does not say (the API, a script): as it was
        return _session(state)
    shown = _open(opened)
    if state is not None and state.get("conversation") == shown:
        return state  # this worker's own (or a chat not kept yet)
    try:
        conversation = _own(qa, user, shown)
    except BriefQAError as exc:
        raise gr.Error(
            f"Your conversation cannot be read now: {exc}", print_exception=False
        ) from None
    # None: the browser started a new chat, or its conversation was deleted meanwhile.
    return _new_session() if conversation is None else _restore(conversation)[1]


def _own(qa: BriefQA, user: str, remembered: str | None) -> Conversation | None:
    """The user's own conversation the browser remembers: None when there is none, it
    was deleted (in another tab), or it is another user's (one logged in before on this
    browser, or one shared: opened by its link, never as one's own chat)."""
    conversation_id = _open(remembered)
    if conversation_id is None:
        return None
    try:
        found = qa.conversations.get(user, conversation_id)
    except NotFound:
        return None
    return found if found.user == user else None


# What the browser remembers when no conversation is open. Not None: Gradio's browser
# storage keeps only a value that is truthy, and a reload would reopen the last one.
_NO_CONVERSATION = "none"


def _open(remembered: str | None) -> str | None:
    """The conversation id the browser remembers, if any."""
    return remembered if remembered and remembered != _NO_CONVERSATION else None


def _remembered(conversation: str | None) -> str:
    return conversation or _NO_CONVERSATION


def _session(state: dict[str, Any] | None) -> dict[str, Any]:
    # A State with a callable default would add an API endpoint; start from None instead.
    return state if state is not None else _new_session()
