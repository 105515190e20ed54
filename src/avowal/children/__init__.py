"""Children: the age gate at collection points and verifiable parental consent (e-mail plus)."""
