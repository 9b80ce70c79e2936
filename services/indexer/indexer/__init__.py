"""fraudstream indexer.

Bulk-indexes every decision into OpenSearch for search and the live dashboard.
"""
