"""The HTTP API: ``POST /documents`` (multipart PDF upload) and ``GET /documents/{id}``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, File, Header, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse

from compliance.processor import (
    Incoming,
    Processor,
    RejectedUpload,
    keyed_document_id,
    new_document_id,
)
from fraudstream_shared.exceptions import RetryableError

_DOCUMENT_ID = re.compile(r"^[0-9a-f]{32}$")


def add_document_routes(app: FastAPI, processor: Callable[[], Processor]) -> None:
    """Mount the document routes; ``processor`` returns the worker's (built at start-up)."""

    @app.post("/documents", summary="Upload a PDF: returns its id, routing and findings")
    async def upload(
        file: Annotated[UploadFile, File(description="The PDF document.")],
        redact: Annotated[bool, Query(description="Also store a redacted text copy.")] = False,
        idempotency_key: Annotated[str | None, Header(
            max_length=200, description="Same key, same document id: a retried upload "
            "overwrites its first attempt instead of making a second document.")] = None,
    ) -> JSONResponse:
        current = processor()
        limit = current.limits.max_bytes
        # Read one byte past the limit: enough to know it is too large, never the whole file.
        data = await file.read(limit + 1)
        document_id = (new_document_id() if idempotency_key is None
                       else keyed_document_id(idempotency_key))
        incoming = Incoming(data=data, document_id=document_id, source="upload",
                            received_at=datetime.now(UTC), filename=file.filename)
        try:
            record = await current.process(incoming, redact_copy=redact)
        except RejectedUpload as exc:
            body: dict[str, Any] = {
                "error": exc.rejection.reason, "detail": exc.rejection.detail,
                "document_id": exc.record.document_id, "kept_at": exc.record.destination,
            }
            return JSONResponse(body, status_code=exc.rejection.status)
        except RetryableError as exc:
            return JSONResponse({"error": "unavailable", "detail": str(exc)[:300]},
                                status_code=503, headers={"Retry-After": "5"})
        return JSONResponse(record.model_dump(mode="json", exclude_none=True), status_code=201)

    @app.get("/documents/{document_id}", summary="The findings record of a processed document")
    async def get_record(document_id: str) -> JSONResponse:
        if not _DOCUMENT_ID.match(document_id):
            raise HTTPException(404, "unknown document id")
        try:
            record = await processor().publisher.fetch(document_id)
        except RetryableError as exc:
            return JSONResponse({"error": "unavailable", "detail": str(exc)[:300]},
                                status_code=503, headers={"Retry-After": "5"})
        if record is None:
            raise HTTPException(404, "unknown document id")
        return JSONResponse(record)
