"""The person's side: the privacy center, their rights, and requests handled as cases."""
