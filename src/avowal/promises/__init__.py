"""The promise ledger: every promise the page can state, the mechanism keeping it, its evidence."""
