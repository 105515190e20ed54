"""Staff: accounts, sign-in with TOTP, sessions, confidentiality acknowledgements."""
