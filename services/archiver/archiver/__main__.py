"""Entry point: ``python -m archiver``."""

from archiver.settings import ArchiverSettings
from archiver.worker import ArchiverWorker
from fraudstream_shared.config import load_settings
from fraudstream_shared.runtime import serve


def main() -> int:
    """Run the archiver until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(ArchiverSettings), ArchiverWorker)


if __name__ == "__main__":
    raise SystemExit(main())
