"""Reading only a decision's outcome, so that non-alerting decisions stay cheap.

Almost every decision is not an alert (about 1 % are ``block``). Decoding each
one into the full :class:`~fraudstream_shared.events.ProcessedTransaction`
(every field validated, timestamps parsed by Python validators) was most of
the notifier's CPU: about 20 µs per 1.5 KB decision. :func:`read_outcome`
validates ``fd.outcome`` alone in about 4 µs — the value is still parsed as a
whole, so bytes that are not JSON are still caught — and the worker decodes
the full contract only for the outcomes it alerts on.

A value whose outcome cannot be read raises :class:`PoisonMessageError` with
the shared codec's reason codes (``empty_value``, ``oversized``,
``invalid_utf8``, ``invalid_json``, ``not_an_object``, ``schema_violation``):
that case is judged by :func:`fraudstream_shared.events.decode` itself.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict

from fraudstream_shared.events import MAX_VALUE_BYTES, Outcome, ProcessedTransaction, decode
from notifier.alerts import is_alert


class OutcomeFields(BaseModel):
    """The part of ``fd`` the screen reads; every other field is ignored, not checked."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    outcome: Outcome


class OutcomeOnly(BaseModel):
    """A ``processed_transactions`` value reduced to its outcome."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fd: OutcomeFields


def read_outcome(value: bytes | None) -> Outcome:
    """The ``fd.outcome`` of one ``processed_transactions`` value.

    Raises :class:`PoisonMessageError` when the value is empty, too large, not
    UTF-8 JSON, not an object, or has no valid ``fd.outcome``. Nothing else is
    checked: a value can pass here and still fail the full contract.
    """
    if value and len(value) <= MAX_VALUE_BYTES:
        # Parsed by pydantic-core as the full decode's fast path does (the last
        # of duplicate keys wins, as with json.loads). decode's huge-integer
        # scan is skipped: no number is read here, and an alert is decoded in
        # full afterwards anyway.
        try:
            return OutcomeOnly.model_validate_json(value).fd.outcome
        except Exception:  # whatever the fast path refuses, decode judges and names
            pass
    return decode(OutcomeOnly, value).fd.outcome


def screen(
    value: bytes | None, alert_outcomes: Collection[Outcome]
) -> tuple[Outcome, ProcessedTransaction | None]:
    """A decision's outcome, and the full decision when that outcome is an alert.

    Raises :class:`PoisonMessageError` when the outcome cannot be read, or
    when the outcome is an alert and the value fails the full contract. A
    non-alerting value is not decoded further, so whatever else is wrong with
    it goes unnoticed here (the indexer dead-letters it).
    """
    outcome = read_outcome(value)
    if not is_alert(outcome, alert_outcomes):
        return outcome, None
    return outcome, decode(ProcessedTransaction, value)
