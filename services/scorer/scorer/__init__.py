"""fraudstream scorer.

Scores every transaction on `transactions` and publishes the decision
(approve/review/block) to `processed_transactions`.
"""
