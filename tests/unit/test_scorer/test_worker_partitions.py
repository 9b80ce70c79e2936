"""The scorer warns when its input topic is not split the way its model was trained for."""

from __future__ import annotations

import logging

import pytest

from scorer.model import Model
from scorer.worker import warn_partition_mismatch


def mismatch_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [getattr(r, "fields", {}) for r in caplog.records
            if r.getMessage() == "scorer.model.partitions_mismatch"]


def test_a_topic_with_the_models_partition_count_is_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    model = Model.load()
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        assert warn_partition_mismatch("transactions", model.partitions, model) is False
    assert mismatch_events(caplog) == []


def test_another_partition_count_is_a_warning_naming_both(
        caplog: pytest.LogCaptureFixture) -> None:
    model = Model.load()
    other = model.partitions + 2
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        assert warn_partition_mismatch("transactions", other, model) is True
    [fields] = mismatch_events(caplog)
    assert fields["topic_partitions"] == other
    assert fields["model_partitions"] == model.partitions
    assert fields["model_version"] == model.version
    assert f"PARTITIONS={other}" in str(fields["hint"])
