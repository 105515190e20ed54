"""Cookie-less page analytics: tracker, durable ingest, rollups, dashboard."""
