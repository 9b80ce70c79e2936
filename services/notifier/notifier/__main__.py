"""Entry point: ``python -m notifier``."""

from fraudstream_shared.config import load_settings
from fraudstream_shared.runtime import serve
from notifier.settings import NotifierSettings
from notifier.worker import NotifierWorker


def main() -> int:
    """Run the notifier until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(NotifierSettings), NotifierWorker)


if __name__ == "__main__":
    raise SystemExit(main())
