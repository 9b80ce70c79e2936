"""Entry point: ``python -m indexer``."""

from fraudstream_shared.config import load_settings
from fraudstream_shared.runtime import serve
from indexer.settings import IndexerSettings
from indexer.worker import IndexerWorker


def main() -> int:
    """Run the indexer until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(IndexerSettings), IndexerWorker)


if __name__ == "__main__":
    raise SystemExit(main())
