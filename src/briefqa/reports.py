"""Evaluation reports: ``report.json``, ``report.md`` and a self-contained ``report.html``
with plots (matplotlib, embedded as PNG data) and a table of every failed question."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from .evaluation import LOWER_IS_BETTER, METRICS, EvalReport

_ORDER = list(METRICS)


def write_report(report: EvalReport, folder: str | Path) -> dict[str, Path]:
    """Write the three report files into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "report.json",
        "md": folder / "report.md",
        "html": folder / "report.html",
    }
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(markdown(report))
    paths["html"].write_text(render_html(report))
    return paths


def _metric_rows(report: EvalReport) -> list[tuple[str, list[str]]]:
    systems = list(report.systems)
    keys = [k for k in _ORDER if any(k in report.systems[s] for s in systems)]
    rows = []
    for key in keys:
        values = [report.systems[s].get(key) for s in systems]
        cells = []
        present = [v for v in values if v is not None]
        best = (min if key in LOWER_IS_BETTER else max)(present) if present else None
        for v in values:
            if v is None:
                cells.append("—")
            else:
                text = f"{v:.1f}" if key.endswith("_ms") else f"{v:.3f}"
                cells.append(f"**{text}**" if v == best and len(present) > 1 else text)
        rows.append((key, cells))
    return rows


def markdown(report: EvalReport) -> str:
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
    lines += [f"| {key} | " + " | ".join(cells) + " |" for key, cells in _metric_rows(report)]
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


def _plots(report: EvalReport) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    keys = [
        k
        for k in ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@10")
        if k in report.systems.get("briefqa", {})
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
        axis.set_title("Retrieval: briefqa vs baselines")
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
    return plots


def _cell(text: str) -> str:
    """A table cell: markdown bold (the best value) becomes <b>."""
    if text.startswith("**"):
        return f"<b>{html.escape(text.strip('*'))}</b>"
    return html.escape(text)


def render_html(report: EvalReport) -> str:
    """A single HTML file: no external scripts, styles or images."""
    e = html.escape
    systems = list(report.systems)
    head = "".join(f"<th>{e(s)}</th>" for s in systems)
    body = "".join(
        f"<tr><td title='{e(METRICS.get(key, ''))}'>{e(key)}</td>"
        + "".join(f"<td class='num'>{_cell(c)}</td>" for c in cells)
        + "</tr>"
        for key, cells in _metric_rows(report)
    )
    definitions = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in METRICS.items())
    figures = "".join(
        f"<figure><img alt='{e(title)}' src='{src}'><figcaption>{e(title)}</figcaption></figure>"
        for title, src in _plots(report)
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
.failures td {{ font-size: 13px; max-width: 320px; }}
</style></head><body>
<h1>Evaluation: {e(Path(report.dataset).name)}</h1>
<p>{report.questions} questions, {report.seconds:.0f} s. Best value per row in bold;
baselines omit what they cannot measure. No LLM judge is used: metrics rest on gold labels.</p>
<h2>Metrics</h2>
<table id="metrics"><tr><th>metric</th>{head}</tr>{body}</table>
<h2>Plots</h2>{figures}
<h2>Definitions</h2><dl>{definitions}</dl>
<h2>Failed questions ({len(report.failures)})</h2>
<table class="failures" id="failures"><tr><th>id</th><th>question</th><th>why</th><th>expected</th>
<th>got</th><th>citations (support)</th></tr>{failures}</table>
</body></html>
"""
