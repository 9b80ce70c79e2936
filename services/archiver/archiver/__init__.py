"""fraudstream archiver: decisions to the data lake as Parquet, and SQL reports over it."""
