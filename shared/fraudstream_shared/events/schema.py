"""Export the contracts as JSON Schema, and check the checked-in copies for drift.

``python -m fraudstream_shared.events.schema write DIR`` writes one file per
contract; ``check DIR`` exits 1 when a file is missing or stale (run in CI).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from fraudstream_shared.events.compliance import ComplianceFindings
from fraudstream_shared.events.deadletter import DeadLetter
from fraudstream_shared.events.decision import ProcessedTransaction
from fraudstream_shared.events.label import TransactionLabel
from fraudstream_shared.events.transaction import SCHEMA_VERSION, Transaction

CONTRACTS: dict[str, type[BaseModel]] = {
    "transaction": Transaction,
    "processed_transaction": ProcessedTransaction,
    "transaction_label": TransactionLabel,
    "dead_letter": DeadLetter,
    "compliance_findings": ComplianceFindings,
}


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text for every contract."""
    out = {}
    for name, model in CONTRACTS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://fraudstream.dev/schemas/v{SCHEMA_VERSION}/{name}.json"
        schema["x-schema-version"] = SCHEMA_VERSION
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write(directory: Path) -> None:
    """Write every schema into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, text in render_schemas().items():
        (directory / file_name).write_text(text, encoding="utf-8")


def stale_files(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    stale = []
    for file_name, text in render_schemas().items():
        path = directory / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(file_name)
    return stale


def main(argv: list[str]) -> int:
    """CLI entry point: ``write DIR`` or ``check DIR``."""
    if len(argv) != 2 or argv[0] not in ("write", "check"):
        usage = "usage: python -m fraudstream_shared.events.schema {write|check} DIR"
        print(usage, file=sys.stderr)
        return 2
    directory = Path(argv[1])
    if argv[0] == "write":
        write(directory)
        return 0
    stale = stale_files(directory)
    if stale:
        print(
            "JSON Schemas are stale: " + ", ".join(stale) + " — run `make schemas` and commit.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
