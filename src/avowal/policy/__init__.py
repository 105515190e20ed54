"""The machine-readable privacy policy: schema, checks, rendering."""
