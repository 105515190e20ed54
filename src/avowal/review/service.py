"""Build the internal review: inventory, accesses, refusals, break-glass, legal disclosures,
accounts, overdue work, the audit chain, mail, parental consent requests and people's cases,
from the database as it stands.

Building a review reads the audit chain and staff records, never a personal value, so it leaves no
audit entry of its own (one would also change the figures it reports).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections import defaultdict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.analytics import quarantine
from avowal.audit import checkpoints
from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.children import lock as parental
from avowal.children import service as children_service
from avowal.children.models import ParentalConsent
from avowal.consent import scan_store
from avowal.legal import break_glass
from avowal.legal import service as legal
from avowal.legal.export import notice_id
from avowal.legal.models import SubjectNotice
from avowal.lib import clock
from avowal.mail import service as outbox
from avowal.policy.loader import LoadedPolicy
from avowal.promises import service as promises
from avowal.review import schemas as s
from avowal.rights import cases
from avowal.settings import Settings
from avowal.staff.models import Acknowledgement, StaffAccount
from avowal.vault import retention as vault_retention
from avowal.vault.models import PersonalValue, Subject

# Allowed actions that reach a person's data; refusals are reported apart.
ACCESS_ACTIONS = ("read", "lookup", "disclose", "legal_export")
STALE_AFTER_DAYS = 90
OUTLIER_FACTOR = 3
OUTLIER_MIN_READS = 10
OUTLIER_RULE = (
    f"a caller is an outlier when its reads number at least {OUTLIER_MIN_READS} and more than "
    f"{OUTLIER_FACTOR} times the median read count of the callers that read in the period"
)
NO_COOKIE_SCAN = "no cookie scan recorded yet"
NO_RETENTION_RUN = (
    "the retention rules have never been applied to the vault (the mail worker applies them: "
    "`avowal mail send`)"
)


def _since_iso(since: dt.date | None) -> str | None:
    # Audit times are stored as ISO 8601 UTC strings, so a date prefix compares correctly.
    return since.isoformat() if since is not None else None


def inventory(session: Session, loaded: LoadedPolicy) -> s.Inventory:
    """Return each collection point's fields, living people and applicable retention rules."""
    rows = session.execute(
        select(PersonalValue.point, func.count(func.distinct(PersonalValue.subject_id)))
        .join(Subject, Subject.id == PersonalValue.subject_id)
        .where(Subject.erased_at.is_(None))
        .group_by(PersonalValue.point)
    )
    people_at = {point: int(n) for point, n in rows}
    living = session.scalar(select(func.count()).where(Subject.erased_at.is_(None))) or 0
    erased = session.scalar(select(func.count()).where(Subject.erased_at.is_not(None))) or 0
    tax = loaded.taxonomy
    points = []
    for name, cp in loaded.policy.collection_points.items():
        purposes = sorted({*cp.purposes, *(u for us in cp.field_purposes.values() for u in us)})
        categories = {f.category for f in cp.fields.values()}
        rules = [
            s.RetentionRule(
                category=r.category, purpose=r.purpose, days=r.days, after=r.after, reason=r.reason
            )
            for r in loaded.policy.retention
            if (r.category is None or any(tax.is_within(c, r.category) for c in categories))
            and (
                r.purpose is None
                or any(tax.is_within(p, r.purpose) or tax.is_within(r.purpose, p) for p in purposes)
            )
        ]
        points.append(
            s.InventoryPoint(
                point=name,
                title=cp.title,
                purposes=purposes,
                recipients=list(cp.recipients),
                fields=[
                    s.InventoryField(
                        name=f,
                        label=spec.label,
                        category=spec.category,
                        category_name=tax.label("data_categories", spec.category),
                        storage=spec.storage.value,
                        lookup=spec.lookup,
                    )
                    for f, spec in cp.fields.items()
                ],
                people=int(people_at.get(name, 0)),
                retention=rules,
            )
        )
    return s.Inventory(people=int(living), erased=int(erased), points=points)


