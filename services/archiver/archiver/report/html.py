"""The report as one self-contained HTML page: tables, embedded PNG charts, the SQL."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any

from archiver.report.lake import Result

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
section { margin: 2em 0; } table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
.empty { color: #888; font-style: italic; } details { margin-top: 0.6em; }
"""

MAX_TABLE_ROWS = 30
"""Longer results are shown as a chart and their first rows."""


def cell(value: Any) -> str:
    """A value as table text: numbers rounded, times without seconds, NULL as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return html.escape(str(value))


def table(result: Result) -> str:
    """An HTML table of a result (its first rows when long)."""
    if not result.rows:
        return '<p class="empty">No rows yet.</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in result.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in result.rows[:MAX_TABLE_ROWS])
    more = (f'<p class="empty">… {len(result.rows) - MAX_TABLE_ROWS} more rows</p>'
            if len(result.rows) > MAX_TABLE_ROWS else "")
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def section(result: Result, chart_png: bytes | None) -> str:
    """One query: title, description, chart, table and its SQL."""
    q = result.query
    image = ""
    if chart_png is not None:
        encoded = base64.b64encode(chart_png).decode()
        image = f'<img alt="{html.escape(q.title)}" src="data:image/png;base64,{encoded}">'
    return (f'<section id="{q.name}"><h2>{html.escape(q.title)}</h2>'
            f"<p>{html.escape(q.description)}</p>{image}{table(result)}"
            f"<details><summary>SQL ({q.name}.sql — the same on Athena)</summary>"
            f"<pre>{html.escape(q.sql)}</pre></details></section>")


def page(results: dict[str, Result], charts: dict[str, bytes], *, lake: str,
         generated_at: datetime, files: int) -> str:
    """The whole page."""
    summary = results.get("outcome_counts")
    total = sum(summary.column("decisions")) if summary else 0
    order = ["outcome_counts", "amounts", "latency", *charts]
    sections = "".join(section(results[name], charts.get(name))
                       for name in dict.fromkeys(order + list(results)) if name in results)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>fraudstream report</title><style>{STYLE}</style></head><body>"
            f"<h1>fraudstream report</h1>"
            f"<p class=\"meta\">{total:,} decisions from {files:,} Parquet files in "
            f"<code>{html.escape(lake)}</code>, generated {generated_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(times are event times, UTC).</p>{sections}</body></html>")
