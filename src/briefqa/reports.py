"""Evaluation reports: ``report.json``, ``report.md`` and a self-contained ``report.html``
with plots (matplotlib, embedded as PNG data) and a table of every failed question.

Besides the run's own metrics a report can show the refusal model's leave-one-corpus-out
results, read from the calibration report (``evals/refusal_calibration.json``, key
``loco``) by :func:`read_loco`; without them it says why.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .evaluation import LOWER_IS_BETTER, METRICS, EvalReport

_ORDER = list(METRICS)
#: The metric table's groups, each named at its first metric (in :data:`METRICS` order).
_GROUPS = {
    "hit@1": "Retrieval",
    "answer_contained": "Answers",
    "right_source": "Sources and outcomes",
    "latency_p50_ms": "Latency",
}
#: The columns of the whole-brief breakdown, in order.
_BREAKDOWN = (
    "questions",
    "answered_share",
    "low_confidence_share",
    "refused_share",
    "first_sentence_gold",
    "right_source",
    "answer_words_median",
)
#: Strings longer than this in the calibration report are notes, not table cells.
_CELL_CHARS = 40


@dataclass(frozen=True)
class LocoTable:
    """Leave-one-corpus-out refusal results as a table (one row per held-out corpus or
    sub-result, one column per number), or, when there are none, ``notes`` saying why.

    ``data`` is the ``loco`` value as read, for ``report.json``.
    """

    source: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notes: tuple[str, ...] = ()
    data: Any = None


# What the LOCO table shows of each set a direction reports on (calibrate_refusal.py).
_LOCO_COLUMNS = (
    "false_refusal",
    "low_confidence_answerable",
    "refused_unanswerable",
    "low_confidence_unanswerable",
)


def _directions(directions: dict[str, Any]) -> dict[str, Any]:
    """``{"fitted → reported": {column: value}}`` from calibrate_refusal.py's
    ``directions``: one row per direction and set it was reported on."""
    table: dict[str, Any] = {}
    for name, direction in directions.items():
        fitted = direction.get("fitted_on", "")
        for subset, rates in (direction.get("sets") or {}).items():
            label = f"fitted on {fitted} → {subset}" if fitted else f"{name} → {subset}"
            table[label] = {c: rates[c] for c in _LOCO_COLUMNS if c in rates}
    return table


def read_loco(path: str | Path) -> LocoTable:
    """The ``loco`` part of a refusal calibration report, whatever its nesting: a dict
    or list of results (by corpus, then by subset) whose leaves are numbers. A missing
    file or key is not an error: the table is empty and a note says what is missing."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LocoTable(str(path), notes=(f"{path} not found.",))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return LocoTable(str(path), notes=(f"{path} could not be read ({exc}).",))
    loco = data.get("loco") if isinstance(data, dict) else None
    if not loco and isinstance(data, dict) and isinstance(data.get("directions"), dict):
        loco = _directions(data["directions"])
    if not loco:
        return LocoTable(
            str(path),
            notes=(
                f"{path} has no leave-one-corpus-out results yet (no `loco` key); "
                "evals/calibrate_refusal.py writes them.",
            ),
        )
    rows: list[tuple[str, dict[str, str]]] = []
    notes: list[str] = []
    _flatten(loco, "", rows, notes)
    columns: list[str] = []
    for _, cells in rows:
        columns += [c for c in cells if c not in columns]
    return LocoTable(
        str(path),
        tuple(columns),
        tuple((label, tuple(cells.get(c, "—") for c in columns)) for label, cells in rows),
        tuple(notes),
        loco,
    )


