-- title: Amounts at risk and blocked
-- Per currency: the amount decided, at risk (sent to review: its fate is up to an
-- analyst) and blocked.
SELECT transaction_currency AS currency,
       count(*) AS decisions,
       sum(transaction_amt) AS amount_total,
       sum(CASE WHEN outcome = 'review' THEN transaction_amt ELSE 0 END) AS amount_at_risk,
       sum(CASE WHEN outcome = 'block' THEN transaction_amt ELSE 0 END) AS amount_blocked
FROM decisions
GROUP BY transaction_currency
ORDER BY amount_total DESC
