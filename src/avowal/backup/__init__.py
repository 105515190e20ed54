"""Backups of the database, and restores that keep every erasure."""
