"""The internal review: inventory, accesses, anomalies, accounts, overdue work, audit chain."""