def accesses(session: Session, since: dt.date | None) -> s.Accesses:
    """Count allowed accesses by caller and by (caller, purpose), and name the outliers."""
    stmt = (
        select(
            AuditEntry.actor, AuditEntry.role, AuditEntry.action, AuditEntry.purpose, func.count()
        )
        .where(AuditEntry.decision == "allow", AuditEntry.action.in_(ACCESS_ACTIONS))
        .group_by(AuditEntry.actor, AuditEntry.role, AuditEntry.action, AuditEntry.purpose)
    )
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= _since_iso(since))
    roles: dict[str, set[str]] = defaultdict(set)
    by_action: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_purpose: dict[tuple[str, str | None], int] = defaultdict(int)
    for actor, role, action, purpose, count in session.execute(stmt):
        roles[actor].add(role)
        by_action[actor][action] += count
        by_purpose[(actor, purpose)] += count
    reads = {a: acts.get("read", 0) for a, acts in by_action.items()}
    readers = [n for n in reads.values() if n > 0]
    median = float(statistics.median(readers)) if readers else None
    outliers = sorted(
        a
        for a, n in reads.items()
        if median is not None and n >= OUTLIER_MIN_READS and n > OUTLIER_FACTOR * median
    )
    actors = [
        s.ActorAccesses(
            actor=a,
            roles=sorted(roles[a]),
            break_glass="[break-glass " in a,
            total=sum(by_action[a].values()),
            reads=reads[a],
            by_action=dict(sorted(by_action[a].items())),
            outlier=a in outliers,
        )
        for a in sorted(by_action)
    ]
    return s.Accesses(
        rule=OUTLIER_RULE,
        total=sum(x.total for x in actors),
        median_reads=median,
        actors=actors,
        by_purpose=[
            s.PurposeAccesses(actor=a, purpose=p, count=n)
            for (a, p), n in sorted(by_purpose.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ],
        outliers=outliers,
    )


def refused(session: Session, since: dt.date | None) -> list[s.RefusedAccess]:
    """Return every refused action of the period, oldest first."""
    stmt = select(AuditEntry).where(AuditEntry.decision == "deny").order_by(AuditEntry.seq)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= _since_iso(since))
    return [
        s.RefusedAccess(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            subject_id=e.subject_id,
            purpose=e.purpose,
            reason=e.reason,
        )
        for e in session.scalars(stmt)
    ]


def break_glass_uses(
    session: Session, since: dt.date | None, now: dt.datetime
) -> list[s.BreakGlassUse]:
    """Return the grants of the period with the audit entries made under each."""
    start = dt.datetime.combine(since, dt.time(0), dt.UTC) if since is not None else None
    grants = break_glass.list_grants(session, now, start)
    counts: dict[str, dict[str, int]] = {g.id: defaultdict(int) for g in grants}
    if grants:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, func.count())
            .where(AuditEntry.actor.contains("[break-glass ", autoescape=True))
            .group_by(AuditEntry.actor, AuditEntry.action)
        )
        for actor, action, count in rows:
            grant_id = actor.rsplit("[break-glass ", 1)[-1].rstrip("]")
            if grant_id in counts:
                counts[grant_id][action] += count
    return [
        s.BreakGlassUse(
            id=g.id,
            account=g.account,
            justification=g.justification,
            started_at=g.started_at,
            expires_at=g.expires_at,
            ended_at=g.ended_at,
            state=g.state,
            accesses=sum(n for a, n in counts[g.id].items() if a in ACCESS_ACTIONS),
            entries=sum(counts[g.id].values()),
            by_action=dict(sorted(counts[g.id].items())),
        )
        for g in grants
    ]


