"""The archiver's compose service and image follow the same rules as the others'.

(``tests/unit/test_deploy`` lists its services by hand; these are the same
checks for the archiver.)
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from archiver.settings import ArchiverSettings

REPO = Path(__file__).resolve().parents[3]


def test_compose_environment_is_known_to_the_settings() -> None:
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["archiver"]
    assert service["build"] == {"context": ".", "dockerfile": "services/archiver/Dockerfile"}
    known = {name.upper() for name in ArchiverSettings.model_fields}
    assert set(service["environment"]) <= known
    assert service["healthcheck"]["test"]
    assert any(volume.endswith(":/data/lake") for volume in service["volumes"])


def test_image_copies_only_shared_and_the_archiver_and_runs_unprivileged() -> None:
    text = (REPO / "services" / "archiver" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert source in {"pyproject.toml", "uv.lock"} or source.startswith(
            ("shared", "services/archiver")), source
    assert re.search(r"^USER 10001", text, flags=re.MULTILINE)
    assert "ARCHIVER_LAKE_DIR=/data/lake" in text
