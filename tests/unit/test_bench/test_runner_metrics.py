"""Reading a service's Prometheus counters, as the bench does while it waits for a drain."""

from __future__ import annotations

from bench.runner import default_notifier_concurrency, metric_sum
from notifier.settings import NotifierSettings

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
