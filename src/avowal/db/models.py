"""Import every domain's tables so Alembic and tests see the whole schema."""

from avowal.audit.models import AuditEntry, AuditHead
from avowal.callers.models import ServiceToken
from avowal.db.base import Base
from avowal.lifecycle.models import PolicyVersion
from avowal.vault.models import BlindIndex, Disclosure, PersonalValue, Receipt, Subject

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Base",
    "BlindIndex",
    "Disclosure",
    "PersonalValue",
    "PolicyVersion",
    "Receipt",
    "ServiceToken",
    "Subject",
]
