"""Sections of the human-readable policy about practices: analytics, children, cookies,
security, staff access, retention and changes."""

from __future__ import annotations

from avowal.policy import wording as w
from avowal.policy.content import Blocks, Code, Inline, Line, Link, Section, Strong
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import AgeQuestion, CookieCategory, ParentalConsentMethod, StaffKind
from avowal.promises.ids import INFO, PromiseId, Tag

HASHING = {"argon2id": "Argon2id"}
# How a change is announced (changes.notify_by), and the promise each way makes.
NOTIFY_PROMISES = {
    "posting": PromiseId.change_posting,
    "banner": PromiseId.change_notice_banner,
    "email": PromiseId.change_notice_email,
}

# How forms open to children ask age, to know whether a parent must agree.
AGE_QUESTIONS = {
    AgeQuestion.birth_date: "we ask your date of birth",
    AgeQuestion.declaration: "we ask whether you are under {under}",
}


def _delay(hours: int) -> str:
    """Write a delay in hours, in days when it is whole days: 36 hours, 1 day, 2 days."""
    if hours % 24 == 0:
        return w.days(hours // 24)
    return "1 hour" if hours == 1 else f"{hours} hours"


class Practices:
    """Build the practice sections of one policy."""

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.loaded = loaded
        self.p = loaded.policy
        self.t = loaded.taxonomy

    def purpose(self, key: str) -> str:
        """Say why data is used, in the policy's own words for the purpose."""
        declared = self.p.purposes.get(key)
        return declared.description if declared else self.t.label("data_uses", key)

    def category(self, key: str) -> str:
        """Name a data category."""
        return self.t.label("data_categories", key)

    def analytics(self) -> Section:
        """Describe page-visit analytics: what is counted, what is not kept, and for how long."""
        b = Blocks()
        a = self.p.analytics
        if not a.enabled:
            b.para(
                "We do not collect information about which pages you visit.",
                promise=PromiseId.analytics_off,
            )
            return Section("analytics", "Which pages you visit", b.done())
        where = f" on {w.joined([s.domain for s in a.sites])}" if a.sites else ""
        b.para(f"We collect general information on what pages visitors view{where}.", promise=INFO)
        b.para(f"We use it {self.purpose(a.purpose)}.", promise=INFO)
        if a.description:
            b.para(w.sentence(a.description), promise=INFO)
        if a.cookieless:
            b.para(
                "This counting sets no cookie and stores nothing on your device. It holds no "
                "personal data: no IP address, no name, no e-mail address. Visitors are told "
                f"apart by a code that changes every {a.salt_rotation_hours} hours and cannot "
                "be traced back to you.",
                promise=PromiseId.analytics_cookieless,
            )
        else:
            b.para(
                "This counting uses the analytics cookie listed under Cookies, which you may "
                "refuse.",
                promise=PromiseId.cookie_refusal,
            )
        kept: list[Inline] = ["Of each page address we keep only the page itself"]
        for i, param in enumerate(sorted({q for s in a.sites for q in s.keep_query_params})):
            kept.append(" and the campaign tags " if i == 0 else ", ")
            kept.append(Code(param))
        kept.append("; anything that could identify you, such as an e-mail address, is removed.")
        b.para(*kept, promise=PromiseId.analytics_scrubbing)
        excluded = sorted({x for s in a.sites for x in s.exclude_paths})
        if excluded:
            b.para(
                f"We do not count visits to: {w.joined(excluded)}.",
                promise=PromiseId.analytics_scrubbing,
            )
        b.para(
            f"We keep the record of individual page visits for {w.days(a.raw_retention_days)}; "
            "after that only totals remain.",
            promise=PromiseId.analytics_retention,
        )
        return Section("analytics", "Which pages you visit", b.done())

    def children(self) -> Section | None:
        """Explain the parental consent children need, or omit the section."""
        kids = self.p.children
        if kids is None:
            return None
        b = Blocks()
        b.para(
            f"If you are under {kids.under}, be sure to obtain your parent's or guardian's "
            "permission before you send any personal information to us or anyone else over "
            "the Internet.",
            promise=INFO,
        )
        b.para(
            f"How we ask for their permission: {w.CONSENT_METHODS[kids.consent_method]}.",
            promise=PromiseId.parental_consent,
        )
        link = (
            " They answer with a link in it."
            if kids.consent_method is ParentalConsentMethod.email_plus
            else ""
        )
        b.para(
            "Your parent or guardian gets an e-mail that says exactly what you gave us, why we "
            f"want it and how long we would keep it.{link}",
            promise=PromiseId.parental_consent,
        )
        b.para(
            "After they agree, a second message confirms it "
            f"{_delay(kids.confirm_after_hours)} later. Only then do we use your data, and only "
            "for the purposes they agreed to.",
            promise=PromiseId.parental_consent,
        )
        if kids.optional_purposes:
            uses = w.joined([self.purpose(u) for u in kids.optional_purposes], "or")
            b.para(
                f"They may agree to the rest and still say no to our using your data {uses}.",
                promise=PromiseId.parental_consent,
            )
        b.para(
            "Until your parent or guardian agrees, what you gave us stays locked: we use it "
            "for nothing and disclose it to no one. If they refuse, or do not answer within "
            f"{w.days(kids.wait_days)}, we erase it. They can also withdraw their permission "
            "later.",
            promise=PromiseId.parental_consent,
        )
        points = self.p.collection_points.values()
        open_ = [p.title for p in points if p.admits_minors]
        adults = [p.title for p in points if not p.admits_minors]
        if open_:
            b.para(
                f"Forms open to people under {kids.under}, with that permission: "
                f"{w.joined(open_)}.",
                promise=PromiseId.age_gate,
            )
            asked = AGE_QUESTIONS[kids.age_question].format(under=kids.under)
            b.para(
                f"To know whether you need that permission, {asked}.",
                promise=PromiseId.parental_consent,
            )
        if adults:
            b.para(
                f"Forms only for people aged {kids.under} or over: {w.joined(adults)}.",
                promise=PromiseId.age_gate,
            )
        if kids.guidance:
            b.para(w.sentence(kids.guidance), promise=INFO)
        return Section("children", "Children", b.done())

    def cookies(self) -> Section:
        """List every cookie in a table, and the choices a visitor has."""
        b = Blocks()
        b.para(
            "A cookie is a small piece of information that is sent to your browser from a web "
            "server and stored on your device.",
            promise=INFO,
        )
        if not self.p.cookies:
            b.para("We use no cookies.", promise=PromiseId.cookies_declared)
            return Section("cookies", "Cookies", b.done())
        rows: list[tuple[Line, ...]] = []
        for c in self.p.cookies:
            category = w.COOKIE_CATEGORIES[c.category] if c.category else "Not categorised"
            why = w.sentence(c.description or self.purpose(c.purpose))
            rows.append(
                ((Code(c.name),), (c.provider,), (category,), (w.lifetime(c.lifetime),), (why,))
            )
        b.table(
            "Cookies we use",
            ("Name", "Provider", "Category", "Lifetime", "Purpose"),
            rows,
            promise=PromiseId.cookies_declared,
        )
        rules = self.p.cookie_rules
        if rules.can_refuse:
            needed = any(c.category is CookieCategory.strictly_necessary for c in self.p.cookies)
            but = ", except those strictly necessary for the site to work" if needed else ""
            b.para(
                f"You may refuse cookies, category by category{but}. The site keeps working "
                "when you do.",
                promise=PromiseId.cookie_refusal,
            )
            if rules.refusal_consequence:
                b.para(w.sentence(rules.refusal_consequence), promise=INFO)
        else:
            b.para(
                "This site does not offer a choice about its cookies; your browser may still "
                "block them.",
                promise=INFO,
            )
        if rules.honour_global_privacy_control:
            b.para(
                "If your browser sends the Global Privacy Control signal, we take it as your "
                "refusal of every cookie that is not strictly necessary, without asking.",
                promise=PromiseId.global_privacy_control,
            )
        return Section("cookies", "Cookies", b.done())

    def security(self) -> Section:
        """Describe the security measures the policy commits to."""
        b = Blocks()
        s = self.p.security
        b.para(
            "We take appropriate security measures to protect against unauthorized access to "
            "or unauthorized alteration, disclosure or destruction of data:",
            promise=INFO,
        )
        items: list[tuple[Tag, Line]] = []
        if s.tls_required:
            items.append(
                (
                    PromiseId.tls,
                    (
                        "Passwords and personal data travel only over secure connections "
                        "encrypted with TLS (the successor of SSL).",
                    ),
                )
            )
        common = " and common passwords are refused" if s.password.reject_common else ""
        items.append(
            (
                PromiseId.password_hashing,
                (
                    f"Passwords are stored only as {HASHING[s.password.hashing]} hashes, never "
                    f"as themselves. A password needs at least {s.password.min_length} "
                    f"characters{common}.",
                ),
            )
        )
        if s.encryption_at_rest:
            items.append(
                (
                    PromiseId.encryption_at_rest,
                    (
                        "The personal data we keep is encrypted on disk with a key of its own "
                        "for each person; erasing your data destroys its key.",
                    ),
                )
            )
        if s.mfa_for_personal_data:
            items.append(
                (
                    PromiseId.staff_mfa,
                    (
                        "Staff who can see personal data sign in with a second factor as well "
                        "as their password.",
                    ),
                )
            )
        items.append(
            (
                PromiseId.internal_review,
                (
                    "We review our data collection, storage and processing practices and our "
                    f"security measures internally every {w.days(s.internal_review_days)}.",
                ),
            )
        )
        if s.physical_security:
            items.append((PromiseId.physical_security, (w.sentence(s.physical_security),)))
        b.tagged_bullets(items)
        return Section("security", "How we protect your data", b.done())

    def staff_access(self) -> Section:
        """Say which staff may see personal data, for what, and under which agreement."""
        b = Blocks()
        st = self.p.staff
        org = self.p.organisation.name
        people = [r for r in st.roles.values() if not r.service]
        kinds = [k for k in StaffKind if any(k in r.kinds for r in people)]
        who = w.joined([w.STAFF_KINDS[k] for k in kinds]) or "staff"
        if self.p.commitments.staff_need_to_know:
            b.para(
                f"We restrict access to personal information to {org} {who} who need to know "
                "that information for their work. Each role below sees only the data "
                "collected for the purposes listed with it; someone without a role sees "
                "nothing.",
                promise=PromiseId.staff_need_to_know,
            )
        b.bullets(
            [self.role_line(r.title, r.description, r.purposes, r.kinds) for r in people],
            promise=PromiseId.staff_need_to_know,
        )
        services = [r for r in st.roles.values() if r.service]
        if services:
            b.para(
                "Our own systems use data within the same limits:", promise=PromiseId.service_roles
            )
            b.bullets(
                [self.role_line(r.title, r.description, r.purposes, []) for r in services],
                promise=PromiseId.service_roles,
            )
        if any(k in kinds for k in (StaffKind.contractor, StaffKind.agent)):
            b.para(
                "Access for contractors and agents ends after at most "
                f"{w.days(st.max_contractor_days)} unless it is renewed.",
                promise=PromiseId.contractor_expiry,
            )
        bg = st.break_glass
        if bg.roles:
            holders = w.joined([st.roles[r].title for r in bg.roles if r in st.roles], "or")
            approval = ", approved by a second person," if bg.approval_required else ""
            b.para(
                f"In an emergency, to operate our systems, {holders} staff may open access to "
                f"more data{approval} for at most {bg.max_minutes} minutes, stating why; "
                "every such access is recorded and flagged in our internal reviews.",
                promise=PromiseId.break_glass,
            )
        b.para(
            "These individuals are bound by confidentiality obligations.",
            promise=PromiseId.confidentiality_contract,
        )
        b.para(
            "Before anyone can see personal data, they must accept our confidentiality "
            "agreement (version ",
            Code(st.confidentiality.version),
            "), which reads:",
            promise=PromiseId.confidentiality_acknowledged,
        )
        b.quote(st.confidentiality.text, promise=PromiseId.confidentiality_acknowledged)
        return Section("staff-access", f"Who at {org} can see your data", b.done())

    def role_line(
        self, title: str, description: str | None, purposes: list[str], kinds: list[StaffKind]
    ) -> Line:
        """Describe one role: who holds it and which purposes it may see data for."""
        line: list[Inline] = [Strong(title)]
        if kinds:
            line.append(f" ({w.joined([w.STAFF_KINDS[k] for k in kinds])})")
        line.append(": ")
        if description:
            line.append(w.sentence(description) + " ")
        if purposes:
            uses = w.joined([self.purpose(u) for u in purposes], "or")
            line.append(f"Sees only data collected {uses}.")
        else:
            line.append("Sees no personal data.")
        return tuple(line)

    def retention(self) -> Section:
        """State each retention rule in plain words."""
        b = Blocks()
        items: list[tuple[Tag, Line]] = []
        for rule in self.p.retention:
            if rule.category is not None:
                cat = rule.category
                fields = [
                    f"{f.label or n} at {p.title}"
                    for p in self.p.collection_points.values()
                    for n, f in p.fields.items()
                    if self.t.is_within(f.category, cat)
                ]
                # The fields it covers, in the policy's own words; the category's taxonomy name
                # only when no field falls under it.
                what = w.joined(fields) if fields else self.category(cat)
            else:
                what = f"Data collected {self.purpose(rule.purpose or '')}"
            reason = f" — {rule.reason.rstrip('.')}" if rule.reason else ""
            line = f"{what}: erased {w.days(rule.days)} {w.AFTER[rule.after]}{reason}."
            items.append((PromiseId.retention, (line,)))
        a = self.p.analytics
        if a.enabled:
            visits = (
                "Records of individual page visits: erased after "
                f"{w.days(a.raw_retention_days)}; only totals remain.",
            )
            items.append((PromiseId.analytics_retention, visits))
        if items:
            b.para(
                "We keep personal data only as long as these rules allow, then erase it:",
                promise=PromiseId.retention if self.p.retention else items[0][0],
            )
            b.tagged_bullets(items)
        else:
            b.para("This policy sets no fixed retention periods.", promise=INFO)
        return Section("retention", "How long we keep your data", b.done())

    def changes(self) -> Section:
        """Explain how changes are announced and accepted."""
        b = Blocks()
        ch = self.p.changes
        b.para("We may change this privacy policy from time to time.", promise=INFO)
        b.para(
            "Each version is kept with its effective date, and the changes between versions can "
            "be compared on ",
            Link("the list of versions", "/privacy/versions"),
            ".",
            promise=PromiseId.versions_kept,
        )
        if ch.notice_days:
            b.para(
                f"We announce a change {w.days(ch.notice_days)} before it takes effect:",
                promise=PromiseId.change_notice_period,
            )
        else:
            b.para("We announce a change when it takes effect:", promise=PromiseId.change_posting)
        b.tagged_bullets([(NOTIFY_PROMISES[n], (f"By {w.NOTIFY_BY[n]}.",)) for n in ch.notify_by])
        b.para("Please check this page periodically for changes.", promise=INFO)
        if ch.continued_use_accepts:
            other = " of changes that are not material" if ch.material_requires_explicit else ""
            b.para(
                "Your continued use of this site following the posting of changes constitutes "
                f"your acceptance{other}; we record it.",
                promise=PromiseId.acceptance_recorded,
            )
        if ch.material_requires_explicit:
            b.para(
                "A material change, one that adds a new purpose for your data or a new party "
                "that receives it, applies to data you gave us earlier only if you explicitly "
                "agree to it.",
                promise=PromiseId.material_change_consent,
            )
        return Section("changes", "Changes to this policy", b.done())
