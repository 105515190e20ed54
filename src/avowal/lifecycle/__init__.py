"""Policy versions: which policy was in force when."""
