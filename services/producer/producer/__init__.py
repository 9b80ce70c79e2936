"""fraudstream producer.

Publishes simulated (or replayed) card transactions to `transactions`, and their delayed
fraud labels to `transaction_labels`.
"""
