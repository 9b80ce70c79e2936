"""The backend options: which backend scores, how it is called, and what replaces it.

A plain frozen pydantic model (not a settings class): the scorer's
``ScorerSettings`` carries the same fields (env vars = upper-case field names)
and passes them on with :meth:`BackendSettings.from_fields`.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraudstream_shared.events import Outcome


class BackendSettings(BaseModel):
    """Backend choice and the options of every backend."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    scorer_backend: Literal["embedded", "frauddetector", "sagemaker"] = Field(
        "embedded", description="Which backend scores transactions.")
    backend_fallback: Literal["embedded", "fixed"] = Field(
        "embedded", description="What scores when the remote backend is unavailable.")
    backend_fallback_outcome: Outcome = Field(
        Outcome.REVIEW, description="The outcome of the fixed fallback.")
    backend_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Timeout of one remote call (one attempt).")
    backend_max_attempts: int = Field(
        3, ge=1, le=10, description="Attempts per call, including the first.")
    backend_retry_base_s: float = Field(
        0.1, gt=0, le=10, description="Base of the exponential backoff (full jitter).")
    backend_retry_cap_s: float = Field(
        2.0, gt=0, le=60, description="Longest wait between two attempts.")
    backend_concurrency: int = Field(
        16, ge=1, le=256, description="Remote calls in flight at once per batch.")
    backend_breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive failed attempts that open the circuit.")
    backend_breaker_reset_s: float = Field(
        30.0, gt=0, le=3600, description="Cool-down before a trial call (half-open).")

    aws_region: str | None = Field(
        None, description="AWS region of the remote backend (botocore default chain if unset)."
    )
    aws_endpoint_url: str | None = Field(
        None, description="Override the AWS endpoint (tests, VPC endpoints).")

    frauddetector_detector_id: str = Field("transaction_fraud_detector", min_length=1)
    frauddetector_detector_version: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,4}$",
        description="Detector version; unset = the detector's active version.")
    frauddetector_event_type: str = Field("transaction_event", min_length=1)
    frauddetector_entity_type: str = Field("customer", min_length=1)
    frauddetector_outcome_aliases: dict[str, Outcome] = Field(
        default_factory=dict,
        description="Detector outcome name (lower-case) → approve/review/block, for outcomes "
        "not named approve, review or block; others count as review.")

    sagemaker_endpoint_name: str | None = Field(
        None, max_length=63, description="Required with SCORER_BACKEND=sagemaker.")
    sagemaker_target_variant: str | None = Field(None, max_length=63)
    sagemaker_model_name: str = Field(
        "sagemaker", min_length=1, description="Key of the score in fd.model_scores.")
    sagemaker_max_rows: int = Field(
        500, ge=1, le=10_000, description="Rows per InvokeEndpoint request.")
    sagemaker_calibration: list[tuple[float, float]] = Field(
        default_factory=list,
        description="(probability, score) points, interpolated linearly; empty = p × 1000.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.scorer_backend == "sagemaker" and not self.sagemaker_endpoint_name:
            raise ValueError("SCORER_BACKEND=sagemaker needs SAGEMAKER_ENDPOINT_NAME")
        points = [p for p, _ in self.sagemaker_calibration]
        if points != sorted(points) or len(set(points)) != len(points):
            raise ValueError("SAGEMAKER_CALIBRATION probabilities must be strictly increasing")
        if self.backend_retry_cap_s < self.backend_retry_base_s:
            raise ValueError("BACKEND_RETRY_CAP_S must be at least BACKEND_RETRY_BASE_S")
        return self

    @classmethod
    def from_fields(cls, source: Any) -> BackendSettings:
        """Pick this model's fields by name from any object (e.g. the scorer's settings)."""
        values = {name: getattr(source, name) for name in cls.model_fields
                  if hasattr(source, name)}
        return cls.model_validate(values)
