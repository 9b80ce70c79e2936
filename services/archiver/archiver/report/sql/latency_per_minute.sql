-- title: Decision latency per minute
-- Average and p99 (approximate) time from event to decision per minute of event
-- time, over the last 6 hours of data.
SELECT date_trunc('minute', event_time) AS bucket_start,
       count(*) AS decisions,
       avg(ttdf_ms) AS avg_ttdf_ms,
       approx_percentile(ttdf_ms, 0.99) AS p99_ttdf_ms
FROM decisions
WHERE event_time >= (SELECT max(event_time) FROM decisions) - INTERVAL '6' HOUR
GROUP BY 1
ORDER BY 1