def _flatten(
    value: Any, label: str, rows: list[tuple[str, dict[str, str]]], notes: list[str]
) -> None:
    """Rows of ``label / key`` → formatted scalars, depth first; long strings to notes."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            name = i + 1
            if isinstance(item, dict):
                name = item.get("held_out") or item.get("corpus") or item.get("name") or name
            _flatten(item, f"{label} / {name}" if label else str(name), rows, notes)
        return
    if not isinstance(value, dict):
        rows.append((label or "loco", {"value": _scalar(value)}))
        return
    cells: dict[str, str] = {}
    nested = []
    for key, item in value.items():
        if isinstance(item, list) and all(not isinstance(i, dict | list) for i in item):
            item = ", ".join(_scalar(i) for i in item)
        if isinstance(item, dict | list):
            nested.append((key, item))
        elif isinstance(item, str) and len(item) > _CELL_CHARS:
            notes.append(f"{label} {key}: {item}" if label else f"{key}: {item}")
        else:
            cells[str(key)] = _scalar(item)
    if cells:
        rows.append((label or "all", cells))
    for key, item in nested:
        _flatten(item, f"{label} / {key}" if label else str(key), rows, notes)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_report(
    report: EvalReport,
    folder: str | Path,
    calibration: str | Path | None = None,
    runs: Sequence[dict[str, Any]] = (),
) -> dict[str, Path]:
    """Write the three report files into ``folder``; returns their paths.

    ``calibration``: a refusal calibration report whose leave-one-corpus-out results the
    report shows (see :func:`read_loco`); None leaves that part out. ``runs``: earlier
    runs of the same set (:func:`briefqa.runs.read_runs`), whose trend the HTML draws.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "report.json",
        "md": folder / "report.md",
        "html": folder / "report.html",
    }
    loco = read_loco(calibration) if calibration is not None else None
    data = report.to_dict()
    if loco is not None:
        data["refusal_loco"] = {"source": loco.source, "loco": loco.data, "notes": loco.notes}
    paths["json"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(markdown(report, loco))
    paths["html"].write_text(render_html(report, loco, runs))
    return paths


def _fmt(key: str, value: float) -> str:
    if key == "questions":
        return f"{value:.0f}"
    if key.endswith("_ms") or key == "answer_words_median":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _metric_rows(report: EvalReport) -> list[tuple[str, list[str]]]:
    """(metric, cells) per row; a group's title comes first as (title, [])."""
    systems = list(report.systems)
    keys = [k for k in _ORDER if any(k in report.systems[s] for s in systems)]
    rows: list[tuple[str, list[str]]] = []
    group = None
    for key in keys:
        title = _group_of(key)
        if title != group:
            group = title
            rows.append((title, []))
        values = [report.systems[s].get(key) for s in systems]
        cells = []
        present = [v for v in values if v is not None]
        best = (min if key in LOWER_IS_BETTER else max)(present) if present else None
        for v in values:
            if v is None:
                cells.append("—")
            else:
                text = _fmt(key, v)
                cells.append(f"**{text}**" if v == best and len(present) > 1 else text)
        rows.append((key, cells))
    return rows


def _group_of(key: str) -> str:
    title = "Metrics"
    for name in _ORDER:
        title = _GROUPS.get(name, title)
        if name == key:
            break
    return title


def _breakdown_rows(report: EvalReport) -> list[tuple[str, list[str]]]:
    return [
        (kind, [_fmt(k, m[k]) if k in m else "—" for k in _BREAKDOWN])
        for kind, m in report.breakdown.items()
    ]


def markdown(report: EvalReport, loco: LocoTable | None = None) -> str:
    """The report as Markdown: metric table, notes, whole-brief breakdown, the
    leave-one-corpus-out refusal table (with ``loco``), definitions, failures."""
    systems = list(report.systems)
    lines = [
        f"# Evaluation: {Path(report.dataset).name}",
        "",
        f"{report.questions} questions, {report.seconds:.0f} s. Best value per row in bold; "
        "baselines omit what they cannot measure.",
        "",
        "| metric | " + " | ".join(systems) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for key, cells in _metric_rows(report):
        if cells:
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        else:
            lines.append(f"| **{key}** |" + " |" * len(systems))
    if report.notes:
        lines += [""] + [f"- {note}" for note in report.notes]
    lines += _comparison_markdown(report)
    if report.breakdown:
        lines += [
            "",
            f"## By kind of question ({systems[0]})",
            "",
            "| kind | " + " | ".join(_BREAKDOWN) + " |",
            "|---|" + "---|" * len(_BREAKDOWN),
        ]
        lines += [f"| {kind} | " + " | ".join(c) + " |" for kind, c in _breakdown_rows(report)]
    if loco is not None:
        lines += ["", "## Refusal, leave one corpus out", "", f"From `{loco.source}`.", ""]
        if loco.rows:
            lines += [
                "| direction | " + " | ".join(loco.columns) + " |",
                "|---|" + "---|" * len(loco.columns),
            ]
            lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in loco.rows]
        lines += [f"- {note}" for note in loco.notes]
    lines += ["", "## Definitions", ""]
    lines += [f"- **{k}**: {v}" for k, v in METRICS.items()]
    lines += ["", f"## Failed questions ({len(report.failures)})", ""]
    for f in report.failures:
        expected = "; ".join(f["expected"])[:200]
        lines.append(f"- `{f['id']}` {f['question']} — {f['why']}; expected: {expected}")
    return "\n".join(lines) + "\n"


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plots(report: EvalReport, runs: Sequence[dict[str, Any]] = ()) -> list[tuple[str, str]]:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the report's plots need the eval extra: pip install 'briefqa[eval]'"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    keys = [
        k
        for k in ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@10")
        if k in next(iter(report.systems.values()), {})
    ]
    if keys:
        figure, axis = plt.subplots(figsize=(7, 3.2))
        width = 0.8 / len(report.systems)
        for i, (name, metrics) in enumerate(report.systems.items()):
            axis.bar(
                [x + i * width for x in range(len(keys))],
                [metrics.get(k, 0) for k in keys],
                width,
                label=name,
            )
        axis.set_xticks([x + width * (len(report.systems) - 1) / 2 for x in range(len(keys))], keys)
        axis.set_ylim(0, 1.05)
        axis.set_title("Retrieval, side by side")
        axis.legend(loc="lower right")
        plots.append(("Retrieval metrics", _png(figure)))
        plt.close(figure)
    if report.latencies_ms.get("answer"):
        figure, axis = plt.subplots(figsize=(7, 3.2))
        axis.hist(report.latencies_ms["answer"], bins=30, color="#4477aa")
        axis.set_xlabel("answer latency (ms)")
        axis.set_ylabel("questions")
        axis.set_title("Latency of the whole answer")
        plots.append(("Latency", _png(figure)))
        plt.close(figure)
    if report.support_scores:
        figure, axis = plt.subplots(figsize=(7, 3.2))
        axis.hist(report.support_scores, bins=20, range=(0, 1), color="#228833")
        axis.set_xlabel("citation support score")
        axis.set_ylabel("citations")
        axis.set_title("Support of citations (verifier)")
        plots.append(("Support scores", _png(figure)))
        plt.close(figure)
    trend = _trend(runs, next(iter(report.systems), "briefqa"))
    if trend:
        figure, axis = plt.subplots(figsize=(7, 3.2))
        for metric, points in trend.items():
            axis.plot([x for x, _ in points], [y for _, y in points], marker="o", label=metric)
        axis.set_xlabel("run (oldest first)")
        axis.set_ylim(0, 1.05)
        axis.set_title(f"Headline metrics over {len(runs)} runs of this set")
        axis.legend(loc="lower left", fontsize=7)
        plots.append(("Trend over runs", _png(figure)))
        plt.close(figure)
    return plots


