"""``python -m archiver.report``: the HTML report over the local lake (``make report``)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from archiver.report.charts import CHARTS, chart, overview
from archiver.report.html import page
from archiver.report.lake import Result, connect, run
from archiver.report.queries import load_queries


def build(lake: Path) -> tuple[dict[str, Result], int]:
    """Run every query over ``lake``; also return how many Parquet files it holds."""
    files = sum(1 for _ in lake.glob("*/dt=*/hour=*/*.parquet"))
    con = connect(lake)
    try:
        results = {name: run(con, query) for name, query in load_queries().items()}
    finally:
        con.close()
    return results, files


def main(argv: list[str] | None = None) -> int:
    """Write the report; print where it is."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lake", type=Path, default=Path(".local/lake"),
                        help="root of the local lake (ARCHIVER_LAKE_DIR)")
    parser.add_argument("--out", type=Path, default=Path(".local/report/report.html"))
    parser.add_argument("--png", type=Path, default=None,
                        help="also write every chart on one PNG (the README's picture)")
    args = parser.parse_args(argv)
    if not args.lake.is_dir():
        print(f"no lake at {args.lake}: run `make run` for a while first "
              "(the archiver writes it)", file=sys.stderr)
        return 1
    results, files = build(args.lake)
    charts = {name: chart(name, results[name]) for name in CHARTS if name in results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(results, charts, lake=str(args.lake), files=files,
                             generated_at=datetime.now(UTC)))
    print(f"report: {args.out.resolve()} ({files} files)")
    if args.png is not None:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        args.png.write_bytes(overview(results))
        print(f"charts: {args.png.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
