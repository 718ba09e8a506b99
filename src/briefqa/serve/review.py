"""The reviewer's page: staff feedback turned into test questions.

``briefqa feedback export`` drafts one row per answer staff rated or commented on
(:meth:`briefqa.BriefQA.feedback_drafts`); ``briefqa feedback review DRAFTS --set SET``
serves this page over those drafts, behind the same logins as the chat. For each draft
the evaluator reads the question, the answer staff were given with its citations, and
their comments, then either clicks the sentence of the brief that answers it (optionally
typing the short gold answer), or marks it unanswerable from the briefs, or discards it.
A decision appends a row to the question set that ``briefqa eval`` reads — the
configuration that produced the answer travels with it — and marks the draft in DRAFTS,
so a review can stop and resume.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from briefqa import BriefQA, BriefQAError, ConfigError
from briefqa.jsonlines import append_record, read_records
from briefqa.serve.markup import plain_markdown
from briefqa.text import sentence_spans

#: A draft's status once decided; "draft" until then.
DECISIONS = ("answerable", "unanswerable", "discarded")
#: One decision at a time in this process (the file lock serialises processes).
_DECIDING = threading.Lock()


def read_drafts(path: Path) -> list[dict[str, Any]]:
    """The draft rows of ``path``.

    Raises:
        ConfigError: the file is missing or a line is not a draft row.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the drafts {path}: {exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not an object")
            if not (isinstance(row.get("id"), str) and isinstance(row.get("question"), str)):
                raise ValueError("no id or question")
            if not isinstance(row.get("comments", []), list) or not isinstance(
                row.get("configuration", {}), dict
            ):
                raise ValueError("comments must be a list and configuration an object")
        except ValueError as exc:
            raise ConfigError(
                f"{path}:{number}: not a draft row ({exc}); write drafts with "
                "`briefqa feedback export`"
            ) from None
        rows.append(row)
    return rows


def decide(
    drafts_path: Path,
    questions_path: Path,
    draft_id: str,
    decision: str,
    evidence: str = "",
    answer: str = "",
) -> dict[str, Any] | None:
    """Record ``decision`` on one draft: an answerable or unanswerable question appended
    to the question set (returned), or nothing for a discarded draft; the draft's status
    changes in ``drafts_path`` either way (written whole under a temporary name first).

    Raises:
        ConfigError: an unknown decision or draft, or an answerable one without evidence.
    """
    if decision not in DECISIONS:
        raise ConfigError(f"decision {decision!r}: choose from {', '.join(DECISIONS)}")
    if decision == "answerable" and not evidence.strip():
        raise ConfigError("pick the sentence that answers the question first")
    # Reviewers' clicks run at once: one decision at a time, across processes too.
    with _DECIDING, open(drafts_path.with_name(f".{drafts_path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        drafts = read_drafts(drafts_path)
        draft = next((d for d in drafts if d["id"] == draft_id), None)
        if draft is None:
            raise ConfigError(f"no draft {draft_id!r} in {drafts_path}")
        row = None
        if decision != "discarded":
            row = {
                "id": draft_id,
                "question": draft["question"],
                "answers": [answer.strip()] if answer.strip() else [],
                "evidence": evidence.strip(),
                "unanswerable": decision == "unanswerable",
                "source": "staff feedback",
                "comment": " / ".join(str(c) for c in draft.get("comments", [])),
                "configuration": draft.get("configuration", {}),
            }
            known = {r.get("id") for r in read_records(questions_path)}
            if draft_id not in known:  # the first decision is kept
                append_record(questions_path, row, "the question set")
        draft["status"] = decision
        _write_lines(drafts_path, [json.dumps(d, ensure_ascii=False) for d in drafts])
    return row


def _write_lines(path: Path, lines: list[str]) -> None:
    """``path`` replaced whole: written to a temporary file beside it first."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def brief_sentences(qa: BriefQA, doc_id: str) -> list[str]:
    """A brief's sentences in text order, each once (its passages overlap)."""
    seen: set[int] = set()
    sentences = []
    for chunk in qa.passages(doc_id):
        for start, end in sentence_spans(chunk.text):
            if chunk.start + start not in seen:
                seen.add(chunk.start + start)
                sentences.append(" ".join(chunk.text[start:end].split()))
    return sentences


def build_review(qa: BriefQA, drafts_path: Path, questions_path: Path) -> gr.Blocks:
    """The page: one draft at a time, the oldest undecided first."""

    def pending() -> list[dict[str, Any]]:
        return [d for d in read_drafts(drafts_path) if d.get("status", "draft") == "draft"]

    def show() -> tuple[Any, ...]:
        left = pending()
        if not left:
            done = f"Every draft is reviewed. The question set is `{questions_path}`."
            return ("", done, "", gr.Dropdown(choices=[], value=None), gr.Radio(choices=[]), "")
        draft = left[0]
        briefs = _brief_choices(qa, draft.get("citations", []))
        first = briefs[0][1] if briefs else None
        return (
            draft["id"],
            f"**{len(left)} to review.** " + _describe(draft),
            "",
            gr.Dropdown(choices=briefs, value=first),
            gr.Radio(choices=brief_sentences(qa, first) if first else [], value=None),
            "",
        )

    def pick_brief(doc_id: str | None) -> Any:
        return gr.Radio(choices=brief_sentences(qa, doc_id) if doc_id else [], value=None)

    def act(decision: str) -> Any:
        def handler(draft_id: str, sentence: str | None, answer: str) -> tuple[Any, ...]:
            if not draft_id:
                raise gr.Error("Nothing to review.", print_exception=False)
            try:
                decide(drafts_path, questions_path, draft_id, decision, sentence or "", answer)
            except BriefQAError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            *rest, _ = show()
            return (*rest, f"`{draft_id}`: {decision}.")

        return handler

    with gr.Blocks(title="briefqa — review staff feedback", analytics_enabled=False) as page:
        gr.Markdown("# Review staff feedback\nTurn each answer staff rated into a test question.")
        draft_id = gr.Textbox(visible=False)
        with gr.Row():
            # The decision beside the sentences: a brief has a hundred of them.
            with gr.Column(scale=2):
                draft = gr.Markdown(elem_id="bq-draft")
                gold = gr.Textbox(label="Gold answer (optional: the short answer)",
                                  elem_id="bq-gold")  # fmt: skip
                answerable = gr.Button("Answerable: the picked sentence", variant="primary",
                                       elem_id="bq-answerable")  # fmt: skip
                with gr.Row():
                    unanswerable = gr.Button("Not answerable from the briefs",
                                             elem_id="bq-unanswerable")  # fmt: skip
                    discard = gr.Button("Discard", elem_id="bq-discard")
                status = gr.Markdown(elem_id="bq-review-status")
            with gr.Column(scale=3):
                brief = gr.Dropdown(label="Brief", choices=[], elem_id="bq-review-brief")
                evidence = gr.Radio(label="Click the sentence that answers the question",
                                    choices=[], elem_id="bq-evidence")  # fmt: skip
        view = [draft_id, draft, gold, brief, evidence, status]
        page.load(show, None, view, api_visibility="private")
        brief.change(pick_brief, brief, evidence, api_visibility="private")
        inputs = [draft_id, evidence, gold]
        for button, decision in (
            (answerable, "answerable"),
            (unanswerable, "unanswerable"),
            (discard, "discarded"),
        ):
            button.click(act(decision), inputs, view, api_visibility="private")
    blocks: gr.Blocks = page
    return blocks


def serve_review(
    qa: BriefQA, drafts_path: Path, questions_path: Path, host: str, port: int
) -> None:
    """Serve the page until interrupted, behind ``auth_file``'s logins when it is set."""
    from briefqa.serve.auth import Users

    read_drafts(drafts_path)  # a wrong file is refused before the server starts
    settings = qa.settings
    users = Users.from_file(settings.auth_file) if settings.auth_file else None
    build_review(qa, drafts_path, questions_path).launch(
        server_name=host,
        server_port=port,
        auth=users.check if users is not None else None,
        auth_message="Log in with your briefqa user name and password.",
        show_error=True,
        ssr_mode=False,
        footer_links=[],
    )


def _brief_choices(qa: BriefQA, citations: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The briefs to pick evidence from: those the answer cited first, then the rest."""
    cited = list(dict.fromkeys(c.get("doc_id") for c in citations if c.get("doc_id")))
    infos = {b.doc_id: b for b in qa.documents()}
    order = [d for d in cited if d in infos] + [d for d in infos if d not in cited]
    return [(infos[d].title, d) for d in order]


def _describe(draft: dict[str, Any]) -> str:
    """The draft as the evaluator reads it, in Markdown: staff's and briefs' text made
    plain (no heading, link or image of theirs renders), each comment line quoted."""
    md = plain_markdown
    rating = {"like": "liked", "dislike": "disliked"}.get(draft.get("rating") or "", "commented on")
    comments = "".join(
        "\n\n" + "\n".join(f"> {md(line)}" for line in str(c).splitlines() or [""])
        for c in draft.get("comments", [])
    )
    cites = "".join(
        f"\n- [{c.get('n')}] {md(str(c.get('title', '')))}: “{md(str(c.get('quote', ''))[:300])}”"
        for c in draft.get("citations", [])
    )
    config = ", ".join(f"{k}={v}" for k, v in draft.get("configuration", {}).items())
    return (
        f"Staff {rating} this answer.\n\n**Question:** {md(str(draft['question']))}\n\n"
        f"**Answer given:** {md(str(draft.get('answer_given', '')))}{cites}\n\n"
        f"**Comments:**{comments or ' none'}\n\n<small>Answered with: {md(config)}</small>"
    )


__all__ = ["DECISIONS", "brief_sentences", "build_review", "decide", "read_drafts", "serve_review"]
