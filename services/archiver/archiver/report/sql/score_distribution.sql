-- title: Model score by label
-- How many labelled transactions fall in each 50-point band of the model score,
-- for fraud and for legitimate ones (only transactions whose label has arrived).
WITH fraud AS (
    SELECT event_id, max(CASE WHEN label = 'fraud' THEN 1 ELSE 0 END) AS is_fraud
    FROM labels
    GROUP BY event_id
)
SELECT CAST(floor(d.model_score / 50.0) * 50 AS INTEGER) AS score_band,
       CASE WHEN f.is_fraud = 1 THEN 'fraud' ELSE 'legit' END AS label,
       count(*) AS decisions
FROM decisions d
JOIN fraud f ON f.event_id = d.event_id
WHERE d.model_score IS NOT NULL
GROUP BY 1, 2
ORDER BY 1, 2
