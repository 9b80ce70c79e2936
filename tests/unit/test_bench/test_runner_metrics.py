"""Reading a service's Prometheus counters, the environment the bench gives a process, and
what it deletes after a run and before one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.runner import (
    Names,
    Options,
    default_notifier_concurrency,
    metric_sum,
    nullscorer_env,
    prune_earlier_runs,
    remove_service_outputs,
)
from notifier.settings import NotifierSettings
from scorer.settings import ScorerSettings

EXPOSITION = """\
# HELP fraudstream_alerts_total Alerts by result.
# TYPE fraudstream_alerts_total counter
fraudstream_alerts_total{channel="smtp",result="sent",service="notifier"} 12.0
fraudstream_alerts_total{channel="smtp",result="duplicate",service="notifier"} 3.0
fraudstream_alerts_total{channel="smtp",result="failed",service="notifier"} 1.0
fraudstream_alerts_created{channel="smtp",result="sent",service="notifier"} 1.7e9
fraudstream_alerts_total_other{result="sent"} 100.0
fraudstream_up 1.0
"""


def test_a_metric_sums_every_sample_of_that_name_only() -> None:
    assert metric_sum(EXPOSITION, "fraudstream_alerts_total") == 16.0
    assert metric_sum(EXPOSITION, "fraudstream_up") == 1.0


def test_labels_keep_only_the_samples_that_carry_them() -> None:
    assert metric_sum(EXPOSITION, "fraudstream_alerts_total", result="sent") == 12.0
    assert metric_sum(EXPOSITION, "fraudstream_alerts_total", result="sent",
                      channel="smtp") == 12.0
    assert metric_sum(EXPOSITION, "fraudstream_alerts_total", result="queued") == 0.0


def test_the_notifier_drain_uses_the_notifiers_own_default_concurrency() -> None:
    assert default_notifier_concurrency() == NotifierSettings().notifier_concurrency


def test_the_null_scorer_polls_with_the_scorers_fetch_and_batch_options() -> None:
    names = Names("unit", "null")
    for exactly_once in (True, False):
        scorer = ScorerSettings(scorer_exactly_once=exactly_once)

        env = nullscorer_env(names, Options(), exactly_once=exactly_once)

        assert env["NULL_EXACTLY_ONCE"] == str(exactly_once).lower()
        assert int(env["KAFKA_FETCH_MIN_BYTES"]) == scorer.kafka_fetch_min_bytes > 1
        assert int(env["KAFKA_FETCH_MAX_WAIT_MS"]) == scorer.kafka_fetch_max_wait_ms
        assert int(env["NULL_MAX_BATCH"]) == scorer.scorer_max_batch
    waits = {nullscorer_env(names, Options(), exactly_once=eos)["KAFKA_FETCH_MAX_WAIT_MS"]
             for eos in (True, False)}
    assert len(waits) == 2  # each mode its own, as the scorer's


def test_the_services_outputs_go_and_the_measurements_and_logs_stay(tmp_path: Path) -> None:
    for lake in ("pipe-eos-lake", "floor-eos-lake"):
        (tmp_path / lake / "date=2026-11-27").mkdir(parents=True)
        (tmp_path / lake / "date=2026-11-27" / "part-0.parquet").write_bytes(b"x")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "1.eml").write_text("Subject: blocked")
    kept = [tmp_path / "pipe-eos-measure.npz", tmp_path / "results.json",
            tmp_path / "logs" / "scorer-pipe-eos.log", tmp_path / "stray-lake"]
    for path in kept:
        path.parent.mkdir(exist_ok=True)
        path.write_text("kept")

    removed = remove_service_outputs(tmp_path)

    assert [p.name for p in removed] == ["floor-eos-lake", "pipe-eos-lake", "mail"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "logs", "pipe-eos-measure.npz", "results.json", "stray-lake"]
    assert all(path.read_text() == "kept" for path in kept)
    assert remove_service_outputs(tmp_path) == []


def make_run_dirs(root: Path, *names: str) -> None:
    """Run work directories, each holding a file as a real run's would."""
    for name in names:
        (root / name / "logs").mkdir(parents=True)
        (root / name / "results.json").write_text("{}")


def test_only_the_newest_earlier_runs_are_kept(tmp_path: Path) -> None:
    make_run_dirs(tmp_path, "20261126t2300-0a1b", "20261127t0105-ffff", "20261127t1740-1234",
                  "20261127t1857-cbc3")
    (tmp_path / "kafka-tools.classpath").write_text("a.jar")
    (tmp_path / "my-notes").mkdir()

    removed = prune_earlier_runs(tmp_path, keep=2, current="20261127t2200-beef")

    assert [p.name for p in removed] == ["20261127t0105-ffff", "20261126t2300-0a1b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20261127t1740-1234", "20261127t1857-cbc3", "kafka-tools.classpath", "my-notes"]


def test_the_run_about_to_start_is_never_deleted(tmp_path: Path) -> None:
    make_run_dirs(tmp_path, "20261127t1740-1234", "20261127t2200-beef")

    removed = prune_earlier_runs(tmp_path, keep=0, current="20261127t2200-beef")

    assert [p.name for p in removed] == ["20261127t1740-1234"]
    assert [p.name for p in tmp_path.iterdir()] == ["20261127t2200-beef"]
    assert (tmp_path / "20261127t2200-beef" / "results.json").exists()


def test_nothing_to_prune_when_there_are_few_runs_or_no_folder(tmp_path: Path) -> None:
    make_run_dirs(tmp_path, "20261127t1740-1234")

    assert prune_earlier_runs(tmp_path, keep=5, current="20261127t2200-beef") == []
    assert prune_earlier_runs(tmp_path / "absent", keep=0, current="x") == []
    assert (tmp_path / "20261127t1740-1234" / "results.json").exists()
    with pytest.raises(ValueError, match="0 or more"):
        prune_earlier_runs(tmp_path, keep=-1, current="x")
