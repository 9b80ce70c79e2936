"""The report's queries: one ``.sql`` file each, shared by DuckDB (local) and Athena (AWS).

The SQL is written in the dialect both engines speak (ANSI plus ``date_trunc``,
``approx_percentile``, ``INTERVAL 'n' HOUR``), over two tables, ``decisions``
and ``labels``. The one function DuckDB names differently, ``approx_percentile``,
is provided to DuckDB as a macro (:data:`DUCKDB_COMPAT`), so the text of every
file is what both engines run, unchanged. The AWS deployment reads the same
files to create Athena named queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")

DUCKDB_COMPAT = [
    # Athena/Trino's approx_percentile(x, p) is DuckDB's approx_quantile(x, p).
    "CREATE OR REPLACE MACRO approx_percentile(x, p) AS approx_quantile(x, p)",
    # Timestamps in the lake are UTC; date_trunc must not shift them to local time.
    "SET TimeZone = 'UTC'",
]


@dataclass(frozen=True)
class Query:
    """One report query: its file name (without ``.sql``), title, description and SQL."""

    name: str
    title: str
    description: str
    sql: str


def parse_query(name: str, text: str) -> Query:
    """Read the leading ``-- title: …`` and ``-- …`` comment lines; the rest is the SQL."""
    title, description = name, []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        comment = line[2:].strip()
        if comment.startswith("title:"):
            title = comment.removeprefix("title:").strip()
        else:
            description.append(comment)
    return Query(name, title, " ".join(description), text.strip())


def load_queries(directory: Path = SQL_DIR) -> dict[str, Query]:
    """Every ``*.sql`` file of ``directory``, by name, in name order."""
    return {path.stem: parse_query(path.stem, path.read_text())
            for path in sorted(directory.glob("*.sql"))}
