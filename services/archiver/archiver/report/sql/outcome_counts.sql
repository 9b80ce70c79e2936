-- title: Outcome counts
-- Decisions by outcome, with each outcome's share of all decisions.
SELECT outcome,
       count(*) AS decisions,
       CAST(count(*) AS DOUBLE) / (SELECT count(*) FROM decisions) AS share
FROM decisions
GROUP BY outcome
ORDER BY outcome
