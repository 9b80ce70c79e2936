"""A SageMaker endpoint as a backend: ``InvokeEndpoint`` with the embedded feature vector.

The rows are CSV the way SageMaker's built-in XGBoost container reads them: no
header, one row per transaction, missing values as empty fields, ``text/csv``
both ways. One request carries up to ``sagemaker_max_rows`` rows; the answer
is one probability per row, which becomes a 0–1000 score (× 1000, or through a
configured calibration). The endpoint is a pure model: the outcome is left to
the scorer's rules.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Sequence
from typing import Any

from scorer.backends.base import BackendInput, BackendResult, clamp_score
from scorer.backends.resilience import (
    BackendResponseError,
    CallFailed,
    RemoteBackend,
    read_body,
)
from scorer.backends.settings import BackendSettings

CSV = "text/csv"


def csv_field(value: float) -> str:
    """One value: shortest exact text; NaN and infinities (missing) as an empty field."""
    return repr(float(value)) if math.isfinite(value) else ""


def csv_rows(items: Sequence[BackendInput]) -> bytes:
    """The CSV body for ``items``: one line per item, no header, no trailing newline."""
    if items:
        names = list(items[0].feature_names)
        for item in items:
            if list(item.feature_names) != names:
                raise ValueError("every row of a request must have the same feature names")
    return "\n".join(",".join(csv_field(v) for v in item.features)
                     for item in items).encode("ascii")


def chunks(items: Sequence[BackendInput], size: int) -> list[Sequence[BackendInput]]:
    """``items`` cut into requests of at most ``size`` rows."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def invoke_endpoint_request(items: Sequence[BackendInput],
                            settings: BackendSettings) -> dict[str, Any]:
    """The ``InvokeEndpoint`` parameters for one request of rows."""
    if not settings.sagemaker_endpoint_name:
        raise ValueError("the sagemaker backend needs SAGEMAKER_ENDPOINT_NAME")
    request: dict[str, Any] = {
        "EndpointName": settings.sagemaker_endpoint_name,
        "Body": csv_rows(items),
        "ContentType": CSV,
        "Accept": CSV,
    }
    if settings.sagemaker_target_variant:
        request["TargetVariant"] = settings.sagemaker_target_variant
    return request


def parse_probabilities(body: bytes, rows: int) -> list[float]:
    """One probability per row from the container's CSV answer.

    Newer XGBoost containers answer one line per row, older ones one line of
    comma-separated values; both are accepted. When a line has several
    columns (class probabilities) the last one — the positive class — is used.
    """
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BackendResponseError("sagemaker answer is not UTF-8") from exc
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and rows > 1:
        fields = [f.strip() for f in lines[0].split(",")]
    else:
        fields = [line.split(",")[-1].strip() for line in lines]
    if len(fields) != rows:
        raise BackendResponseError(f"sagemaker answered {len(fields)} values for {rows} rows")
    try:
        values = [float(f) for f in fields]
    except ValueError as exc:
        raise BackendResponseError("sagemaker answered a value that is not a number") from exc
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise BackendResponseError("sagemaker answered a value outside [0, 1]")
    return values


def to_score(probability: float, calibration: Sequence[tuple[float, float]] = ()) -> int:
    """A 0–1000 score: ``probability × 1000``, or linear interpolation between the points."""
    if not calibration:
        return clamp_score(probability * 1000)
    xs = [p for p, _ in calibration]
    if probability <= xs[0]:
        return clamp_score(calibration[0][1])
    if probability >= xs[-1]:
        return clamp_score(calibration[-1][1])
    right = bisect.bisect_right(xs, probability)
    (x0, y0), (x1, y1) = calibration[right - 1], calibration[right]
    return clamp_score(y0 + (y1 - y0) * (probability - x0) / (x1 - x0))


class SageMakerBackend(RemoteBackend):
    """Scores batches on a SageMaker endpoint, one request per ``sagemaker_max_rows`` rows."""

    name = "sagemaker"
    service = "sagemaker-runtime"
    operation = "invoke_endpoint"

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        """One result per item, in order; a failed request's rows go to the fallback."""
        parts = chunks(items, self.settings.sagemaker_max_rows)
        answers = await asyncio.gather(*(self._score_chunk(part) for part in parts))
        flat = [answer for part_answers in answers for answer in part_answers]
        return await self.with_fallback(items, flat)

    async def _score_chunk(self, part: Sequence[BackendInput]) -> list[BackendResult | CallFailed]:
        params = invoke_endpoint_request(part, self.settings)

        async def attempt() -> tuple[list[float], str]:
            response = await self.invoke(params)
            # The body is read inside the attempt: a broken stream is retried too.
            body = await read_body(response["Body"])
            variant = str(response.get("InvokedProductionVariant")
                          or self.settings.sagemaker_target_variant or "default")
            return parse_probabilities(body, len(part)), variant

        answer = await self.limited(attempt)
        if isinstance(answer, CallFailed):
            return [answer] * len(part)
        probabilities, variant = answer
        s = self.settings
        version = f"{s.sagemaker_endpoint_name}/{variant}"
        return [
            BackendResult(
                model_scores={s.sagemaker_model_name: to_score(p, s.sagemaker_calibration)},
                rule_results={},
                outcome=None,
                model_version=version,
                detector_version=f"sagemaker:{s.sagemaker_endpoint_name}",
                reasons=[],
            )
            for p in probabilities
        ]
