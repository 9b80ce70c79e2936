"""Entry point: ``python -m scorer``."""

from fraudstream_shared.config import load_settings
from fraudstream_shared.runtime import serve
from scorer.settings import ScorerSettings
from scorer.worker import ScorerWorker


def main() -> int:
    """Run the scorer until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(ScorerSettings), ScorerWorker)


if __name__ == "__main__":
    raise SystemExit(main())