def legal_disclosures(
    session: Session, since: dt.date | None, now: dt.datetime
) -> list[s.LegalDisclosure]:
    """Return the legal requests of the period, and every one still open, with their notices."""
    out = []
    start = dt.datetime.combine(since, dt.time(0), dt.UTC) if since is not None else None
    for req in legal.list_requests(session, now):
        still_open = req.status in ("pending", "approved")
        if start is not None and req.requested_at < start and not still_open:
            continue
        ids = [notice_id(req.id, sid) for sid in req.subject_ids]
        sent_flags = list(
            session.scalars(select(SubjectNotice.sent_at).where(SubjectNotice.id.in_(ids)))
        )
        out.append(
            s.LegalDisclosure(
                id=req.id,
                authority=req.authority,
                reference=req.reference,
                recipient=req.recipient,
                status=req.status,
                requested_by=req.requested_by,
                decided_by=req.decided_by,
                self_approved=req.decided_by is not None and req.decided_by == req.requested_by,
                requested_at=req.requested_at,
                deadline=req.deadline,
                exported_at=req.exported_at,
                export_sha256=req.export_sha256,
                people=len(req.subject_ids),
                fields=req.fields,
                may_notify=req.may_notify,
                confidential_until=req.confidential_until,
                never_notify=req.never_notify,
                notices_scheduled=len(sent_flags),
                notices_sent=sum(1 for f in sent_flags if f is not None),
                overdue=req.overdue,
            )
        )
    return out


def _account(a: StaffAccount) -> s.Account:
    def aware(value: dt.datetime | None) -> dt.datetime | None:
        return clock.aware(value) if value is not None else None

    return s.Account(
        id=a.id,
        email=a.email,
        kind=a.kind,
        role=a.role,
        created_at=clock.aware(a.created_at),
        expires_at=aware(a.expires_at),
        disabled_at=aware(a.disabled_at),
        enrolled_at=aware(a.enrolled_at),
        last_login_at=aware(a.last_login_at),
    )


def accounts(session: Session, loaded: LoadedPolicy, now: dt.datetime) -> s.Accounts:
    """Sort the staff accounts needing attention: expired, disabled, unused, unacknowledged."""
    version = loaded.policy.staff.confidentiality.version
    rows = list(session.scalars(select(StaffAccount).order_by(StaffAccount.email)))
    acked = set(
        session.scalars(
            select(Acknowledgement.account_id).where(Acknowledgement.version == version)
        )
    )
    stale_before = now - dt.timedelta(days=STALE_AFTER_DAYS)

    def expired(a: StaffAccount) -> bool:
        return a.expires_at is not None and clock.aware(a.expires_at) <= now

    active = [a for a in rows if a.disabled_at is None and not expired(a)]
    return s.Accounts(
        total=len(rows),
        active=len(active),
        confidentiality_version=version,
        stale_after_days=STALE_AFTER_DAYS,
        expired=[_account(a) for a in rows if expired(a)],
        disabled=[_account(a) for a in rows if a.disabled_at is not None],
        never_enrolled=[_account(a) for a in active if a.enrolled_at is None],
        stale=[
            _account(a)
            for a in active
            if a.enrolled_at is not None
            and (a.last_login_at is None or clock.aware(a.last_login_at) < stale_before)
        ],
        missing_acknowledgement=[_account(a) for a in active if a.id not in acked],
        contractors_without_expiry=[
            _account(a) for a in active if a.kind != "employee" and a.expires_at is None
        ],
    )


def overdue(session: Session, now: dt.datetime) -> s.Overdue:
    """Return legal requests past their deadline and notices due but not sent."""
    return s.Overdue(
        legal_requests=[
            s.OverdueRequest(
                id=r.id,
                authority=r.authority,
                reference=r.reference,
                status=r.status,
                deadline=r.deadline,
                days_late=(now.date() - r.deadline).days,
            )
            for r in legal.overdue_requests(session, now)
        ],
        notices=[
            s.OverdueNotice(
                id=n.id, subject_id=n.subject_id, kind=n.kind, due_at=clock.aware(n.due_at)
            )
            for n in legal.due_notices(session, now)
        ],
    )


def audit_check(
    session: Session, settings: Settings, public_key: Ed25519PublicKey | None
) -> s.AuditCheck:
    """Verify the whole chain, against the signed checkpoints when the public key is given."""
    marks: list[checkpoints.Checkpoint] = []
    problems: list[str] = []
    if public_key is not None:
        marks, problems = checkpoints.read_all(settings.checkpoint_path, public_key)
    started = time.perf_counter()
    result = audit.verify(session, [(c.seq, c.hash) for c in marks])
    audit.record_verification(
        session, result.count, time.perf_counter() - started, result.ok and not problems
    )
    return s.AuditCheck(
        ok=result.ok and not problems,
        entries=result.count,
        head_seq=result.head_seq,
        first_bad=result.first_bad,
        problem=result.problem,
        checkpoints_checked=public_key is not None,
        checkpoints=len(marks),
        latest_checkpoint=max((c.seq for c in marks), default=None),
        checkpoint_problems=problems,
    )


