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
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from briefqa import (
    SUPPORTED_SUFFIXES,
    Answer,
    BriefInfo,
    BriefQA,
    BriefQAError,
    Citation,
    Filters,
    Hit,
    NotFound,
    export_markdown,
    section_label,
)

CSS = """
.bq-cite { font-weight: 600; text-decoration: none; cursor: pointer; padding: 0 1px; }
.bq-unsupported { text-decoration: underline wavy #c2410c; text-underline-offset: 3px; }
.bq-flag { color: #c2410c; font-size: 0.85em; }
.bq-refusal { border-left: 4px solid #6b7280; padding: 4px 10px; background: #f3f4f6;
  color: #374151; font-style: italic; }
.bq-low { border: 1px dashed #b45309; border-left: 4px solid #b45309; padding: 4px 10px;
  background: #fffbeb; color: #78350f; margin-bottom: 6px; }
.bq-sources { font-size: 0.92em; }
.bq-turn h4 { margin: 10px 0 6px; }
.bq-source { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 10px;
  margin-bottom: 8px; scroll-margin: 40px; }
.bq-source.bq-active { border-color: #2563eb; box-shadow: 0 0 0 3px #bfdbfe; }
.bq-source.bq-nearest { border-style: dashed; }
.bq-meta { color: #6b7280; font-size: 0.9em; }
.bq-passage { margin-top: 6px; line-height: 1.45; white-space: pre-wrap; }
.bq-passage mark { background: #fde68a; padding: 0 1px; }
.bq-source.bq-active mark { background: #fbbf24; }
.bq-score { color: #6b7280; font-size: 0.85em; margin-top: 4px; }
.bq-title { font-size: 1.5em; font-weight: 600; margin: 4px 0 0; }
/* The tables hold titles, file names and results, not code: the page's font, words
   kept whole. */
#bq-briefs, #bq-upload-result { --font-mono: var(--font); }
#bq-briefs td, #bq-upload-result td { word-break: normal; overflow-wrap: break-word; }
"""

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

# Above a low-confidence answer: words first (not only colour), then where to look.
LOW_CONFIDENCE = (
    '<div class="bq-low" role="note"><strong>⚠ Low confidence — check the sources.</strong> '
    "The passages found may not answer this question; the cited and the nearest passages "
    "are listed beside the chat.</div>"
)
#: Gradio's own words that do not fit the page, by locale: the drop zone takes several
#: briefs at once, not "a file".
WORDING = {
    locale: {
        "upload_text.drop_file": "Drop briefs here (several at once)",
        "upload_text.click_to_upload": "Click to choose them",
    }
    for locale in ("en", "en-US", "en-GB")
}

EMPTY_SOURCES = (
    '<div class="bq-sources"><p class="bq-meta">Sources of each answer appear here. '
    "Click a citation such as [1] to see the sentence it rests on.</p></div>"
)
log = logging.getLogger("briefqa.server")

#: Characters of a brief's id the Briefs table shows (the dropdowns hold the whole id).
SHORT_ID = 12
# Gradio finds the progress tracker by this default value.
_PROGRESS = gr.Progress()
_MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


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
        gr.HTML("<h1 class='bq-title'>Ask the institute's policy briefs</h1>")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"), gr.Row():
                chat = _chat_tab(tries.current())
            with gr.Tab("Briefs", id="briefs"):
                briefs = _briefs_tab()
        _wire_chat(qa, chat, session)
        _wire_briefs(qa, tries, demo, briefs, chat, session, tabs)
    blocks: gr.Blocks = demo
    return blocks


def _chat_tab(examples: list[str]) -> _ChatTab:
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
            new_chat = gr.Button("New chat", size="sm", elem_id="bq-new")
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
        doc_filter, date_from, date_to, sources, tries,
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


