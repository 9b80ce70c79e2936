"""The one exception tree every service uses, and what each branch means.

The error policy is: retry :class:`RetryableError` with capped backoff,
dead-letter :class:`PoisonMessageError` with its reason and source position, and
let anything else propagate so the process crashes and the orchestrator
restarts it (a bug must never be silently skipped).
"""

from __future__ import annotations


class FraudstreamError(Exception):
    """Base class of every error raised on purpose by fraudstream code."""


class ConfigError(FraudstreamError):
    """The configuration is invalid; the service refuses to start."""


class RetryableError(FraudstreamError):
    """A transient failure (a dependency is down or throttling): try again later."""


class PoisonMessageError(FraudstreamError):
    """One input message can never be processed; it goes to the dead-letter topic.

    ``reason`` is a short stable code (``invalid_json``, ``schema_violation``…)
    and ``detail`` a human-readable explanation that never contains the payload.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
