"""Entry point: ``python -m producer``."""

from fraudstream_shared.config import load_settings
from fraudstream_shared.runtime import serve
from producer.settings import ProducerSettings
from producer.worker import ProducerWorker


def main() -> int:
    """Run the producer until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(ProducerSettings), ProducerWorker)


if __name__ == "__main__":
    raise SystemExit(main())
