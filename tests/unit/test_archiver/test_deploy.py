"""The archiver's lake outlives its container (the generic checks are in tests/unit/test_deploy)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def test_the_lake_is_a_volume_in_compose_and_the_images_default() -> None:
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["archiver"]
    assert any(volume.endswith(":/data/lake") for volume in service["volumes"])
    assert "ARCHIVER_LAKE_DIR=/data/lake" in (
        REPO / "services" / "archiver" / "Dockerfile").read_text()
