"""The only place that touches storage: Spark session, Delta reads, writes and merges."""
