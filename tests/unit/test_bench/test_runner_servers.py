"""Finding the local stack's servers among this machine's processes, and what they hold."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.runner import find_server_pid, local_broker


@pytest.fixture
def fake_broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process whose argv looks like the local broker's: its main class and its folder."""
    folder = tmp_path / ".local" / "kafka"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "kafka.Kafka", str(folder / "config" / "server.properties")])
    try:
        yield proc, folder
    finally:
        proc.kill()
        proc.wait()


def test_a_server_is_found_by_its_main_class_and_folder(
        fake_broker: tuple[subprocess.Popen[bytes], Path], tmp_path: Path) -> None:
    proc, folder = fake_broker
    assert find_server_pid("kafka.Kafka", str(folder)) == proc.pid
    assert find_server_pid("kafka.Kafka", str(tmp_path / "another")) is None
    assert find_server_pid("LocalOpenSearch", str(folder)) is None


def test_the_internal_topics_are_read_only_while_the_local_broker_runs(
        fake_broker: tuple[subprocess.Popen[bytes], Path], tmp_path: Path) -> None:
    proc, folder = fake_broker
    partition = folder / "data" / "__consumer_offsets-0"
    partition.mkdir(parents=True)
    (partition / "00000000000000000000.log").write_bytes(b"x" * 300)

    assert local_broker(folder) == (proc.pid, {"__consumer_offsets": 300,
                                               "__transaction_state": 0})
    proc.kill()
    proc.wait()
    # The same folder, its broker stopped (or the bench pointed at another): a stale
    # folder is not reported.
    assert local_broker(folder) == (None, None)
