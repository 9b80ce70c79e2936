"""The local lake as two DuckDB views, ``decisions`` and ``labels``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from archiver.report.queries import DUCKDB_COMPAT, Query
from archiver.schema import TABLES


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose ``decisions`` and ``labels`` read the lake's Parquet files.

    A table without files yet is an empty relation of its schema, so every
    query runs (and returns nothing) on a fresh lake. Files are listed once,
    here: a report is a consistent snapshot while the archiver writes on.
    """
    con = duckdb.connect(":memory:")
    for statement in DUCKDB_COMPAT:
        con.execute(statement)
    for table, schema in TABLES.items():
        files = sorted((lake / table).glob("dt=*/hour=*/*.parquet"))
        if files:
            # The files as listed now, not a glob: the archiver keeps adding files,
            # and every query of one report must see the same ones.
            listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], "
                        "hive_partitioning = true, union_by_name = true)")
        else:
            con.register(table, schema.empty_table())
    return con


@dataclass(frozen=True)
class Result:
    """A query's columns and rows."""

    query: Query
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        """The values of one column, in row order."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def run(con: duckdb.DuckDBPyConnection, query: Query) -> Result:
    """Run one report query as written."""
    cursor = con.execute(query.sql)
    columns = [d[0] for d in cursor.description or []]
    return Result(query, columns, cursor.fetchall())
