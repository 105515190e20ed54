"""Keys and ciphers: per-person data keys wrapped by a master key, blind indexes, signatures."""
