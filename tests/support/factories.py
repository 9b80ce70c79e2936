"""Test data factories: valid transactions in our format and in the original sample's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def original_sample_transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction exactly as the original AWS sample's producer wrote it.

    Integer amount, naive ``isoformat('T')`` timestamp with microseconds,
    lower-case currency, coordinates and zip as strings, no merchant id.
    """
    event = {
        "transaction_amt": 1234,
        "transaction_currency": "usd",
        "event_id": str(uuid.uuid4()),
        "event_time": datetime.now(UTC).replace(tzinfo=None).isoformat("T"),
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/57.0.2987.133 Safari/537.36",
        "product_category": "shopping_net",
        "entity_id": "123-45-6789",
        "card_bin": "411111",
        "customer_name": "Jessica",
        "billing_street": "123 Main St",
        "billing_city": "Springfield",
        "billing_state": "IL",
        "billing_zip": "6270",
        "billing_latitude": "39.78",
        "billing_longitude": "-89.65",
        "customer_job": "Engineer, biomedical",
        "ip_address": "203.0.113.7",
        "email_address": "jessica@example.com",
        "phone": "(217) 555-0199",
    }
    event.update(overrides)
    return event
