"""The report's SQL on DuckDB over a lake written like the archiver writes it.

Expected values are computed here in Python from the same generated decisions.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean

import pytest

from archiver.report.__main__ import main as report_main
from archiver.report.lake import Result, connect, run
from archiver.report.queries import load_queries
from fraudstream_shared.events import ProcessedTransaction, TransactionLabel
from tests.unit.test_archiver.factories import label, varied_decisions
from tests.unit.test_archiver.lake import write_lake

START = datetime(2026, 5, 1, 22, 0, tzinfo=UTC)  # spans midnight: two days
QUERIES = load_queries()
DUCKDB_ONLY = [r"::", r"\bapprox_quantile\b", r"\bquantile_cont\b", r"\bstrftime\b",
               r"\bepoch_ms\b", r"\bqualify\b", r"\bilike\b", r"\blist_\w+", r"\bexclude\b",
               r"\bread_parquet\b", r"\bcount_if\b"]


@pytest.fixture(scope="module")
def data() -> tuple[list[ProcessedTransaction], list[TransactionLabel]]:
    decisions = varied_decisions(600, seed=11, start=START)
    rng = random.Random(5)
    # Labels for two thirds of them; blocked ones are more often fraud.
    labels = [label(d.event_id, rng.random() < (0.7 if d.fd.outcome == "block" else 0.05),
                    labelled_at=d.event_time + timedelta(minutes=30))
              for d in decisions if rng.random() < 2 / 3]
    return decisions, labels


@pytest.fixture(scope="module")
async def lake(tmp_path_factory: pytest.TempPathFactory,
               data: tuple[list[ProcessedTransaction], list[TransactionLabel]]) -> Path:
    root = tmp_path_factory.mktemp("lake")
    await write_lake(root, *data)
    return root


@pytest.fixture(scope="module")
def results(lake: Path) -> dict[str, Result]:
    con = connect(lake)
    return {name: run(con, query) for name, query in QUERIES.items()}


def rows_as_dicts(result: Result) -> list[dict[str, object]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_every_report_is_a_single_statement_in_the_common_dialect() -> None:
    assert len(QUERIES) >= 10
    for name, query in QUERIES.items():
        assert query.title != name, f"{name}.sql has no '-- title:' line"
        body = "\n".join(line for line in query.sql.splitlines() if not line.startswith("--"))
        assert ";" not in body, f"{name}.sql must be one statement (Athena named query)"
        for pattern in DUCKDB_ONLY:
            assert not re.search(pattern, body, flags=re.IGNORECASE), (name, pattern)


def test_outcome_counts_equal_the_decisions(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, _ = data
    expected = Counter(d.fd.outcome.value for d in decisions)
    got = {r["outcome"]: r["decisions"] for r in rows_as_dicts(results["outcome_counts"])}
    assert got == expected
    assert sum(r["share"] for r in rows_as_dicts(results["outcome_counts"])) == pytest.approx(1)


def test_outcomes_per_minute_and_per_day(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, _ = data
    naive = [(d.event_time.replace(tzinfo=None), d.fd.outcome.value) for d in decisions]
    per_minute = Counter((t.replace(second=0, microsecond=0), o) for t, o in naive)
    per_day = Counter((t.replace(hour=0, minute=0, second=0, microsecond=0), o) for t, o in naive)
    assert {(r[0], r[1]): r[2] for r in results["outcomes_per_minute"].rows} == per_minute
    assert {(r[0], r[1]): r[2] for r in results["outcomes_per_day"].rows} == per_day
    assert len({day for day, _ in per_day}) == 2


def test_amounts_at_risk_and_blocked_per_currency(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, _ = data
    for row in rows_as_dicts(results["amounts"]):
        mine = [d for d in decisions if d.transaction_currency == row["currency"]]
        assert row["decisions"] == len(mine)
        assert row["amount_total"] == pytest.approx(sum(d.transaction_amt for d in mine))
        assert row["amount_at_risk"] == pytest.approx(
            sum(d.transaction_amt for d in mine if d.fd.outcome == "review"))
        assert row["amount_blocked"] == pytest.approx(
            sum(d.transaction_amt for d in mine if d.fd.outcome == "block"))


def test_latency_average_and_p99(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, _ = data
    (row,) = rows_as_dicts(results["latency"])
    ttdf = sorted(d.fd.ttdf for d in decisions)
    assert row["decisions"] == len(decisions)
    assert row["avg_ttdf_ms"] == pytest.approx(mean(ttdf))
    # approx_percentile is a sketch: it lands among the top few percent of values.
    assert ttdf[int(0.97 * len(ttdf))] <= row["p99_ttdf_ms"] <= ttdf[-1]
    assert sum(r[1] for r in results["latency_per_minute"].rows) == len(decisions)


def _fraud(labels: list[TransactionLabel]) -> dict[str, int]:
    return {lab.event_id: int(lab.label == "fraud") for lab in labels}


def test_top_merchants_and_states_by_fraud(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, labels = data
    fraud = _fraud(labels)
    for query, attribute, key in (("top_merchants", "merchant_id", "merchant"),
                                  ("top_states", "billing_state", "state")):
        expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for d in decisions:
            name = getattr(d, attribute) or "(none)"
            expected[name][0] += fraud.get(d.event_id, 0)
            expected[name][1] += d.fd.outcome == "block"
        got = {r[key]: [r["labelled_fraud"], r["blocked"]]
               for r in rows_as_dicts(results[query])}
        assert got == dict(expected)
        ranks = [r["labelled_fraud"] for r in rows_as_dicts(results[query])]
        assert ranks == sorted(ranks, reverse=True)


def test_score_distribution_by_label(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, labels = data
    fraud = _fraud(labels)
    expected = Counter((d.fd.model_scores["fraudstream"] // 50 * 50,
                        "fraud" if fraud[d.event_id] else "legit")
                       for d in decisions if d.event_id in fraud)
    assert {(r[0], r[1]): r[2] for r in results["score_distribution"].rows} == expected


def test_live_precision_and_recall_per_day(
    results: dict[str, Result], data: tuple[list[ProcessedTransaction], list[TransactionLabel]]
) -> None:
    decisions, labels = data
    fraud = _fraud(labels)
    for row in rows_as_dicts(results["precision_recall_per_day"]):
        day = [d for d in decisions if d.event_id in fraud
               and d.event_time.replace(tzinfo=None).date() == row["bucket_start"].date()]
        flagged = [d for d in day if d.fd.outcome != "approve"]
        blocked = [d for d in day if d.fd.outcome == "block"]
        positives = sum(fraud[d.event_id] for d in day)
        assert row["labelled"] == len(day)
        assert row["flag_precision"] == pytest.approx(
            sum(fraud[d.event_id] for d in flagged) / len(flagged))
        assert row["flag_recall"] == pytest.approx(
            sum(fraud[d.event_id] for d in flagged) / positives)
        assert row["block_recall"] == pytest.approx(
            sum(fraud[d.event_id] for d in blocked) / positives)
    assert sum(r[1] for r in results["precision_recall_per_minute"].rows) == len(labels)


def test_every_query_runs_on_an_empty_lake(tmp_path: Path) -> None:
    con = connect(tmp_path)
    for name, query in QUERIES.items():
        result = run(con, query)
        if name == "latency":
            assert result.rows[0][0] == 0
        else:
            assert result.rows == [], name


def test_the_html_report_is_self_contained_and_counts_every_decision(
    lake: Path, tmp_path: Path,
    data: tuple[list[ProcessedTransaction], list[TransactionLabel]],
) -> None:
    out, png = tmp_path / "r" / "report.html", tmp_path / "r" / "charts.png"
    assert report_main(["--lake", str(lake), "--out", str(out), "--png", str(png)]) == 0
    page = out.read_text()
    assert f"{len(data[0]):,} decisions" in page
    assert page.count('src="data:image/png;base64,') >= 7
    assert "http://" not in page  # nothing is fetched when the page opens
    assert "https://" not in page
    assert png.read_bytes().startswith(b"\x89PNG")


def test_the_report_explains_a_missing_lake(tmp_path: Path) -> None:
    assert report_main(["--lake", str(tmp_path / "nothing"), "--out",
                        str(tmp_path / "r.html")]) == 1
