-- title: Top states by fraud
-- The 10 billing states with the most transactions labelled fraud, then the most
-- blocked; '(none)' collects transactions without a billing state.
WITH fraud AS (
    SELECT event_id, max(CASE WHEN label = 'fraud' THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY event_id
)
SELECT coalesce(d.billing_state, '(none)') AS state,
       count(*) AS decisions,
       sum(CASE WHEN d.outcome = 'block' THEN 1 ELSE 0 END) AS blocked,
       sum(CASE WHEN d.outcome = 'block' THEN d.transaction_amt ELSE 0 END) AS amount_blocked,
       sum(coalesce(f.is_fraud, 0)) AS labelled_fraud
FROM decisions d
LEFT JOIN fraud f ON f.event_id = d.event_id
GROUP BY coalesce(d.billing_state, '(none)')
ORDER BY labelled_fraud DESC, blocked DESC, state
LIMIT 10
