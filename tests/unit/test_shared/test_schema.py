"""The checked-in JSON Schemas match the models (additive changes only)."""

from __future__ import annotations

import json
from pathlib import Path

from fraudstream_shared.events.schema import render_schemas, stale_files

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "schemas"


def test_checked_in_schemas_are_current() -> None:
    assert stale_files(SCHEMA_DIR) == [], "run `make schemas` and commit the result"


def test_transaction_schema_lists_the_mandatory_fields() -> None:
    schema = json.loads(render_schemas()["transaction.schema.json"])
    assert set(schema["required"]) == {
        "event_id", "event_time", "entity_id", "transaction_amt",
        "transaction_currency", "email_address", "ip_address",
    }
