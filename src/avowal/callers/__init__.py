"""Who calls the API: service tokens of site back ends, each holding a role of the policy."""
