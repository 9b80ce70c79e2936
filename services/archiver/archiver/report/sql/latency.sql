-- title: Decision latency
-- Average and p99 (approximate) of the time from the event to its decision (ttdf),
-- of the time spent inside the scorer, and of the time until scoring started.
SELECT count(*) AS decisions,
       avg(ttdf_ms) AS avg_ttdf_ms,
       approx_percentile(ttdf_ms, 0.99) AS p99_ttdf_ms,
       avg(scorer_time_ms) AS avg_scorer_ms,
       approx_percentile(scorer_time_ms, 0.99) AS p99_scorer_ms,
       avg(proc_time_ms) AS avg_proc_ms,
       approx_percentile(proc_time_ms, 0.99) AS p99_proc_ms
FROM decisions
