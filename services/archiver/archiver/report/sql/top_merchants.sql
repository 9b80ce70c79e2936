-- title: Top merchants by fraud
-- The 10 merchants with the most transactions labelled fraud, then the most
-- blocked; '(none)' collects transactions without a merchant id.
WITH fraud AS (
    SELECT event_id, max(CASE WHEN label = 'fraud' THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY event_id
)
SELECT coalesce(d.merchant_id, '(none)') AS merchant,
       count(*) AS decisions,
       sum(CASE WHEN d.outcome = 'block' THEN 1 ELSE 0 END) AS blocked,
       sum(CASE WHEN d.outcome = 'block' THEN d.transaction_amt ELSE 0 END) AS amount_blocked,
       sum(coalesce(f.is_fraud, 0)) AS labelled_fraud
FROM decisions d
LEFT JOIN fraud f ON f.event_id = d.event_id
GROUP BY coalesce(d.merchant_id, '(none)')
ORDER BY labelled_fraud DESC, blocked DESC, merchant
LIMIT 10
