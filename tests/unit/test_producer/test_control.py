"""The control API on a bare app: start, stop, rate and status."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from producer.control import ProducerControl, add_control_routes


@pytest.fixture
def control() -> ProducerControl:
    return ProducerControl(mode="simulate", rate_per_s=0.5, running=False)


@pytest.fixture
def client(control: ProducerControl) -> TestClient:
    app = FastAPI()
    add_control_routes(app, lambda: control)
    return TestClient(app)


def test_status_reports_the_state(client: TestClient, control: ProducerControl) -> None:
    control.produced = 7
    body = client.get("/status").json()
    assert body == {"mode": "simulate", "running": False, "finished": False,
                    "rate_per_s": 0.5, "produced": 7, "labels_pending": 0,
                    "labels_published": 0}


def test_start_and_stop_toggle_running_and_wake_the_loop(
    client: TestClient, control: ProducerControl
) -> None:
    assert client.post("/start").json()["running"] is True
    assert control.wake.is_set()
    control.wake.clear()
    assert client.post("/stop").json()["running"] is False
    assert control.wake.is_set()


def test_rate_is_validated(client: TestClient, control: ProducerControl) -> None:
    assert client.put("/rate", json={"rate_per_s": 100}).json()["rate_per_s"] == 100
    assert control.rate_per_s == 100
    for nonsense in ({"rate_per_s": 0}, {"rate_per_s": -3}, {"rate_per_s": "fast"},
                     {"rate_per_s": 1e9}, {"rate_per_s": True}, {}, {"rate": 5},
                     {"rate_per_s": 5, "extra": 1}):
        response = client.put("/rate", json=nonsense)
        assert response.status_code == 422, nonsense
    assert client.put("/rate", content=b"not json",
                      headers={"content-type": "application/json"}).status_code == 422
    assert control.rate_per_s == 100


def test_finished_replay_cannot_be_started(client: TestClient) -> None:
    control = ProducerControl(mode="replay", rate_per_s=5, running=True)
    control.finished = True
    app = FastAPI()
    add_control_routes(app, lambda: control)
    replay_client = TestClient(app)
    assert replay_client.post("/start").status_code == 409
    status = replay_client.get("/status").json()
    assert (status["running"], status["finished"]) == (False, True)
    assert status["rows_invalid"] == 0
