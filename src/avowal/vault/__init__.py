"""The personal-data vault: notices, collection, receipts, purpose-bound reads, erasure."""
