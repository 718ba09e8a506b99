"""The ``briefqa`` command line. It uses only the public API in :mod:`briefqa`."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import briefqa
from briefqa import (
    LOWER_IS_BETTER,
    METRICS,
    Answer,
    BriefQA,
    BriefQAError,
    ConfigError,
    DataDamaged,
    DiskFull,
    Filters,
    IngestReport,
    InvalidQuestion,
    Settings,
    UnknownSchema,
    append_run,
    compare_with_saved,
    export_run,
    load_configuration,
    load_saved_rows,
    load_settings,
    markdown,
    read_runs,
    run_evaluation,
    section_label,
    vary_configurations,
    write_report,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        try:
            code: int = args.func(args)
        except (sqlite3.DatabaseError, OSError) as exc:
            # A raw failure of the data dir's files: named, with its fix, or re-raised.
            known = briefqa.diagnose(_data_dir(args), exc)
            if known is None:
                raise
            raise known from exc
    except BriefQAError as exc:
        print(f"briefqa: error: {exc}", file=sys.stderr)
        return _EXIT.get(type(exc), 2)
    except KeyboardInterrupt:
        return 130
    return code


#: Exit codes beyond 0 (done), 1 (a file failed, or `check` found a problem) and 2 (any
#: other briefqa error): a damaged data file, a full disk, a data file of another schema.
_EXIT: dict[type[BriefQAError], int] = {DataDamaged: 3, DiskFull: 4, UnknownSchema: 5}


def _data_dir(args: argparse.Namespace) -> Path:
    given = getattr(args, "data_dir", None)
    settings = load_settings() if given is None else load_settings(data_dir=Path(given))
    return Path(settings.data_dir).expanduser().resolve()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefqa", description="Document-grounded Q&A over policy briefs."
    )
    parser.add_argument("--version", action="version", version=briefqa.__version__)
    parser.add_argument(
        "--data-dir", help="index directory (default: BRIEFQA_DATA_DIR or .briefqa)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="index briefs from files and folders")
    ingest.add_argument(
        "paths", nargs="*", metavar="PATH", help="brief files or folders (default: corpus_dir)"
    )
    ingest.add_argument(
        "--prune",
        action="store_true",
        help="remove briefs whose files are gone (with BRIEFQA_DATABASE_URL: only files under "
        "the given paths)",
    )
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.add_argument(
        "--if-empty", action="store_true", help="do nothing if the index already holds briefs"
    )
    ingest.set_defaults(func=_ingest)

    docs = commands.add_parser("docs", help="list the indexed briefs")
    docs.add_argument("--json", action="store_true", help="print the list as JSON")
    docs.set_defaults(func=_docs)

    ask = commands.add_parser("ask", help="ask a question (no question: interactive chat)")
    ask.add_argument("question", nargs="?", help="the question; omit it to chat interactively")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--doc", action="append", dest="doc_ids", help="only this brief (repeatable)")
    ask.add_argument("--from", dest="date_from", help="only briefs dated on/after (YYYY-MM-DD)")
    ask.add_argument("--to", dest="date_to", help="only briefs dated on/before (YYYY-MM-DD)")
    ask.set_defaults(func=_ask)

    _eval_arguments(commands.add_parser("eval", help="measure answer quality on a question set"))

    check = commands.add_parser(
        "check",
        help="compare the manifest with the vector store (exit 0: consistent, 1: not)",
    )
    check.add_argument(
        "--repair",
        action="store_true",
        help="re-embed missing or damaged chunks from their files, delete orphans",
    )
    check.add_argument(
        "--rebuild",
        action="store_true",
        help="set the index's files aside and ingest the uploads and the corpus again "
        "(when the manifest itself is damaged)",
    )
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(func=_check)

    remove = commands.add_parser("remove", help="remove a brief from the index")
    remove.add_argument("doc_id", help="the brief's id (see `briefqa docs`)")
    remove.set_defaults(func=_remove)

    serve = commands.add_parser("serve", help="web chat at / and REST API at /api/v1")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.set_defaults(func=_serve)

    mcp = commands.add_parser(
        "mcp", help="serve the briefs to MCP clients (stdio; --http for streamable HTTP)"
    )
    mcp.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio",
    )
    mcp.set_defaults(func=_mcp)

    _feedback_arguments(commands)
    upgrade = commands.add_parser(
        "upgrade-database",
        help="copy the data dir's index (its manifest, sentence vectors and uploads), "
        "conversations and feedback into BRIEFQA_DATABASE_URL (safe to re-run)",
    )
    upgrade.set_defaults(func=_upgrade_database)

    hashpw = commands.add_parser(
        "hash-password", help="print a 'user:hash' line for BRIEFQA_AUTH_FILE"
    )
    hashpw.add_argument("user", help="the user name")
    hashpw.set_defaults(func=_hash_password)
    return parser


def _feedback_arguments(commands: Any) -> None:
    """``briefqa feedback export`` and ``briefqa feedback review``."""
    feedback = commands.add_parser("feedback", help="staff's feedback, for evaluators")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser(
        "export", help="draft question-set rows (JSONL), one per rated or commented answer"
    )
    export.add_argument("--since", metavar="YYYY-MM-DD", help="answers with feedback since")
    export.add_argument("--only", choices=["up", "down"], help="only liked or disliked answers")
    export.add_argument("--out", metavar="JSONL", help="write here instead of stdout")
    export.set_defaults(func=_feedback_export)
    review = feedback_commands.add_parser(
        "review", help="a page to turn draft rows into test questions (behind the logins)"
    )
    review.add_argument("drafts", help="the JSONL that `briefqa feedback export` wrote")
    review.add_argument(
        "--set", required=True, dest="questions", metavar="JSONL",
        help="the question set reviewed rows are appended to (briefqa eval --dataset)",
    )  # fmt: skip
    review.add_argument("--host", default="127.0.0.1")
    review.add_argument("--port", type=int, default=7861)
    review.set_defaults(func=_feedback_review)


def _eval_arguments(evaluate: argparse.ArgumentParser) -> None:
    """``briefqa eval``: a question set, where its briefs come from, the configurations to
    answer with side by side, what to compare with, and the reports to write."""
    evaluate.add_argument("--dataset", required=True, help="questions JSONL")
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--docs", help="documents JSONL {doc_id, title, text}: index them fresh")
    source.add_argument("--corpus", help="folder of briefs: index them fresh")
    evaluate.add_argument("--k", type=int, default=5, help="passages per answer (default 5)")
    evaluate.add_argument("--report", help="folder for report.json, report.md, report.html")
    evaluate.add_argument(
        "--baseline",
        default="",
        help="comma-separated: naive, bm25, no-reader (the same engine, reader off)",
    )
    evaluate.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="exit 1 if briefqa's METRIC is below VALUE (above it where lower is better: "
        "false_refusal, low-confidence and refused shares, latencies); repeatable",
    )
    evaluate.add_argument(
        "--calibration",
        default="evals/refusal_calibration.json",
        metavar="JSON",
        help="refusal calibration report whose leave-one-corpus-out results the report "
        "shows (default: evals/refusal_calibration.json; a note when it has none)",
    )
    evaluate.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="TOML",
        help="a configuration to answer with: a TOML file of settings, named by its stem; "
        "repeat to compare side by side (the first is the reference)",
    )
    evaluate.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=A,B",
        help="answer with each value of a setting (e.g. top_k=5,8 or reader=on,off); "
        "repeat for every combination",
    )
    evaluate.add_argument(
        "--against",
        metavar="REPORT_JSON",
        help="a saved report.json of the same set: list each question that changed, and "
        "the metrics that dropped beyond noise",
    )
    evaluate.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="with --against: exit 1 if a metric dropped beyond noise (naming the questions)",
    )
    evaluate.add_argument(
        "--export",
        action="append",
        default=[],
        choices=["ragas", "deepeval"],
        help="also write the run as a RAGAS or DeepEval dataset into --report's folder",
    )
    evaluate.add_argument(
        "--runs",
        metavar="JSONL",
        help="append the run's headline metrics to this log (default: evals/runs.jsonl "
        "when ./evals exists; 'none' for no log); the report draws their trend",
    )
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(func=_eval)


class _ProgressBar:
    """A tqdm bar on stderr, created on the first ``(done, total)`` report."""

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit = desc, unit
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr)
        if total != self.bar.total:  # an ingest's total grows batch by batch
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _engine(args: argparse.Namespace) -> BriefQA:
    return BriefQA(data_dir=args.data_dir)


def _ingest(args: argparse.Namespace) -> int:
    with _engine(args) as qa:
        if args.if_empty and qa.documents():
            if not args.json:
                print(f"index already holds {len(qa.documents())} brief(s); nothing to do")
            else:
                print(json.dumps(IngestReport().to_dict()))
            return 0
        bar = _ProgressBar("embedding", "chunk")
        show = sys.stderr.isatty() and not args.json
        paths = args.paths or [qa.settings.corpus_dir]
        report = qa.ingest(paths, prune=args.prune, progress=bar if show else None)
        bar.close()
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"removed {report.removed}, failed {report.failed}; "
            f"{report.chunks} chunks in {report.seconds:.1f} s"
        )
        for error in report.errors:
            print(f"  failed: {error.path}: {error.error}", file=sys.stderr)
    return 0 if report.ok else 1


def _docs(args: argparse.Namespace) -> int:
    with _engine(args) as qa:
        briefs = qa.documents()
    if args.json:
        print(json.dumps([b.to_dict() for b in briefs], ensure_ascii=False, indent=2))
        return 0
    if not briefs:
        print("no briefs indexed yet: run `briefqa ingest corpus/`")
        return 0
    for b in briefs:
        label = " · ".join(x for x in (f"No. {b.number}" if b.number else "", b.date or "") if x)
        print(
            f"{b.doc_id}  {b.title}" + (f"  ({label})" if label else "") + f"  [{b.chunks} chunks]"
        )
        if b.authors:
            print(f"    by {', '.join(b.authors)}")
        for path in b.sources:  # every file that holds this brief (copies in other formats)
            print(f"    {path}")
    return 0


def _ask(args: argparse.Namespace) -> int:
    filters = Filters(
        doc_ids=tuple(args.doc_ids) if args.doc_ids else None,
        date_from=args.date_from,
        date_to=args.date_to,
    )
    with _engine(args) as qa:
        if args.question is not None:
            if args.json:
                answer = qa.ask(args.question, filters=filters)
                print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
            else:
                _print_answer(qa.stream(args.question, filters=filters))
            return 0
        return _chat(qa, filters)


def _chat(qa: BriefQA, filters: Filters) -> int:
    """Interactive mode: each question sees the conversation so far."""
    history: list[tuple[str, str]] = []
    print("Ask about the briefs. An empty line or Ctrl-D quits.", file=sys.stderr)
    while True:
        try:
            question = input("? ").strip()
        except EOFError:
            print(file=sys.stderr)
            return 0
        if not question:
            return 0
        try:
            answer = _print_answer(qa.stream(question, history=history, filters=filters))
        except InvalidQuestion as exc:
            print(f"briefqa: {exc}", file=sys.stderr)
            continue
        history.append((question, answer.text))


def _print_answer(pieces: Iterator[str | Answer]) -> Answer:
    for piece in pieces:
        if isinstance(piece, Answer):
            answer = piece
            break
        if sys.stdout.isatty():
            print(piece, end="", flush=True)
    if sys.stdout.isatty():
        print("\r\033[K", end="")  # replace the raw stream with the verified answer
    if answer.low_confidence:
        print("Low confidence: check the sources.")
    print(answer.shown)
    for citation in answer.citations:
        quote = f"“{citation.quote}” (support {citation.support:.2f})"
        print(f"  [{citation.n}] {citation.title}: {quote}")
    if answer.nearest:  # refused, or low confidence
        for hit in answer.nearest:
            print(f"  nearest: {hit.title} — {section_label(hit.section)}: {hit.text[:120]}…")
    for sentence in answer.unsupported:
        print(f"  unsupported: {sentence}")
    print()
    return answer


def _eval(args: argparse.Namespace) -> int:
    bounds = _parse_bounds(args.fail_under)
    baselines = [b.strip() for b in args.baseline.split(",") if b.strip()]
    if (args.fail_on_regression and not args.against) or (args.export and not args.report):
        raise ConfigError("--fail-on-regression needs --against, and --export needs --report")
    configurations = [load_configuration(path) for path in args.config]
    configurations += vary_configurations(args.vary) if args.vary else []
    if args.against:
        load_saved_rows(args.against, args.dataset)  # a wrong file is named before the run
    bar = _ProgressBar("evaluating", "question")
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    report = run_evaluation(
        args.dataset,
        docs=args.docs,
        corpus=args.corpus,
        k=args.k,
        baselines=baselines,
        settings=settings,
        progress=bar if sys.stderr.isatty() else None,
        configurations=configurations,
    )
    bar.close()
    if args.against:
        compare_with_saved(report, args.against)
    log = args.runs or ("evals/runs.jsonl" if Path("evals").is_dir() else "none")
    runs = []
    if log != "none":
        append_run(report, log)
        runs = read_runs(log, report.dataset)
    if args.report:
        paths = write_report(report, args.report, calibration=args.calibration, runs=runs)
        for kind in args.export:
            rows = next(iter(report.per_question.values()))
            print(f"{kind}: {export_run(rows, kind, args.report)}", file=sys.stderr)
        print(f"report: {paths['html']}", file=sys.stderr)
    ours = next(iter(report.systems.values()))
    broken = []
    for metric, bound in bounds.items():
        value = ours.get(metric)
        lower_better = metric in LOWER_IS_BETTER
        if value is None or (value > bound if lower_better else value < bound):
            sign = "<=" if lower_better else ">="
            broken.append(f"{metric} = {value} (needs {sign} {bound})")
    if args.fail_on_regression:
        broken += [
            f"{d['metric']} dropped beyond noise against {args.against} (McNemar p={d['p']}); "
            f"worse on: {', '.join(d['worse'])}"
            for d in report.drops
        ]
    if args.json:
        print(
            json.dumps({**report.to_dict(), "failed_bounds": broken}, ensure_ascii=False, indent=2)
        )
    else:
        print(markdown(report).split("## Definitions")[0].rstrip())
    for line in broken:
        print(f"briefqa: eval bound not met: {line}", file=sys.stderr)
    return 1 if broken else 0


def _parse_bounds(items: list[str]) -> dict[str, float]:
    bounds = {}
    for item in items:
        metric, _, value = item.partition("=")
        if metric not in METRICS:
            raise ConfigError(
                f"--fail-under {item!r}: unknown metric; choose from {', '.join(METRICS)}"
            )
        try:
            bounds[metric] = float(value)
        except ValueError:
            raise ConfigError(f"--fail-under {item!r}: the value must be a number") from None
    return bounds


def _check(args: argparse.Namespace) -> int:
    if args.rebuild:
        return _rebuild(args)
    with _engine(args) as qa:
        found = qa.check(repair=args.repair)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
        return 0 if found.consistent else 1
    print(
        f"{found.briefs} briefs, {found.chunks} chunks listed, {found.stored} stored: "
        + ("consistent" if found.consistent else "NOT consistent")
    )
    for kind, count in found.repaired.items():
        print(f"  repaired: {kind.replace('_', ' ')}: {count}")
    for kind, count in found.problems().items():
        examples = getattr(found, kind)
        shown = f" (e.g. {', '.join(examples[:3])})" if isinstance(examples, list) else ""
        print(f"  {kind.replace('_', ' ')}: {count}{shown}")
    for doc_id in found.unrecoverable:
        print(
            f"  brief {doc_id}: no file holds its text any more; `briefqa remove {doc_id}`, "
            "then ingest its file again"
        )
    for a, b, score in found.near_duplicates:
        print(
            f"  near-duplicates: {a} and {b} are copies of one brief ({score:.0%} alike); "
            f"`briefqa remove {b}`, then ingest its files again to make them sources of {a}"
        )
    if not found.consistent and not found.repaired:
        print("run `briefqa check --repair` to fix it", file=sys.stderr)
    return 0 if found.consistent else 1


def _rebuild(args: argparse.Namespace) -> int:
    with _engine(args) as qa:
        report, found = qa.rebuild()
        data_dir = qa.data_dir
    if args.json:
        print(json.dumps({"ingest": report.to_dict(), "check": found.to_dict()}, indent=2))
    else:
        print(
            f"rebuilt {data_dir}: the old files set aside as *.damaged-<time>; "
            f"{report.added} briefs indexed again, "
            f"{report.failed} failed; " + ("consistent" if found.consistent else "NOT consistent")
        )
        for error in report.errors:
            print(f"  {error.path}: {error.error}", file=sys.stderr)
    return 0 if found.consistent and not report.failed else 1


def _feedback_export(args: argparse.Namespace) -> int:
    if args.since is not None and not _is_date(args.since):
        raise ConfigError(f"--since {args.since!r}: give a day as YYYY-MM-DD")
    rows = _engine(args).feedback_drafts(since=args.since, only=args.only)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(rows)} draft rows: {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _feedback_review(args: argparse.Namespace) -> int:
    from briefqa.serve.review import serve_review

    serve_review(_engine(args), Path(args.drafts), Path(args.questions), args.host, args.port)
    return 0


def _is_date(text: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _remove(args: argparse.Namespace) -> int:
    with _engine(args) as qa:
        qa.remove(args.doc_id)
    print(f"removed {args.doc_id}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from briefqa.serve.server import serve

    serve(args.host, args.port, _engine(args), log_level=args.log_level)
    return 0


def _mcp(args: argparse.Namespace) -> int:
    # Imported here: the SDK is an optional extra, and a missing one is a ConfigError
    # naming it. Nothing may be printed to stdout: under stdio it is the protocol.
    from briefqa.serve.mcp_server import serve_http, serve_stdio

    qa = _engine(args)
    if args.http is None:
        serve_stdio(qa)
        return 0
    host, _, port = args.http.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--http {args.http!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
    if qa.settings.auth_file is not None:
        # This standalone server has no logins: never open when logins were asked for.
        raise ConfigError(
            "briefqa mcp --http serves without logins, and BRIEFQA_AUTH_FILE is set: run "
            "`BRIEFQA_MCP_HTTP=true briefqa serve` to serve MCP at /mcp/ behind the logins"
        )
    host = host.strip("[]")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: MCP on {host} without logins: anyone who reaches it reads the briefs",
            file=sys.stderr,
        )
    serve_http(qa, host, int(port))
    return 0


def _upgrade_database(args: argparse.Namespace) -> int:
    with _engine(args) as qa:
        counts = qa.upgrade_database()
    print(
        f"copied {counts['briefs_copied']} brief(s) ({counts['sentence_rows_copied']} "
        f"sentence-vector row(s), {counts['uploads_copied']} upload(s)), "
        f"{counts['copied']} conversation(s) and {counts['feedback_copied']} feedback "
        f"event(s) from {qa.data_dir} into the database; {counts['already_there']} "
        "conversation(s) were there already"
    )
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    import getpass

    from briefqa.serve.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.user}: ")
        if password != getpass.getpass("again: "):
            raise ConfigError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ConfigError("the password is empty")
    print(f"{args.user}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
