"""Import every domain's tables so Alembic and tests see the whole schema."""

from avowal.analytics.models import (
    DailyRollup,
    Event,
    HourlyRollup,
    RollupState,
    Salt,
    ScrubCounter,
    Site,
)
from avowal.audit.models import AuditEntry, AuditHead, AuditVerification
from avowal.callers.models import ServiceToken
from avowal.children.models import ParentalConsent
from avowal.consent.models import CookieConsent, CookieConsentLink, CookieScan
from avowal.db.base import Base
from avowal.legal.models import BreakGlass, LegalRequest, SubjectNotice
from avowal.lifecycle.models import Acceptance, ChangeNotification, PolicyVersion
from avowal.mail.models import OutboxMessage
from avowal.mail.news_models import Objection
from avowal.ops.models import WorkerHeartbeat
from avowal.promises.models import Attestation
from avowal.rights.models import Case, PersonGrant
from avowal.staff.models import Acknowledgement, Enrolment, LoginAttempt, StaffAccount, StaffSession
from avowal.vault.models import (
    BlindIndex,
    Disclosure,
    PersonalValue,
    Receipt,
    RetentionRun,
    Subject,
)

__all__ = [
    "Acceptance",
    "Acknowledgement",
    "Attestation",
    "AuditEntry",
    "AuditHead",
    "AuditVerification",
    "Base",
    "BlindIndex",
    "BreakGlass",
    "Case",
    "ChangeNotification",
    "CookieConsent",
    "CookieConsentLink",
    "CookieScan",
    "DailyRollup",
    "Disclosure",
    "Enrolment",
    "Event",
    "HourlyRollup",
    "LegalRequest",
    "LoginAttempt",
    "Objection",
    "OutboxMessage",
    "ParentalConsent",
    "PersonGrant",
    "PersonalValue",
    "PolicyVersion",
    "Receipt",
    "RetentionRun",
    "RollupState",
    "Salt",
    "ScrubCounter",
    "ServiceToken",
    "Site",
    "StaffAccount",
    "StaffSession",
    "Subject",
    "SubjectNotice",
    "WorkerHeartbeat",
]