def _trend(runs: Sequence[dict[str, Any]], system: str) -> dict[str, list[tuple[int, float]]]:
    """The headline shares of ``system`` (else the run's first system) in each run."""
    from .runs import HEADLINE

    trend: dict[str, list[tuple[int, float]]] = {}
    if len(runs) < 2:
        return trend
    for i, run in enumerate(runs):
        systems = run["systems"]
        metrics: dict[str, Any] = systems.get(system) or next(iter(systems.values()), {})
        for key in HEADLINE:
            if isinstance(metrics.get(key), int | float) and not key.endswith("_ms"):
                trend.setdefault(key, []).append((i + 1, float(metrics[key])))
    return trend


def _difference_cell(d: dict[str, Any]) -> str:
    p = "" if d["p"] is None else f", p={d['p']:.3f}"
    mark = {"better": " ▲", "worse": " ▼"}.get(d["verdict"], "")
    return f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]{p}{mark}"


def _comparison_rows(report: EvalReport) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(other systems, rows of metric → difference cells) against the first system."""
    others = list(report.comparisons)
    metrics: list[str] = []
    for diffs in report.comparisons.values():
        metrics += [m for m in diffs if m not in metrics]
    rows = [
        (m, [_difference_cell(report.comparisons[o][m]) if m in report.comparisons[o] else "—"
             for o in others])
        for m in metrics
    ]  # fmt: skip
    return others, rows


_DIFFERENCE_NOTE = (
    "Each cell: the other system minus {first}, with the paired bootstrap's 95 % interval "
    "over the questions (2,000 draws) and, for yes/no metrics, McNemar's exact p over the "
    "questions where they disagree. ▲ better / ▼ worse beyond noise: the interval excludes 0 "
    "(and p < 0.05). latency_ms is the median answer time. Answer metrics count the "
    "questions each system answered (not refused): a system that refuses more is "
    "scored on fewer questions, so read them beside false_refusal."
)


def _comparison_markdown(report: EvalReport) -> list[str]:
    first = next(iter(report.systems), "briefqa")
    lines: list[str] = []
    if report.comparisons:
        others, rows = _comparison_rows(report)
        lines += ["", f"## Differences against {first}", "", _DIFFERENCE_NOTE.format(first=first)]
        lines += ["", "| metric | " + " | ".join(others) + " |", "|---|" + "---|" * len(others)]
        lines += [f"| {m} | " + " | ".join(cells) + " |" for m, cells in rows]
    if report.against is not None:
        lines += ["", f"## Against `{report.against}`", ""]
        for drop in report.drops:
            lines.append(
                f"- **{drop['metric']} dropped beyond noise** (McNemar p={drop['p']}): worse on "
                + ", ".join(f"`{q}`" for q in drop["worse"])
            )
        if not report.drops:
            lines.append("- No metric dropped beyond noise.")
        counts = {s: sum(c["status"] == s for c in report.regressions) for s in
                  ("worse", "mixed", "better")}  # fmt: skip
        lines.append(
            f"- {len(report.regressions)} questions changed: {counts['worse']} worse, "
            f"{counts['mixed']} mixed, {counts['better']} better."
        )
        for change in report.regressions:
            what = "; ".join(
                f"{c['what']}: {c['before']} → {c['after']}" for c in change["changes"]
            )
            lines.append(f"  - {change['status']}: `{change['id']}` {change['question']} — {what}")
    return lines


def _answer_html(row: dict[str, Any]) -> str:
    e = html.escape
    citations = "".join(
        f"<li>[{c['n']}] <i>{e(str(c['source']))}</i>"
        f"{' — ' + e(str(c['section'])) if c.get('section') else ''}: {e(c['quote'])}</li>"
        for c in row.get("citations", [])
    )
    return (
        f"<p class='outcome'>{e(str(row.get('outcome')))}</p>"
        f"<p>{e(row.get('answer') or '')}</p><ol class='cites'>{citations}</ol>"
    )


def _comparison_html(report: EvalReport) -> str:
    """The differences table and, against a saved run, the questions that changed
    (expandable rows, both answers side by side, a filter by direction)."""
    e = html.escape
    out = ""
    first = next(iter(report.systems), "briefqa")
    if report.comparisons:
        others, rows = _comparison_rows(report)
        out += (
            f"<h2>Differences against {e(first)}</h2>"
            f"<p class='note'>{e(_DIFFERENCE_NOTE.format(first=first))}</p>"
            + _table("differences", ["metric", *others], rows)
        )
    if report.against is None:
        return out
    drops = (
        "".join(
            f"<li><b>{e(d['metric'])} dropped beyond noise</b> (McNemar p={d['p']}): worse on "
            f"{e(', '.join(d['worse']))}</li>"
            for d in report.drops
        )
        or "<li>No metric dropped beyond noise.</li>"
    )
    changed = "".join(
        f"<tr class='change {c['status']}'><td>{e(c['status'])}</td><td><details>"
        f"<summary><code>{e(c['id'])}</code> {e(c['question'])}</summary>"
        "<div class='sides'><div><h4>before</h4>" + _answer_html(c["before"]) + "</div>"
        "<div><h4>now</h4>"
        + _answer_html(c["after"])
        + "</div></div></details></td><td>"
        + "<br>".join(
            f"{e(x['what'])}: {e(str(x['before']))} → {e(str(x['after']))}" for x in c["changes"]
        )
        + "</td></tr>"
        for c in report.regressions
    )
    return (
        out
        + f"""<h2>Against <code>{e(report.against)}</code></h2>
