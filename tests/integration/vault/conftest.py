"""Vault tests share the integration fixtures; the test data lives in tests/factories.py."""

from tests.factories import PURCHASE, REGISTRATION

__all__ = ["PURCHASE", "REGISTRATION"]
