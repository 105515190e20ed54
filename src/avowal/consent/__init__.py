"""Cookie consent: the banner, server-side proof, Global Privacy Control and Set-Cookie rules."""
