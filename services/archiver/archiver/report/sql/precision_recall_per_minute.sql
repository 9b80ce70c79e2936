-- title: Live precision and recall per minute
-- Of the decisions whose label has arrived, per minute of event time over the last
-- 6 hours of data: precision and recall of flagging (review or block) and of
-- blocking alone. Empty until labels arrive.
WITH fraud AS (
    SELECT event_id, max(CASE WHEN label = 'fraud' THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY event_id
),
labelled AS (
    SELECT date_trunc('minute', d.event_time) AS bucket_start,
           CASE WHEN d.outcome <> 'approve' THEN 1 ELSE 0 END AS flagged,
           CASE WHEN d.outcome = 'block' THEN 1 ELSE 0 END AS blocked,
           f.is_fraud
    FROM decisions d
    JOIN fraud f ON f.event_id = d.event_id
    WHERE d.event_time >= (SELECT max(event_time) FROM decisions) - INTERVAL '6' HOUR
)
SELECT bucket_start,
       count(*) AS labelled,
       sum(is_fraud) AS fraud,
       sum(flagged) AS flagged,
       sum(blocked) AS blocked,
       CAST(sum(flagged * is_fraud) AS DOUBLE) / nullif(sum(flagged), 0) AS flag_precision,
       CAST(sum(flagged * is_fraud) AS DOUBLE) / nullif(sum(is_fraud), 0) AS flag_recall,
       CAST(sum(blocked * is_fraud) AS DOUBLE) / nullif(sum(blocked), 0) AS block_precision,
       CAST(sum(blocked * is_fraud) AS DOUBLE) / nullif(sum(is_fraud), 0) AS block_recall
FROM labelled
GROUP BY bucket_start
ORDER BY bucket_start
