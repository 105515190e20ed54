"""Mail: a durable, encrypted outbox delivered to SMTP or to `.eml` files."""
