"""Summarising py-spy's collapsed stacks."""

from __future__ import annotations

from bench.profile import area, frame_name, module_path, summarize

LOOP = ("_run_module_as_main (<frozen runpy>:198);main (scorer/__main__.py:11);"
        "BaseEventLoop._run_once (asyncio/base_events.py:1922)")
RAW = f"""\
{LOOP};predict_batch (scorer/model/core.py:96);__inner_predict_np2d (lightgbm/basic.py:1200) 60
{LOOP};ScorerWorker._send_all (scorer/worker.py:200);send (aiokafka/producer/producer.py:400) 25
{LOOP};decide_batch (scorer/engine.py:210);row (scorer/features/store.py:300) 10
loads (json/decoder.py:346) 5
not a line
"""


def test_frames_are_split_into_function_and_file() -> None:
    assert frame_name("send (aiokafka/producer.py:12)") == ("send", "aiokafka/producer.py")
    assert frame_name("weird") == ("weird", "")


def test_module_paths_relative_or_absolute() -> None:
    site = "/work/main/.venv/lib/python3.11/site-packages"
    assert module_path("lightgbm/basic.py") == "lightgbm.basic"
    assert module_path(f"{site}/lightgbm/basic.py") == "lightgbm.basic"
    assert module_path("/work/main/services/scorer/scorer/features/store.py") == \
        "scorer.features.store"
    assert module_path("/usr/lib/python3.11/json/__init__.py") == "json"
    assert module_path("<frozen runpy>") == "<frozen runpy>"


def test_areas_are_packages_and_our_subpackages() -> None:
    assert area("lightgbm/basic.py") == "lightgbm"
    assert area("aiokafka/producer/producer.py") == "aiokafka"
    assert area("scorer/features/store.py") == "scorer.features"
    assert area("scorer/engine.py") == "scorer.engine"
    assert area("") == "(native)"


def test_summary_shares_of_own_time_modules_and_inclusive_time() -> None:
    summary = summarize(RAW)

    assert summary.samples == 100
    assert summary.top_self[0] == ("__inner_predict_np2d (lightgbm.basic)", 60.0)
    assert dict(summary.areas_self) == {"lightgbm": 60.0, "aiokafka": 25.0,
                                        "scorer.features": 10.0, "json": 5.0}
    inclusive = dict(summary.top_inclusive)
    assert inclusive["predict_batch (scorer.model.core)"] == 60.0
    assert "BaseEventLoop._run_once (asyncio.base_events)" not in inclusive  # on 95 %


def test_an_empty_profile() -> None:
    assert summarize("").samples == 0
    assert summarize("").as_dict()["top_self_pct"] == []
