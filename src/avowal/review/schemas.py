"""The internal review as data: every figure the printed report and the JSON carry.

The field order below is the order of the JSON keys and of the report's sections.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from avowal.promises.schemas import PromiseReview


class InventoryField(BaseModel):
    name: str
    label: str | None
    category: str
    category_name: str
    storage: str
    lookup: bool


class RetentionRule(BaseModel):
    category: str | None
    purpose: str | None
    days: int
    after: str
    reason: str | None


class InventoryPoint(BaseModel):
    """One collection point: what it collects, from how many living people, kept how long."""

    point: str
    title: str
    purposes: list[str]
    recipients: list[str]
    fields: list[InventoryField]
    people: int
    retention: list[RetentionRule]


class Inventory(BaseModel):
    people: int
    erased: int
    points: list[InventoryPoint]


class ActorAccesses(BaseModel):
    """Allowed accesses of one caller (staff member, service token or break-glass grant)."""

    actor: str
    roles: list[str]
    break_glass: bool
    total: int
    reads: int
    by_action: dict[str, int]
    outlier: bool


class PurposeAccesses(BaseModel):
    actor: str
    purpose: str | None
    count: int


class Accesses(BaseModel):
    rule: str
    total: int
    median_reads: float | None
    actors: list[ActorAccesses]
    by_purpose: list[PurposeAccesses]
    outliers: list[str]


class RefusedAccess(BaseModel):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    subject_id: str | None
    purpose: str | None
    reason: str | None


class BreakGlassUse(BaseModel):
    id: str
    account: str
    justification: str
    started_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    state: str
    accesses: int
    entries: int
    by_action: dict[str, int]


class LegalDisclosure(BaseModel):
    id: str
    authority: str
    reference: str
    recipient: str
    status: str
    requested_by: str
    decided_by: str | None
    self_approved: bool
    requested_at: dt.datetime
    deadline: dt.date
    exported_at: dt.datetime | None
    export_sha256: str | None
    people: int
    fields: list[str]
    may_notify: bool
    confidential_until: dt.date | None
    never_notify: bool
    notices_scheduled: int
    notices_sent: int
    overdue: bool


class Account(BaseModel):
    id: int
    email: str
    kind: str
    role: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    disabled_at: dt.datetime | None
    enrolled_at: dt.datetime | None
    last_login_at: dt.datetime | None


class Accounts(BaseModel):
    """Accounts needing attention. Active means neither disabled nor expired."""

    total: int
    active: int
    confidentiality_version: str
    stale_after_days: int
    expired: list[Account]
    disabled: list[Account]
    never_enrolled: list[Account]
    stale: list[Account]
    missing_acknowledgement: list[Account]
    contractors_without_expiry: list[Account]


class OverdueRequest(BaseModel):
    id: str
    authority: str
    reference: str
    status: str
    deadline: dt.date
    days_late: int


class OverdueNotice(BaseModel):
    id: str
    subject_id: str
    kind: str
    due_at: dt.datetime


class Overdue(BaseModel):
    legal_requests: list[OverdueRequest]
    notices: list[OverdueNotice]


class AuditCheck(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    first_bad: int | None
    problem: str | None
    checkpoints_checked: bool
    checkpoints: int
    latest_checkpoint: int | None
    checkpoint_problems: list[str]


class QuarantineExample(BaseModel):
    """An analytics event set aside: where and why, never a value it held."""

    site: str
    day: dt.date
    stage: str
    field: str | None
    reason: str
    quarantined_at: dt.datetime


class AnalyticsQuarantine(BaseModel):
    """Stored analytics events the worker could not roll up, set aside so the rest went on."""

    total: int
    by_site: dict[str, int]
    examples: list[QuarantineExample]


class FailedMail(BaseModel):
    """A message that failed for good: it needs an operator (`avowal mail retry ID`)."""

    id: str
    kind: str
    purpose: str | None
    attempts: int
    last_error: str | None
    failed_at: dt.datetime | None


class Mail(BaseModel):
    """The mail outbox: where mail goes, messages by status, the failed ones."""

    transport: str
    by_status: dict[str, int]
    failed: list[FailedMail]


class PendingParentalConsent(BaseModel):
    """A parental consent request still waiting for the parent: never the parent or the child."""

    request: str  # the request id's first 8 characters
    point: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    overdue: bool  # past its expiry: the worker should have erased the child


class Children(BaseModel):
    """Parental consent requests: how many in each status, the pending ones."""

    under: int
    wait_days: int
    by_status: dict[str, int]  # every status, zeros included
    pending: list[PendingParentalConsent]


class OverdueCase(BaseModel):
    """An open case past its due date: its reference and dates, never who wrote or what."""

    number: int
    kind: str
    opened_at: dt.datetime
    due: dt.date
    days_late: int


class Cases(BaseModel):
    """People's questions and rights requests: open, overdue, closed, archived."""

    open: int
    overdue: int
    closed: int
    archived: int
    overdue_cases: list[OverdueCase]


class RetentionRunFigures(BaseModel):
    """One run of the retention rules over the vault: when, and how much it did (counts only)."""

    started_at: dt.datetime
    finished_at: dt.datetime
    values_destroyed: int
    purposes_removed: int
    people: int


class Retention(BaseModel):
    """The policy's retention rules and the last time the worker applied them to the vault."""

    rules: int
    last_run: RetentionRunFigures | None  # None: never run


class CookieScan(BaseModel):
    """The last run of `avowal cookies scan`: when, which pages, and what it found."""

    at: dt.datetime
    pages: list[str]
    findings: int
    by_kind: dict[str, int]  # undeclared, before_consent, after_rejection, no_banner
    ok: bool


class Review(BaseModel):
    """The internal review of the organisation's practices over a period."""

    organisation: str
    policy_version: str
    generated_at: dt.datetime
    since: dt.date | None
    internal_review_days: int
    inventory: Inventory
    accesses: Accesses
    refused: list[RefusedAccess]
    break_glass: list[BreakGlassUse]
    legal_disclosures: list[LegalDisclosure]
    accounts: Accounts
    overdue: Overdue
    audit: AuditCheck
    analytics_quarantine: AnalyticsQuarantine
    mail: Mail
    children: Children | None = None  # only when the policy has a children section
    cases: Cases
    retention: Retention
    promises: list[PromiseReview] = []
    last_cookie_scan: CookieScan | None
    notes: list[str]
