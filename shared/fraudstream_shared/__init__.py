"""fraudstream's common package.

Everything the services share lives here, grouped by concept:

- :mod:`fraudstream_shared.events` — the versioned event contracts and topic names;
- :mod:`fraudstream_shared.config` — the settings base class;
- :mod:`fraudstream_shared.kafka` — consumer/producer helpers, dead-lettering;
- :mod:`fraudstream_shared.http` — the FastAPI app factory (health, readiness, metrics);
- :mod:`fraudstream_shared.logging` — JSON logging with stable event names;
- :mod:`fraudstream_shared.exceptions` — the one exception tree and error policy.
"""

__version__ = "0.1.0"