def _wire_chat(qa: BriefQA, tab: _ChatTab, session: gr.State) -> None:
    """Asking, a new chat, the download, and the ratings with their comments."""

    def respond(
        message: str,
        chat: list[dict[str, Any]],
        state: dict[str, Any] | None,
        doc_ids: list[str] | None,
        start: str,
        end: str,
    ) -> Iterator[tuple[Any, ...]]:
        state = _session(state)
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
        answers = state["answers"]
        yield "", chat, render_sources(answers, _brief_index(qa, answers)), state

    tab.tries.click(lambda sample: sample[0], tab.tries, tab.question, **_PRIVATE)
    inputs = [tab.question, tab.chatbot, session, tab.doc_filter, tab.date_from, tab.date_to]
    outputs = [tab.question, tab.chatbot, tab.sources, session]
    tab.ask.click(respond, inputs, outputs, api_name="ask").then(
        _prepare_download, [session], [tab.download], **_PRIVATE
    )
    tab.question.submit(respond, inputs, outputs, **_PRIVATE).then(
        _prepare_download, [session], [tab.download], **_PRIVATE
    )

    def reset() -> tuple[Any, ...]:
        return [], EMPTY_SOURCES, None, gr.Row(visible=False), ""

    tab.new_chat.click(
        reset, None, [tab.chatbot, tab.sources, session, tab.comment_row, tab.question], **_PRIVATE
    ).then(_prepare_download, [session], [tab.download], **_PRIVATE)

    def rate(state: dict[str, Any] | None, data: gr.LikeData) -> tuple[Any, ...]:
        state = _session(state)
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
        return gr.Row(visible=True), {**state, "rated": (turn, rating)}

    tab.chatbot.like(rate, [session], [tab.comment_row, session], **_PRIVATE)

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

    def summary(
        doc_id: str | None, messages: list[dict[str, Any]], state: dict[str, Any] | None
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
        messages, state = _add_turn([*messages, asked], _session(state), answer)
        answers = state["answers"]
        sources_html = render_sources(answers, _brief_index(qa, answers))
        return messages, sources_html, state, gr.Tabs(selected="chat")

    tab.summarise.click(
        summary,
        [tab.to_summarise, chat.chatbot, session],
        [chat.chatbot, chat.sources, session, tabs],
        **_PRIVATE,
    ).then(_prepare_download, [session], [chat.download], **_PRIVATE)

    def pick_row(event: gr.SelectData) -> Any:
        row = event.row_value
        if not row:
            return gr.skip()
        # The Id column shows the id's start: the brief whose id it begins.
        found = [b.doc_id for b in qa.documents() if b.doc_id.startswith(str(row[-1]))]
        return gr.Dropdown(value=found[0]) if len(found) == 1 else gr.skip()

    tab.table.select(pick_row, None, tab.to_summarise, **_PRIVATE)

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
                rows.append([name, "failed: the upload expired before its turn; add it again"])
                continue
            # Gradio's cached copy goes at once: the data dir keeps the brief, and a copy
            # left in the cache could be fetched by its path by any logged-in user.
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


# ---------------------------------------------------------------- rendering


def render_answer(answer: Answer, turn: int) -> str:
    """An answer as chat markup: escaped text, clickable citations, flagged claims.

    A refusal is set apart in its own words ("The briefs do not cover this question.",
    or what the brief lacks); a low-confidence answer comes under :data:`LOW_CONFIDENCE`.
    """
    if answer.refused:
        nearest = (
            " The closest passages found are listed beside the chat; none answers it."
            if answer.nearest
            else ""
        )
        return f'<div class="bq-refusal">{html.escape(answer.text)}{nearest}</div>'
    body = _answer_text(answer, turn)
    # The blank line ends the banner's HTML block, so the answer is read as Markdown.
    return f"{LOW_CONFIDENCE}\n\n{body}" if answer.low_confidence else body


def _answer_text(answer: Answer, turn: int) -> str:
    text = answer.text
    flagged: list[tuple[int, int]] = []
    for claim in answer.unsupported:
        at = text.find(claim)
        if at >= 0:
            flagged.append((at, at + len(claim)))
    out: list[str] = []
    cursor = 0
    for start, end in sorted(flagged):
        if start < cursor:
            continue
        out.append(_with_links(text[cursor:start], turn))
        out.append(
            '<span class="bq-unsupported" title="No cited passage supports this sentence">'
            f"{_with_links(text[start:end], turn)}</span>"
            ' <span class="bq-flag">(unsupported)</span>'
        )
        cursor = end
    out.append(_with_links(text[cursor:], turn))
    if answer.preface:  # which brief of several answered: its own paragraph, above
        out.insert(0, f'<p class="bq-meta">{html.escape(answer.preface)}</p>\n\n')
    return "".join(out)


def render_sources(answers: Sequence[Answer], briefs: dict[str, BriefInfo]) -> str:
    """The sources panel: the latest answer's passages first, earlier turns folded."""
    if not answers:
        return EMPTY_SOURCES
    parts = ['<div class="bq-sources">']
    for turn in range(len(answers) - 1, -1, -1):
        answer = answers[turn]
        body = _turn_sources(answer, turn, briefs)
        heading = f"<h4>Q{turn + 1}: {html.escape(answer.question)}</h4>"
        if turn == len(answers) - 1:
            parts.append(f'<section class="bq-turn" id="bq-turn-{turn}">{heading}{body}</section>')
        else:
            parts.append(
                f'<details class="bq-turn" id="bq-turn-{turn}"><summary>'
                f"Q{turn + 1}: {html.escape(answer.question)}</summary>{body}</details>"
            )
    parts.append("</div>")
    return "".join(parts)


def _turn_sources(answer: Answer, turn: int, briefs: dict[str, BriefInfo]) -> str:
    if answer.refused:
        intro = (
            f'<p class="bq-meta">{html.escape(answer.text)} Nearest passages (not an answer):</p>'
            if answer.nearest
            else f'<p class="bq-meta">{html.escape(answer.text)} No passage came close.</p>'
        )
        return intro + _nearest(answer, turn, briefs, skip=set())
    cited = _cited_cards(answer, turn, briefs)
    if not answer.low_confidence:
        return cited
    # The reader is asked to check: what was cited, then the other passages nearest
    # the question, which may hold the answer instead.
    skip = {c.chunk_id for c in answer.citations}
    others = _nearest(answer, turn, briefs, skip=skip)
    return (
        '<p class="bq-meta bq-low-note"><b>Low confidence:</b> check that these passages '
        "answer the question.</p>"
        + cited
        + ('<p class="bq-meta">Other nearest passages:</p>' + others if others else "")
    )


def _nearest(answer: Answer, turn: int, briefs: dict[str, BriefInfo], skip: set[str]) -> str:
    # Nearest first: a refusal's passages come in the gate's order, not by score.
    hits = sorted(
        (hit for hit in answer.nearest if hit.chunk_id not in skip),
        key=lambda h: (h.dense is None, -(h.dense or 0.0), -h.score),  # as each card shows
    )
    return "".join(
        _card(f"bq-near-{turn}-{i}", hit, [], briefs, label=f"{i}.", extra=" bq-nearest")
        for i, hit in enumerate(hits, 1)
    )


def _cited_cards(answer: Answer, turn: int, briefs: dict[str, BriefInfo]) -> str:
    if not answer.citations:
        return '<p class="bq-meta">This answer cites no passage.</p>'
    by_n: dict[int, list[Citation]] = {}
    for citation in answer.citations:
        by_n.setdefault(citation.n, []).append(citation)
    hits = {hit.chunk_id: hit for hit in answer.sources}
    cards = []
    for n, cites in sorted(by_n.items()):
        hit = hits.get(cites[0].chunk_id)
        if hit is not None:
            cards.append(_card(f"src-{turn}-{n}", hit, cites, briefs, label=f"[{n}]"))
    return "".join(cards)


def _card(
    element_id: str,
    hit: Hit,
    citations: Sequence[Citation],
    briefs: dict[str, BriefInfo],
    *,
    label: str,
    extra: str = "",
) -> str:
    info = briefs.get(hit.doc_id)
    meta = [
        f"No. {info.number}" if info and info.number else "",
        info.date if info and info.date else "",
        ", ".join(info.authors) if info else "",
        section_label(hit.section),
        f"p. {hit.page}" if hit.page else "",
    ]
    # Quote offsets are in the brief's text; the passage starts at hit.start.
    spans = sorted(
        {(c.start - hit.start, c.end - hit.start) for c in citations if c.start >= hit.start}
    )
    passage: list[str] = []
    cursor = 0
    for start, end in spans:
        if start < cursor or end > len(hit.text):
            continue
        passage.append(html.escape(hit.text[cursor:start]))
        passage.append(f'<mark class="bq-quote">{html.escape(hit.text[start:end])}</mark>')
        cursor = end
    passage.append(html.escape(hit.text[cursor:]))
    if citations:
        read = [c.answer_score for c in citations if c.answer_score is not None]
        # An extracted sentence supports itself (1.00 says nothing): what a reader wants
        # to know is how sure the reading model is that it answers the question.
        score = (
            f"answers the question: {max(read):.2f} · passage score {citations[0].score:.3f}"
            if read
            else f"support {max(c.support for c in citations):.2f} · "
            f"retrieval score {citations[0].score:.3f}"
        )
    else:
        score = f"similarity {hit.dense:.2f}" if hit.dense is not None else ""
    return (
        f'<div class="bq-source{extra}" id="{element_id}" tabindex="-1">'
        f"<div><b>{html.escape(label)} {html.escape(hit.title)}</b></div>"
        f'<div class="bq-meta">{html.escape(" · ".join(m for m in meta if m))}</div>'
        f'<div class="bq-passage">{"".join(passage)}</div>'
        f'<div class="bq-score">{score}</div></div>'
    )


def _with_links(text: str, turn: int) -> str:
    out: list[str] = []
    cursor = 0
    for match in _MARKER.finditer(text):
        out.append(plain_markdown(text[cursor : match.start()]))
        n = match.group(1)
        out.append(
            f'<a class="bq-cite" href="#src-{turn}-{n}" '
            f'title="Show the passage cited as [{n}]">[{n}]</a>'
        )
        cursor = match.end()
    out.append(plain_markdown(text[cursor:]))
    return "".join(out)


def plain_markdown(text: str) -> str:
    """Plain text made safe for the chat's Markdown renderer: HTML escaped, Markdown
    punctuation backslash-escaped, so brief text always shows as written."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


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


def _brief_index(qa: BriefQA, answers: Sequence[Answer]) -> dict[str, BriefInfo]:
    """Number and date of the briefs the answers show, looked up one by one: reading
    the whole archive's list for every answer would grow with the archive."""
    index = {}
    for doc_id in {h.doc_id for a in answers for h in (*a.sources, *a.nearest)}:
        with contextlib.suppress(NotFound):  # removed since it was cited
            index[doc_id] = qa.brief(doc_id)
    return index


def _add_turn(
    chat: list[dict[str, Any]], state: dict[str, Any], answer: Answer
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``chat`` with ``answer`` as its last message, and the session that knows which
    message holds it (for ratings) and the answer itself (for follow-ups and sources)."""
    turn = len(state["answers"])
    chat = [*chat, {"role": "assistant", "content": render_answer(answer, turn)}]
    state = {
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
    return {"answers": [], "by_message": {}, "rated": None}


def _session(state: dict[str, Any] | None) -> dict[str, Any]:
    # A State with a callable default would add an API endpoint; start from None instead.
    return state if state is not None else _new_session()
