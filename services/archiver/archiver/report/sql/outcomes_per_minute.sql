-- title: Outcomes per minute
-- Approved, review and blocked decisions per minute of event time, over the last
-- 6 hours of data.
SELECT date_trunc('minute', event_time) AS bucket_start,
       outcome,
       count(*) AS decisions
FROM decisions
WHERE event_time >= (SELECT max(event_time) FROM decisions) - INTERVAL '6' HOUR
GROUP BY 1, 2
ORDER BY 1, 2
