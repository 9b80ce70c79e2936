"""SQL reports over the lake: the same ``sql/*.sql`` run by DuckDB here and by Athena on AWS."""