def analytics_quarantine(session: Session, since: dt.date | None) -> s.AnalyticsQuarantine:
    """Count the analytics events set aside in the period, with a few examples (no values)."""
    found = quarantine.summary(session, since)
    return s.AnalyticsQuarantine(
        total=found.total,
        by_site=found.by_site,
        examples=[s.QuarantineExample(**vars(e)) for e in found.examples],
    )


def mail(session: Session, settings: Settings) -> s.Mail:
    """Count the outbox by status and list the messages that failed for good."""
    found = outbox.summary(session, settings)
    return s.Mail(
        transport=settings.effective_mail_transport,
        by_status=found.by_status,
        failed=[
            s.FailedMail(
                id=m.id,
                kind=m.kind,
                purpose=m.purpose,
                attempts=m.attempts,
                last_error=m.last_error,
                failed_at=m.failed_at,
            )
            for m in found.failed
        ],
    )


def children(session: Session, loaded: LoadedPolicy, now: dt.datetime) -> s.Children | None:
    """Count parental consent requests by status and list the pending ones, soonest expiry first;
    None when the policy admits no children."""
    kids = loaded.policy.children
    if kids is None:
        return None
    # Only these columns: never the sealed parent's address nor the child's id.
    waiting = session.execute(
        select(
            ParentalConsent.id,
            ParentalConsent.point,
            ParentalConsent.requested_at,
            ParentalConsent.expires_at,
        )
        .where(ParentalConsent.status == parental.PENDING)
        .order_by(ParentalConsent.expires_at, ParentalConsent.id)
    )
    return s.Children(
        under=kids.under,
        wait_days=kids.wait_days,
        by_status=children_service.counts(session),
        pending=[
            s.PendingParentalConsent(
                request=row.id[:8],
                point=row.point,
                requested_at=clock.aware(row.requested_at),
                expires_at=clock.aware(row.expires_at),
                overdue=clock.aware(row.expires_at) <= now,
            )
            for row in waiting
        ],
    )


def people_cases(session: Session, now: dt.datetime) -> s.Cases:
    """Count people's cases by state and list the overdue ones, the longest overdue first."""
    found = cases.counts(session, now)
    return s.Cases(
        open=found.open,
        overdue=found.overdue,
        closed=found.closed,
        archived=found.archived,
        overdue_cases=[
            s.OverdueCase(
                number=row.number,
                kind=row.kind,
                opened_at=clock.aware(row.opened_at),
                due=cases.due(row).date(),
                days_late=(now.date() - cases.due(row).date()).days,
            )
            for row in cases.overdue_cases(session, now)
        ],
    )


def _cases_notes(found: s.Cases) -> list[str]:
    if not found.overdue_cases:
        return []
    late = ", ".join(f"{c.number} (due {c.due.isoformat()})" for c in found.overdue_cases)
    return [
        f"{found.overdue} request(s) or question(s) from people are past their due date and "
        f"unanswered (one month, or as extended): {late}; answer them in the console's Requests"
    ]


def retention(session: Session, loaded: LoadedPolicy) -> s.Retention:
    """Return how many retention rules the policy has and the last run that applied them."""
    last = vault_retention.last_run(session)
    return s.Retention(
        rules=len(loaded.policy.retention),
        last_run=None
        if last is None
        else s.RetentionRunFigures(
            started_at=clock.aware(last.started_at),
            finished_at=clock.aware(last.finished_at),
            values_destroyed=last.values_destroyed,
            purposes_removed=last.purposes_removed,
            people=last.people,
        ),
    )