<ul id="drops">{drops}</ul>
<p><label>Show <select id="change-filter">
<option value="all">all {len(report.regressions)} changed questions</option>
<option value="worse">got worse</option><option value="better">got better</option>
<option value="mixed">mixed</option></select></label></p>
<table id="changes"><tr><th>status</th><th>question (click for both answers)</th>
<th>what changed</th></tr>{changed}</table>
<script>
document.getElementById("change-filter").addEventListener("change", function (event) {{
  for (const row of document.querySelectorAll("#changes tr.change")) {{
    row.hidden = event.target.value !== "all" && !row.classList.contains(event.target.value);
  }}
}});
</script>"""
    )


def _cell(text: str) -> str:
    """A table cell: markdown bold (the best value) becomes <b>."""
    if text.startswith("**"):
        return f"<b>{html.escape(text.strip('*'))}</b>"
    return html.escape(text)


def _table(table_id: str, head: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """A plain HTML table: a label column, then right-aligned cells."""
    e = html.escape
    return (
        f"<table id='{table_id}'><tr>"
        + "".join(f"<th>{e(h)}</th>" for h in head)
        + "</tr>"
        + "".join(
            f"<tr><td>{e(label)}</td>"
            + "".join(f"<td class='num'>{e(c)}</td>" for c in cells)
            + "</tr>"
            for label, cells in rows
        )
        + "</table>"
    )


def _extras_html(report: EvalReport, loco: LocoTable | None) -> str:
    """Notes, the whole-brief breakdown and the leave-one-corpus-out table."""
    e = html.escape
    out = ""
    if report.notes:
        out += "<ul class='notes'>" + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>"
    if report.breakdown:
        out += "<h2>By kind of question (briefqa)</h2>" + _table(
            "breakdown", ["kind", *_BREAKDOWN], _breakdown_rows(report)
        )
    if loco is not None:
        out += f"<h2>Refusal, leave one corpus out</h2><p>From <code>{e(loco.source)}</code>.</p>"
        if loco.rows:
            out += _table(
                "loco",
                ["direction", *loco.columns],
                [(label, list(cells)) for label, cells in loco.rows],
            )
        out += "".join(f"<p class='note'>{e(n)}</p>" for n in loco.notes)
    return out


def render_html(
    report: EvalReport, loco: LocoTable | None = None, runs: Sequence[dict[str, Any]] = ()
) -> str:
    """A single HTML file: no external scripts, styles or images."""
    e = html.escape
    systems = list(report.systems)
    head = "".join(f"<th>{e(s)}</th>" for s in systems)
    body = "".join(
        (
            f"<tr><td title='{e(METRICS.get(key, ''))}'>{e(key)}</td>"
            + "".join(f"<td class='num'>{_cell(c)}</td>" for c in cells)
            + "</tr>"
        )
        if cells
        else f"<tr class='group'><th colspan='{len(systems) + 1}'>{e(key)}</th></tr>"
        for key, cells in _metric_rows(report)
    )
    definitions = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in METRICS.items())
    figures = "".join(
        f"<figure><img alt='{e(title)}' src='{src}'><figcaption>{e(title)}</figcaption></figure>"
        for title, src in _plots(report, runs)
    )
    failures = "".join(
        "<tr>"
        f"<td>{e(f['id'])}</td><td>{e(f['question'])}</td><td>{e(f['why'])}</td>"
        f"<td>{e('; '.join(f['expected']))}</td><td>{e(f['got'])}</td>"
        "<td>"
        + "<br>".join(f"[{c['n']}] {e(c['quote'])} ({c['support']:.2f})" for c in f["citations"])
        + "</td>"
        "</tr>"
        for f in report.failures
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>briefqa evaluation — {e(Path(report.dataset).name)}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; vertical-align: top; }}
th {{ background: #f3f3f3; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ display: inline-block; margin: .5rem; }} img {{ max-width: 520px; }}
dt {{ font-weight: 600; }} dd {{ margin: 0 0 .4rem 1rem; color: #555; }}
tr.group th {{ text-align: left; background: #e8eef6; }} .note {{ color: #555; }}
.failures td {{ font-size: 13px; max-width: 320px; }}
.sides {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }} .cites {{ font-size: 13px; }}
tr.worse td:first-child {{ color: #b00; }} tr.better td:first-child {{ color: #070; }}
</style></head><body>
<h1>Evaluation: {e(Path(report.dataset).name)}</h1>
<p>{report.questions} questions, {report.seconds:.0f} s. Best value per row in bold;
baselines omit what they cannot measure. No LLM judge is used: metrics rest on gold labels.</p>
<h2>Metrics</h2>
<table id="metrics"><tr><th>metric</th>{head}</tr>{body}</table>
{_comparison_html(report)}
{_extras_html(report, loco)}
<h2>Plots</h2>{figures}
<h2>Definitions</h2><dl>{definitions}</dl>
<h2>Failed questions ({len(report.failures)})</h2>
<table class="failures" id="failures"><tr><th>id</th><th>question</th><th>why</th><th>expected</th>
<th>got</th><th>citations (support)</th></tr>{failures}</table>
</body></html>
"""
