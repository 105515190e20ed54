"""Build the human-readable policy, clause by clause, from a loaded policy file."""

from __future__ import annotations

from avowal.policy import wording as w
from avowal.policy.checks import purposes_of
from avowal.policy.content import (
    Blocks,
    Document,
    Inline,
    Line,
    Link,
    Section,
    Strong,
    Subsection,
)
from avowal.policy.loader import LoadedPolicy
from avowal.policy.practices import Practices
from avowal.policy.schemas import FieldType, Storage
from avowal.promises.ids import INFO, PromiseId
from avowal.rights import contact

# Every section a policy can have, in reading order; absent parts of a policy omit a few.
SECTION_IDS = (
    "introduction",
    "collection",
    "recipients",
    "legal-disclosures",
    "analytics",
    "communications",
    "children",
    "cookies",
    "security",
    "staff-access",
    "retention",
    "changes",
    "your-rights",
    "contact",
)

COMMUNICATIONS = "marketing.communications"


def short_version(version_id: str) -> str:
    """Return the short form of a version id shown to readers."""
    return version_id[:12]


class Clauses(Practices):
    """The sections about what is collected, who receives it, and when it is disclosed."""

    def introduction(self) -> Section:
        """Say whose policy this is, which version, and from when."""
        b = Blocks()
        org = self.p.organisation
        name: Inline = Link(org.name, str(org.website)) if org.website else org.name
        b.para("This is the privacy policy of ", name, ".", promise=INFO)
        if self.p.policy.introduction:
            b.para(self.p.policy.introduction, promise=INFO)
        b.para(
            f"This version takes effect on {w.date(self.p.policy.effective)}; every earlier "
            "version stays on record.",
            promise=PromiseId.versions_kept,
        )
        if self.p.policy.use_constitutes_consent:
            # What using the site means for the visitor, not something avowal does.
            b.para(
                "By using this site, you consent to the collection of information in "
                "accordance with the terms of this privacy policy.",
                promise=INFO,
            )
        return Section("introduction", "About this policy", b.done())

    def collection(self) -> Section:
        """Describe each collection point: its fields, how each is kept, and why."""
        b = Blocks()
        c = self.p.commitments
        if c.knowing_collection_only:
            b.para(
                "We do not collect any personally identifying information about you unless you "
                "knowingly and specifically give it to us. Personal data reaches us only through "
                "the forms described below; anything a form does not list is refused and not "
                "stored.",
                promise=PromiseId.knowing_collection,
            )
        if c.purpose_limitation:
            b.para(
                "What you give us is used only for the purposes listed with it.",
                promise=PromiseId.purpose_bound_reads,
            )
        if not self.p.collection_points:
            b.para(
                "We do not collect personal data through any form.",
                promise=PromiseId.knowing_collection,
            )
        subs = [self.collection_point(name) for name in self.p.collection_points]
        return Section("collection", "What we collect and why", b.done(), tuple(subs))

    def collection_point(self, name: str) -> Subsection:
        """Describe one collection point."""
        point = self.p.collection_points[name]
        b = Blocks()
        if point.description:
            b.para(w.sentence(point.description), promise=INFO)
        subjects = [self.t.label("data_subjects", s) for s in point.subjects]
        b.para(f"Filled in by: {w.joined(subjects, 'or')}.", promise=INFO)
        b.para("What you give us here:", promise=INFO)
        items: list[Line] = []
        for field_name, field in point.fields.items():
            line: list[Inline] = [
                Strong(field.label or field_name, category=field.category),
                ": ",
                "required" if field.required else "optional",
                f"; {w.STORAGE[field.storage]}",
            ]
            if field.lookup:
                line.append("; we can find your records by it")
            extra = [u for u in purposes_of(self.p, name, field_name) if u not in point.purposes]
            if extra:
                line.append(f". Also used {w.joined([self.purpose(u) for u in extra])}")
            line.append(".")
            items.append(tuple(line))
        b.bullets(items, promise=PromiseId.storage_rules)
        b.para("We use everything you give here:", promise=PromiseId.purpose_bound_reads)
        b.bullets(
            [(self.purpose(u),) for u in point.purposes], promise=PromiseId.purpose_bound_reads
        )
        if point.recipients:
            names = [(self.p.recipients[r].name, f"#recipient-{r}") for r in point.recipients]
            b.para(
                "What you give here is also passed to: ",
                *_links(names),
                ".",
                promise=PromiseId.announced_recipients,
            )
        else:
            b.para(
                "Nothing you give here goes to any outside party.",
                promise=PromiseId.announced_recipients,
            )
        kids = self.p.children
        if kids is not None and point.admits_minors:
            b.para(
                f"If you are under {kids.under}, your parent or guardian must agree first (see ",
                Link("Children", "#children"),
                ").",
                promise=PromiseId.parental_consent,
            )
        elif kids is not None:
            b.para(f"Only for people aged {kids.under} or over.", promise=PromiseId.age_gate)
        return Subsection(f"collect-{name}", point.title, b.done())

    def recipients(self) -> Section:
        """List every outside party that may receive personal data, and when."""
        b = Blocks()
        if self.p.commitments.no_undisclosed_recipients:
            b.para(
                "We will not disclose personal information about you to any outside party unless "
                "we told you of it before you gave us that information: each form above names "
                "the parties that will receive what you give there.",
                promise=PromiseId.announced_recipients,
            )
        if self.p.commitments.never_sold:
            b.para(
                "Information collected from individual site visitors is never shared, "
                "rented or sold.",
                promise=PromiseId.never_sold,
            )
        if not self.p.recipients:
            b.para(
                "No outside party receives personal data from us.",
                promise=PromiseId.announced_recipients,
            )
        subs = []
        for name, rec in self.p.recipients.items():
            r = Blocks()
            r.para(
                f"What it is: {w.RECIPIENT_KINDS[rec.kind]}. Based in {w.country(rec.country)}.",
                promise=INFO,
            )
            if rec.description:
                r.para(w.sentence(rec.description), promise=INFO)
            points = [
                (p.title, f"#collect-{n}")
                for n, p in self.p.collection_points.items()
                if name in p.recipients
            ]
            if points:
                r.para(
                    "Receives data you give at: ",
                    *_links(points),
                    ", as you are told there.",
                    promise=PromiseId.announced_recipients,
                )
            if name in self.p.legal_disclosures.recipients:
                r.para(
                    "Receives data only in the ",
                    Link("disclosures required by law", "#legal-disclosures"),
                    " described below.",
                    promise=PromiseId.legal_disclosures,
                )
            if not points and name not in self.p.legal_disclosures.recipients:
                r.para(
                    "No form names it, so it receives no personal data.",
                    promise=PromiseId.announced_recipients,
                )
            if rec.purposes:
                uses = w.joined([self.purpose(u) for u in rec.purposes], "or")
                r.para(f"It may use the data only {uses}.", promise=PromiseId.recipient_purposes)
            subs.append(Subsection(f"recipient-{name}", rec.name, r.done()))
        return Section("recipients", "Who receives your data", b.done(), tuple(subs))

    def legal_disclosures(self) -> Section:
        """Describe the disclosures reserved by law, and how each is approved."""
        b = Blocks()
        ld = self.p.legal_disclosures
        if not ld.grounds:
            b.para(
                "We reserve no right to disclose personal information beyond what this "
                "policy announces.",
                promise=PromiseId.legal_disclosures,
            )
            return Section("legal-disclosures", "Disclosures required by law", b.done())
        b.para(
            "We reserve the right to access and disclose individually identifiable information:",
            promise=PromiseId.legal_disclosures,
        )
        b.bullets([(w.GROUNDS[g],) for g in ld.grounds], promise=PromiseId.legal_disclosures)
        if ld.recipients:
            names = [
                f"{self.p.recipients[r].name} ({w.country(self.p.recipients[r].country)})"
                for r in ld.recipients
            ]
            b.para(
                f"Such disclosures go only to: {w.joined(names)}.",
                promise=PromiseId.legal_disclosures,
            )
        check = (
            ", and a second privacy officer must approve it before anything is disclosed"
            if ld.four_eyes
            else ""
        )
        b.para(
            "Each request is registered with the authority that made it, its reference, its "
            f"legal basis and the data it covers{check}. Every disclosure is recorded.",
            promise=PromiseId.legal_four_eyes if ld.four_eyes else PromiseId.legal_disclosures,
        )
        return Section("legal-disclosures", "Disclosures required by law", b.done())

    def communications(self) -> Section:
        """Say which data is used to write to people, the kinds of messages, and how to stop."""
        b = Blocks()
        items: list[Line] = []
        for name, point in self.p.collection_points.items():
            labels: list[str] = []
            uses: list[str] = []
            for field_name, field in point.fields.items():
                found = [
                    u
                    for u in purposes_of(self.p, name, field_name)
                    if self.t.is_within(u, COMMUNICATIONS)
                ]
                if found:
                    labels.append(field.label or field_name)
                    uses.extend(u for u in found if u not in uses)
            if labels:
                what = (
                    "everything you give there"
                    if len(labels) == len(point.fields)
                    else w.joined(labels)
                )
                items.append(
                    (
                        Strong(point.title),
                        f": {what}, used {w.joined([self.purpose(u) for u in uses])}.",
                    )
                )
        kinds = self.kinds_of_messages()
        if not items and not kinds:
            b.para(
                "We do not use your data to send you news or service updates.",
                promise=PromiseId.purpose_bound_reads,
            )
        if items:
            b.para(
                "We use some of what you give us to write to you:",
                promise=PromiseId.purpose_bound_reads,
            )
            b.bullets(items, promise=PromiseId.purpose_bound_reads)
        if kinds:
            b.para(
                "The kinds of messages we may send you, each only to people who gave us their "
                "e-mail address for its purpose:",
                promise=PromiseId.purpose_bound_reads,
            )
            b.bullets(kinds, promise=PromiseId.purpose_bound_reads)
        if items:
            b.para(
                "You can unsubscribe at any time: every such message has a link that "
                "unsubscribes you in one click, and we then stop writing to you for its "
                "purpose (every kind of message sent for it).",
                promise=PromiseId.one_click_unsubscribe,
            )
        return Section("communications", "Service updates and news", b.done())

    def kinds_of_messages(self) -> list[Line]:
        """List the declared kinds of messages that an e-mail address is collected for."""
        emails = [
            u
            for name, point in self.p.collection_points.items()
            for field_name, field in point.fields.items()
            if field.type is FieldType.email and field.storage is Storage.full
            for u in purposes_of(self.p, name, field_name)
        ]
        return [
            (
                Strong(kind.title),
                f": {w.sentence(kind.description)} Sent {self.purpose(kind.purpose)}.",
            )
            for kind in self.p.communications.values()
            if any(self.t.is_within(kind.purpose, u) for u in emails)
        ]

    def your_rights(self) -> Section | None:
        """Say what a person can do about their data, and where."""
        b = Blocks()
        if not self.p.commitments.privacy_center:
            b.para(
                "To see, correct or erase what we hold about you, write to us (see Questions).",
                promise=INFO,
            )
            if contact.fields_of(self.loaded) is None:
                return None
        else:
            self.privacy_center(b)
        if contact.fields_of(self.loaded) is not None:
            b.para(
                "You can also ask us a question, or ask us to act on your data, with ",
                Link("our form", "/privacy/contact"),
                ". We answer within one month of receiving it. If your request is complex or "
                "one of many, we may take up to two more months: we then tell you why within "
                "the first month.",
                promise=PromiseId.requests_answered,
            )
        return Section("your-rights", "Your rights", b.done())

    def privacy_center(self, b: Blocks) -> None:
        """Say what the privacy center shows and lets a person do."""
        b.para(
            "You can see everything we hold about you in your ",
            Link("privacy center", "/privacy/me"),
            ": each value you gave us, what we use it for, who receives it, how long we keep "
            "it, the receipt of each form you filled in and every disclosure of your data. "
            "There you can also:",
            promise=PromiseId.privacy_center,
        )
        b.bullets(
            [
                ("Download all of it, as a file for computers (JSON) or as a page to keep.",),
                ("Correct a value: the old one is destroyed and you get a new receipt.",),
                (
                    "Withdraw a use you agreed to that our service does not need: it stops at "
                    "once, and what you gave us only for it is destroyed.",
                ),
                ("Object to our messages, as the link in each of them does.",),
                (
                    "Erase your account: we destroy the key your data is encrypted with, and "
                    "confirm it by e-mail.",
                ),
            ],
            promise=PromiseId.privacy_center,
        )
        b.para(
            "To sign in, give the e-mail address you gave us: we send it a link that works "
            "once, for 15 minutes. We answer the same whether or not we hold the address.",
            promise=PromiseId.privacy_center,
        )

    def contact(self) -> Section:
        """Say how to reach the organisation with questions."""
        b = Blocks()
        org = self.p.organisation
        address = str(org.privacy_contact)
        b.para(
            "We welcome any questions regarding our privacy policy. We can be reached by "
            "e-mail at ",
            Link(address, f"mailto:{address}"),
            ".",
            promise=INFO,
        )
        if org.postal_address:
            b.para(f"Or write to us by post: {org.postal_address}", promise=INFO)
        return Section("contact", "Questions", b.done())


def _links(targets: list[tuple[str, str]]) -> list[Inline]:
    """Link each (text, href) in turn, joined as prose: a, b and c."""
    out: list[Inline] = []
    for i, (text, href) in enumerate(targets):
        if i:
            out.append(" and " if i == len(targets) - 1 else ", ")
        out.append(Link(text, href))
    return out


def build(loaded: LoadedPolicy) -> Document:
    """Build the human-readable policy from a loaded policy file."""
    c = Clauses(loaded)
    sections = [
        c.introduction(),
        c.collection(),
        c.recipients(),
        c.legal_disclosures(),
        c.analytics(),
        c.communications(),
        c.children(),
        c.cookies(),
        c.security(),
        c.staff_access(),
        c.retention(),
        c.changes(),
        c.your_rights(),
        c.contact(),
    ]
    meta = loaded.policy.policy
    return Document(
        title=meta.title,
        organisation=loaded.policy.organisation.name,
        effective=w.date(meta.effective),
        effective_iso=meta.effective.isoformat(),
        version=short_version(loaded.version_id),
        version_id=loaded.version_id,
        sections=tuple(s for s in sections if s is not None),
    )