def build(
    session: Session,
    loaded: LoadedPolicy,
    settings: Settings,
    *,
    public_key: Ed25519PublicKey | None,
    since: dt.date | None = None,
    now: dt.datetime | None = None,
) -> s.Review:
    """Build the internal review of the period from ``since`` (everything without) to now."""
    now = clock.current(now)
    review = s.Review(
        organisation=loaded.policy.organisation.name,
        policy_version=loaded.version_id,
        generated_at=now,
        since=since,
        internal_review_days=loaded.policy.security.internal_review_days,
        inventory=inventory(session, loaded),
        accesses=accesses(session, since),
        refused=refused(session, since),
        break_glass=break_glass_uses(session, since, now),
        legal_disclosures=legal_disclosures(session, since, now),
        accounts=accounts(session, loaded, now),
        overdue=overdue(session, now),
        audit=audit_check(session, settings, public_key),
        analytics_quarantine=analytics_quarantine(session, since),
        mail=mail(session, settings),
        children=children(session, loaded, now),
        cases=people_cases(session, now),
        retention=retention(session, loaded),
        promises=promises.review_section(session, settings, loaded, now),
        last_cookie_scan=cookie_scan(session),
        notes=[],
    )
    review.notes.extend(_notes(review))
    return review


def cookie_scan(session: Session) -> s.CookieScan | None:
    """Return the last recorded cookie scan: when, its pages, its findings by kind, and ok."""
    row = scan_store.last(session)
    if row is None:
        return None
    by_kind: dict[str, int] = defaultdict(int)
    for finding in row.findings:
        by_kind[str(finding.get("kind"))] += 1
    return s.CookieScan(
        at=clock.aware(row.at),
        pages=list(row.urls),
        findings=len(row.findings),
        by_kind=dict(by_kind),
        ok=row.ok,
    )


def _notes(review: s.Review) -> list[str]:
    notes = []
    scan = review.last_cookie_scan
    if scan is None:
        notes.append(NO_COOKIE_SCAN)
    elif not scan.ok:
        kinds = ", ".join(f"{n} {kind}" for kind, n in scan.by_kind.items())
        notes.append(
            f"the last cookie scan ({clock.iso(scan.at)}) failed with {scan.findings} "
            f"finding(s): {kinds} (`avowal cookies scan` lists them)"
        )
    if review.analytics_quarantine.total:
        notes.append(
            f"{review.analytics_quarantine.total} analytics event(s) could not be rolled up and "
            "are kept in quarantine until their day's raw events are purged"
        )
    notes.extend(_mail_notes(review.mail))
    if review.retention.rules and review.retention.last_run is None:
        notes.append(NO_RETENTION_RUN)
    if review.children is not None:
        notes.extend(_children_notes(review.children))
    notes.extend(_cases_notes(review.cases))
    if not review.audit.checkpoints_checked:
        notes.append("the audit chain was verified without its signed checkpoints")
    silent = [d.reference for d in review.legal_disclosures if d.never_notify]
    if silent:
        notes.append(
            f"{len(silent)} legal request(s) forbid telling the people concerned with no end "
            f"date: {', '.join(silent)}"
        )
    self_approved = [d.reference for d in review.legal_disclosures if d.self_approved]
    if self_approved:
        notes.append(
            f"{len(self_approved)} legal request(s) were decided by their own requester: "
            f"{', '.join(self_approved)}"
        )
    return notes


def _mail_notes(found: s.Mail) -> list[str]:
    notes = []
    if found.failed:
        notes.append(
            f"{len(found.failed)} message(s) failed for good and need attention "
            "(`avowal mail outbox --status failed`, then `avowal mail retry ID`)"
        )
    waiting = found.by_status.get("queued", 0)
    if found.transport == "none" and waiting:
        notes.append(f"mail is not configured: {waiting} message(s) wait in the outbox")
    return notes


def _children_notes(found: s.Children) -> list[str]:
    late = [p.request for p in found.pending if p.overdue]
    if not late:
        return []
    return [
        f"{len(late)} parental consent request(s) are past their expiry and still pending: "
        f"{', '.join(late)}; the mail worker has not run since (`avowal mail send`), so those "
        "children's data is not erased yet"
    ]
