"""Entry point: ``python -m producer``."""

from fastapi import FastAPI

from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.runtime import serve
from producer.control import add_control_routes
from producer.settings import ProducerSettings
from producer.worker import ProducerWorker


def main() -> int:
    """Run the producer until SIGTERM/SIGINT; return the exit status."""
    workers: list[ProducerWorker] = []

    def build_worker(settings: ServiceSettings) -> ProducerWorker:
        assert isinstance(settings, ProducerSettings)
        worker = ProducerWorker(settings)
        workers.append(worker)
        return worker

    def extra_routes(app: FastAPI) -> None:
        # serve() builds the worker before the app, so it exists by the first request.
        add_control_routes(app, lambda: workers[0].control)

    return serve(lambda: load_settings(ProducerSettings), build_worker,
                 extra_routes=extra_routes)


if __name__ == "__main__":
    raise SystemExit(main())
