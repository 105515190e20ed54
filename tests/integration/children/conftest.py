"""Children tests share the mail tests' SMTP server on loopback, its certificate and the clock."""

from tests.integration.mail.conftest import certificate, frozen

__all__ = ["certificate", "frozen"]
