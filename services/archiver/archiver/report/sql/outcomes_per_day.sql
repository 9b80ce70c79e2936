-- title: Outcomes per day
-- Approved, review and blocked decisions per day of event time (UTC).
SELECT date_trunc('day', event_time) AS bucket_start,
       outcome,
       count(*) AS decisions
FROM decisions
GROUP BY 1, 2
ORDER BY 1, 2
