"""Entry point: ``python -m compliance``."""

from fastapi import FastAPI

from compliance.api import add_document_routes
from compliance.settings import ComplianceSettings
from compliance.worker import ComplianceWorker
from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.runtime import serve


def main() -> int:
    """Run the compliance service until SIGTERM/SIGINT; return the exit status."""
    workers: list[ComplianceWorker] = []

    def build_worker(settings: ServiceSettings) -> ComplianceWorker:
        assert isinstance(settings, ComplianceSettings)
        worker = ComplianceWorker(settings)
        workers.append(worker)
        return worker

    def extra_routes(app: FastAPI) -> None:
        # serve() builds the worker before the app; its processor exists once the
        # lifespan has started it, which is before the first request is served.
        add_document_routes(app, lambda: workers[0].processor)

    return serve(lambda: load_settings(ComplianceSettings), build_worker,
                 extra_routes=extra_routes)


if __name__ == "__main__":
    raise SystemExit(main())
