"""What an alert says and which decisions get one: pure functions, no I/O.

The subject and the fields of the body are the original sample's (its SNS email
said "FRAUD ALERT: Transaction has been flagged!" with the transaction id,
outcome, timestamp, entity id and amount); we add the model scores and the top
reasons so that the reviewer sees *why*. Nothing else from the transaction —
no name, e-mail address, phone, card or address — ever goes into an alert.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from fraudstream_shared.events import Outcome, ProcessedTransaction

ALERT_SUBJECT = "FRAUD ALERT: Transaction has been flagged!"
MAX_REASONS = 5
MAX_REASON_CHARS = 200

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Alert:
    """One notification: its subject and plain-text body, and the event it is about.

    ``event_id`` is not shown twice; channels use it as a stable message id
    (the e-mail ``Message-ID``, an SNS FIFO deduplication id).
    """

    subject: str
    body: str
    event_id: str


def is_alert(outcome: Outcome, outcomes: Collection[Outcome]) -> bool:
    """Whether a decision with ``outcome`` must be notified (``outcomes`` is the alert set)."""
    return outcome in outcomes


def one_line(text: str) -> str:
    """``text`` with control characters (newlines included) collapsed to one space.

    Fields come from upstream events; a newline in one must not forge extra
    lines in the alert.
    """
    return _CONTROL.sub(" ", text).strip()


def format_amount(amount: float, currency: str) -> str:
    """``1234.5, "usd"`` → ``"1234.50 USD"``."""
    return f"{amount:.2f} {currency.upper()}"


def format_alert(decision: ProcessedTransaction) -> Alert:
    """The alert for one decision: the original subject, and a body with its key facts."""
    fd = decision.fd
    lines = [
        "A transaction has been flagged for review.",
        "",
        f"TransactionID: {one_line(decision.event_id)}",
        f"Outcome: {fd.outcome.value}",
        f"Timestamp: {decision.event_time.isoformat()}",
        f"EntityID: {one_line(decision.entity_id)}",
        f"Amount: {format_amount(decision.transaction_amt, decision.transaction_currency)}",
    ]
    if fd.model_scores:
        scores = ", ".join(
            f"{one_line(name)}={score}" for name, score in sorted(fd.model_scores.items())
        )
        lines.append(f"Model scores (0-1000): {scores}")
    if fd.reasons:
        lines.append("Reasons:")
        lines.extend(
            f"  - {one_line(reason)[:MAX_REASON_CHARS]}" for reason in fd.reasons[:MAX_REASONS]
        )
    lines += ["", "Please review transaction."]
    return Alert(subject=ALERT_SUBJECT, body="\n".join(lines) + "\n", event_id=decision.event_id)
