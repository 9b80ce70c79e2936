"""Hot reload: a valid new version is swapped in, an invalid file keeps the running set."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from scorer.ruleset import RuleSetError, RuleSetLoader

TEMPLATE = """\
version: "{version}"
mode: ALL_MATCHED
rules:
  - id: big
    expression: transaction_amt > {threshold}
    outcome: review
    reason: large
"""


def write(path: Path, text: str, bump: int) -> None:
    """Replace ``path`` atomically and move its mtime on (coarse clocks may not)."""
    staging = path.with_suffix(".tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def rejected_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [getattr(r, "fields", {}) for r in caplog.records
            if r.getMessage() == "scorer.rules.rejected"]


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    write(path, TEMPLATE.format(version="v1", threshold=100), 0)
    return path


def test_unchanged_file_is_not_reparsed(rules_file: Path) -> None:
    loader = RuleSetLoader(rules_file)
    first = loader.current
    assert loader.maybe_reload(1.0) is False
    assert loader.current is first


def test_valid_new_version_is_swapped_in(rules_file: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scorer.ruleset.loader")
    loader = RuleSetLoader(rules_file)
    write(rules_file, TEMPLATE.format(version="v2", threshold=500), 1)
    assert loader.maybe_reload(1.0) is True
    assert loader.current.version == "v2"
    assert loader.current.rule("big").expression == "transaction_amt > 500"
    assert loader.reloads == 1
    assert loader.last_error is None
    loaded = [getattr(r, "fields", {}) for r in caplog.records
              if r.getMessage() == "scorer.rules.loaded"]
    assert loaded == [{"path": str(rules_file), "version": "v2", "previous_version": "v1",
                       "rules": 1, "lists": 0}]


def test_invalid_file_keeps_the_running_set_and_logs_the_error(
        rules_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    loader = RuleSetLoader(rules_file)
    running = loader.current
    write(rules_file, TEMPLATE.format(version="v2", threshold="(100"), 1)
    assert loader.maybe_reload(1.0) is False
    assert loader.current is running
    assert loader.last_error is not None
    assert loader.last_error.rule_id == "big"
    assert loader.rejections == 1
    [event] = rejected_events(caplog)
    assert event["kept_version"] == "v1"
    assert "rule 'big': expected ')' at 1:23" in str(event["error"])
    json.dumps(event)  # log fields stay serialisable

    # The same broken file is not re-parsed nor re-logged on every batch.
    assert loader.maybe_reload(2.0) is False
    assert loader.rejections == 1

    # Fixing it swaps the new version in and clears the error.
    write(rules_file, TEMPLATE.format(version="v2", threshold=100), 2)
    assert loader.maybe_reload(3.0) is True
    assert loader.current.version == "v2"
    assert loader.last_error is None


def test_changed_content_under_the_running_version_is_rejected(rules_file: Path) -> None:
    loader = RuleSetLoader(rules_file)
    write(rules_file, TEMPLATE.format(version="v1", threshold=999), 1)
    assert loader.maybe_reload(1.0) is False
    assert loader.current.rule("big").expression == "transaction_amt > 100"
    assert loader.last_error is not None
    assert "version 'v1' is already running" in str(loader.last_error)


def test_touched_file_with_the_same_content_is_not_swapped(rules_file: Path) -> None:
    loader = RuleSetLoader(rules_file)
    first = loader.current
    write(rules_file, TEMPLATE.format(version="v1", threshold=100), 1)
    assert loader.maybe_reload(1.0) is False
    assert loader.current is first
    assert loader.last_error is None


def test_deleted_file_keeps_the_running_set_until_it_comes_back(rules_file: Path) -> None:
    loader = RuleSetLoader(rules_file)
    rules_file.unlink()
    assert loader.maybe_reload(1.0) is False
    assert loader.current.version == "v1"
    assert loader.last_error is not None
    assert "cannot read the rule set" in str(loader.last_error)
    write(rules_file, TEMPLATE.format(version="v3", threshold=1), 1)
    assert loader.maybe_reload(2.0) is True
    assert loader.current.version == "v3"


def test_min_interval_skips_the_stat(rules_file: Path) -> None:
    loader = RuleSetLoader(rules_file, min_interval=10.0)
    assert loader.maybe_reload(100.0) is False
    write(rules_file, TEMPLATE.format(version="v2", threshold=1), 1)
    assert loader.maybe_reload(105.0) is False  # within the interval: not even a stat
    assert loader.maybe_reload(110.0) is True


def test_an_invalid_file_at_start_up_raises(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    write(path, "version: v1\n", 0)
    with pytest.raises(RuleSetError, match="missing mode, rules"):
        RuleSetLoader(path)
    with pytest.raises(RuleSetError, match="cannot read"):
        RuleSetLoader(tmp_path / "absent.yaml")
