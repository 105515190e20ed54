"""The tamper-evident audit chain: every access to personal data, in order, hash-linked."""
