"""`make bench`: measured throughput and latency of fraudstream on the local stack.

Open-loop stepped load through the real services (as separate processes),
side by side with Kafka's own performance tools, a pass-through null scorer,
a raw OpenSearch bulk loader and micro-benchmarks of the scorer's parts. See
``bench/README.md`` for what is measured and how.
"""
