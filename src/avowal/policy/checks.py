"""Semantic checks: every key is known and every commitment holds against the rest of the file."""

from __future__ import annotations

from collections.abc import Iterable

from avowal.policy.exceptions import Problem
from avowal.policy.schemas import (
    BREAK_GLASS_GROUNDS,
    COMMUNICATION_FAMILIES,
    AgeQuestion,
    CollectedField,
    CookieCategory,
    CustomKey,
    FieldType,
    ParentalConsentMethod,
    Policy,
    RecipientKind,
    Storage,
)
from avowal.policy.suggest import close, did_you_mean
from avowal.policy.taxonomy import Node, Taxonomy, default_taxonomy, is_within
from avowal.policy.wording import joined

# The promise each commitment stands for, in the words a reader of the policy knows.
PROMISES = {
    "knowing_collection_only": "personal data is collected only when knowingly and specifically "
    "supplied (commitments.knowing_collection_only)",
    "purpose_limitation": "personal data is used only for the purposes indicated "
    "(commitments.purpose_limitation)",
    "no_undisclosed_recipients": "no disclosure to an outside party unless the person was advised "
    "before providing the data (commitments.no_undisclosed_recipients)",
    "never_sold": "information is never shared, rented or sold (commitments.never_sold)",
    "parental_consent_under": "children need their parents' or guardians' permission "
    "(commitments.parental_consent_under)",
    "staff_need_to_know": "only staff who need to know see personal data, under confidentiality "
    "(commitments.staff_need_to_know)",
    "encrypted_transport": "passwords travel over SSL/TLS (commitments.encrypted_transport)",
    "cookie_choice": "you may refuse cookies by category (cookie_rules.can_refuse)",
    "security": "appropriate security measures protect personal data (security)",
}

SALE_OR_SHARING_USES = ("third_party_sharing", "marketing.advertising.third_party")
SALE_OR_SHARING_KINDS = (RecipientKind.buyer, RecipientKind.partner)
# The field category a birth_date age question reads; the service itself, never optional.
DATE_OF_BIRTH = "user.demographic.date_of_birth"
ESSENTIAL = "essential"
# Suggestions cost a comparison with every known name: a file with thousands of unknown names
# gets them for its first ones only.
MAX_SUGGESTIONS = 200


class _Checker:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.problems: list[Problem] = []
        self.taxonomy = default_taxonomy()
        self.suggestions_left = MAX_SUGGESTIONS

    def close(self, name: str, known: Iterable[str]) -> list[str]:
        """Return the names ``name`` was probably meant to be, while the budget lasts."""
        if self.suggestions_left <= 0:
            return []
        self.suggestions_left -= 1
        return close(name, known)

    def add(
        self,
        location: str,
        message: str,
        promise: str | None = None,
        meant: list[str] | None = None,
    ) -> None:
        """Record a problem; ``meant`` are the names a mistyped one was probably meant to be."""
        meant = meant or []
        self.problems.append(
            Problem(
                location,
                message + did_you_mean(meant),
                PROMISES.get(promise or "", promise),
                suggestion=meant[0] if meant else None,
            )
        )

    # -- taxonomy -------------------------------------------------------------------------
    def declare_custom(self) -> None:
        t = self.policy.taxonomy
        groups: list[tuple[str, list[CustomKey], dict[str, Node]]] = [
            ("data_categories", t.data_categories, self.taxonomy.data_categories),
            ("data_uses", t.data_uses, self.taxonomy.data_uses),
            ("data_subjects", t.data_subjects, self.taxonomy.data_subjects),
        ]
        for group, items, known in groups:
            for i, item in enumerate(items):
                loc = f"taxonomy.{group}[{i}]"
                if item.key in known:
                    self.add(f"{loc}.key", f"'{item.key}' is already a key of the taxonomy")
                elif item.parent not in known:
                    self.add(f"{loc}.parent", f"unknown parent key '{item.parent}' in {group}")
                elif item.key == item.parent or not is_within(item.key, item.parent):
                    self.add(
                        f"{loc}.key", f"a custom key must start with its parent, '{item.parent}.'"
                    )
                else:
                    known[item.key] = Node(item.key, item.name, item.description or "", item.parent)

    def known(self, kind: str, key: str, location: str) -> bool:
        if key in getattr(self.taxonomy, kind):
            return True
        label = {
            "data_categories": "data category",
            "data_uses": "data use",
            "data_subjects": "data subject",
        }[kind]
        meant = self.close(key, getattr(self.taxonomy, kind))
        self.problems.append(
            Problem(
                location,
                f"unknown {label} '{key}'{did_you_mean(meant)} (not in the fideslang default "
                f"taxonomy nor declared under taxonomy.{kind})",
                suggestion=meant[0] if meant else None,
            )
        )
        return False

    def declared_purpose(self, key: str, location: str, promise: str) -> None:
        if not self.known("data_uses", key, location):
            return
        if key not in self.policy.purposes:
            self.add(
                location,
                f"purpose '{key}' is not declared under purposes",
                promise,
                meant=self.close(key, self.policy.purposes),
            )

    # -- sections -------------------------------------------------------------------------
    def purposes(self) -> None:
        for key in self.policy.purposes:
            self.known("data_uses", key, f"purposes.{key}")

    def collection_points(self) -> None:
        p = self.policy
        for name, point in p.collection_points.items():
            loc = f"collection_points.{name}"
            for i, subject in enumerate(point.subjects):
                self.known("data_subjects", subject, f"{loc}.subjects[{i}]")
            for i, purpose in enumerate(point.purposes):
                self.declared_purpose(purpose, f"{loc}.purposes[{i}]", "purpose_limitation")
            for field_name, extra in point.field_purposes.items():
                if field_name not in point.fields:
                    self.add(
                        f"{loc}.field_purposes.{field_name}",
                        f"no field '{field_name}' at this collection point",
                        meant=self.close(field_name, point.fields),
                    )
                for i, purpose in enumerate(extra):
                    self.declared_purpose(
                        purpose, f"{loc}.field_purposes.{field_name}[{i}]", "purpose_limitation"
                    )
            for field_name, field in point.fields.items():
                floc = f"{loc}.fields.{field_name}"
                self.known("data_categories", field.category, f"{floc}.category")
                undeclared = [u for u in purposes_of(p, name, field_name) if u not in p.purposes]
                if undeclared:
                    self.add(
                        floc,
                        "the field's purposes are not declared under purposes: "
                        + ", ".join(undeclared),
                        "purpose_limitation",
                    )
                if field.type is FieldType.card and field.storage is Storage.full:
                    self.add(
                        f"{floc}.storage",
                        "card numbers are never stored in full: use last4, hash or none",
                        "security",
                    )
                if field.type is FieldType.password and field.storage is not Storage.none:
                    self.add(
                        f"{floc}.storage",
                        "passwords belong to the site's own sign-in, "
                        "not the vault: use storage none",
                        "security",
                    )
                if field.lookup and field.storage not in (Storage.full, Storage.hash):
                    self.add(f"{floc}.lookup", "a lookup field must be stored full or hash")
            for i, rec in enumerate(point.recipients):
                if rec not in p.recipients:
                    self.add(
                        f"{loc}.recipients[{i}]",
                        f"recipient '{rec}' is announced in this "
                        "notice but not declared under recipients",
                        "no_undisclosed_recipients",
                        meant=self.close(rec, p.recipients),
                    )
            if point.admits_minors and p.children is None:
                self.add(
                    f"{loc}.admits_minors",
                    "this collection point admits minors but the "
                    "policy has no children section with an age threshold",
                    "parental_consent_under",
                )

    def recipients(self) -> None:
        p = self.policy
        for name, rec in p.recipients.items():
            loc = f"recipients.{name}"
            for i, purpose in enumerate(rec.purposes):
                self.declared_purpose(purpose, f"{loc}.purposes[{i}]", "purpose_limitation")
            if p.commitments.never_sold and rec.kind in SALE_OR_SHARING_KINDS:
                self.add(
                    f"{loc}.kind",
                    f"a recipient of kind '{rec.kind.value}' receives "
                    "personal data by sale or sharing",
                    "never_sold",
                )
        ld = p.legal_disclosures
        for i, rec_name in enumerate(ld.recipients):
            declared = p.recipients.get(rec_name)
            if declared is None:
                self.add(
                    f"legal_disclosures.recipients[{i}]",
                    f"recipient '{rec_name}' is not declared under recipients",
                    "no_undisclosed_recipients",
                    meant=self.close(rec_name, p.recipients),
                )
            elif declared.kind is not RecipientKind.authority:
                self.add(
                    f"legal_disclosures.recipients[{i}]",
                    f"legal disclosures go to authorities; '{rec_name}' is a {declared.kind.value}",
                    "no_undisclosed_recipients",
                )

    def announced_recipients(self) -> None:
        """A recipient announced at a collection point is declared for some of what it gets there.

        A disclosure needs both the notice (recipient announced, purpose covered) and the
        recipient's own declaration (purpose and data category): an announcement that no
        declaration can ever match promises the person nothing true.
        """
        p = self.policy
        within = self.taxonomy.is_within
        for name, rec in p.recipients.items():
            for i, category in enumerate(rec.categories):
                self.known("data_categories", category, f"recipients.{name}.categories[{i}]")
        for point_name, point in p.collection_points.items():
            categories = sorted({f.category for f in point.fields.values()})
            uses = sorted({u for f in point.fields for u in purposes_of(p, point_name, f)})
            for i, rec_name in enumerate(point.recipients):
                declared = p.recipients.get(rec_name)
                if declared is None:
                    continue  # reported by collection_points()
                loc = f"collection_points.{point_name}.recipients[{i}]"
                if not any(within(c, d) for c in categories for d in declared.categories):
                    self.add(
                        loc,
                        f"recipient '{rec_name}' is announced here but declared for none of the "
                        f"data categories collected here ({', '.join(categories)}): declare what "
                        f"it receives under recipients.{rec_name}.categories",
                        "no_undisclosed_recipients",
                    )
                if not any(within(u, d) or within(d, u) for u in uses for d in declared.purposes):
                    self.add(
                        loc,
                        f"recipient '{rec_name}' is announced here but declared for none of the "
                        f"purposes of this collection ({', '.join(uses)}): declare them under "
                        f"recipients.{rec_name}.purposes",
                        "no_undisclosed_recipients",
                    )

    def never_sold(self) -> None:
        if not self.policy.commitments.never_sold:
            return
        for loc, use in self.all_uses():
            if any(self.taxonomy.is_within(use, bad) for bad in SALE_OR_SHARING_USES):
                self.add(loc, f"data use '{use}' shares or sells personal data", "never_sold")

    def all_uses(self) -> Iterable[tuple[str, str]]:
        p = self.policy
        for key in p.purposes:
            yield f"purposes.{key}", key
        for name, point in p.collection_points.items():
            for i, use in enumerate(point.purposes):
                yield f"collection_points.{name}.purposes[{i}]", use
            for fname, uses in point.field_purposes.items():
                for i, use in enumerate(uses):
                    yield f"collection_points.{name}.field_purposes.{fname}[{i}]", use
        for name, rec in p.recipients.items():
            for i, use in enumerate(rec.purposes):
                yield f"recipients.{name}.purposes[{i}]", use
        for i, cookie in enumerate(p.cookies):
            yield f"cookies[{i}].purpose", cookie.purpose
        for name, role in p.staff.roles.items():
            for i, use in enumerate(role.purposes):
                yield f"staff.roles.{name}.purposes[{i}]", use

    def cookies(self) -> None:
        for i, cookie in enumerate(self.policy.cookies):
            loc = f"cookies[{i}]"
            if cookie.category is None:
                self.add(
                    loc,
                    f"cookie '{cookie.name}' has no category, so no one can refuse it",
                    "cookie_choice",
                )
            self.declared_purpose(cookie.purpose, f"{loc}.purpose", "purpose_limitation")
        self.consent_cookie()

    def consent_cookie(self) -> None:
        rules = self.policy.cookie_rules
        cookies = self.policy.cookies
        name = rules.consent_cookie
        optional = [
            c for c in cookies if c.category not in (None, CookieCategory.strictly_necessary)
        ]
        if name is None:
            if rules.can_refuse and optional:
                self.add(
                    "cookie_rules.consent_cookie",
                    "cookies may be refused, so a strictly necessary cookie must remember the "
                    "choice: declare it and name it here",
                    "cookie_choice",
                )
            return
        found = next((c for c in cookies if c.name == name), None)
        if found is None:
            self.add(
                "cookie_rules.consent_cookie",
                f"'{name}' is not a cookie declared under cookies",
                "cookie_choice",
                meant=self.close(name, [c.name for c in cookies]),
            )
        elif found.category is not CookieCategory.strictly_necessary or "*" in found.name:
            self.add(
                "cookie_rules.consent_cookie",
                f"'{name}' must be declared strictly_necessary, with an exact name: it is set "
                "before any choice",
                "cookie_choice",
            )

    def analytics(self) -> None:
        a = self.policy.analytics
        if a.enabled:
            self.declared_purpose(a.purpose, "analytics.purpose", "purpose_limitation")

    def communications(self) -> None:
        """Each kind of message is for a declared purpose that news may be sent for."""
        p = self.policy
        families = " or ".join(COMMUNICATION_FAMILIES)
        usable = [u for u in p.purposes if any(is_within(u, f) for f in COMMUNICATION_FAMILIES)]
        choose = (
            f"use one of the declared purposes {', '.join(usable)}"
            if usable
            else f"declare a purpose within {families} under purposes and use it"
        )
        for key, kind in p.communications.items():
            loc = f"communications.{key}.purpose"
            if not self.known("data_uses", kind.purpose, loc):
                continue
            if not any(is_within(kind.purpose, f) for f in COMMUNICATION_FAMILIES):
                self.add(
                    loc,
                    f"the kind of message '{key}' is for '{kind.purpose}', but messages are sent "
                    f"only for a use within {families}: {choose}",
                    "purpose_limitation",
                )
            elif kind.purpose not in p.purposes:
                self.add(
                    loc,
                    f"the kind of message '{key}' is for '{kind.purpose}', which is not declared "
                    "under purposes: declare it there"
                    + (
                        f", or use one of the declared purposes {', '.join(usable)}"
                        if usable
                        else ""
                    ),
                    "purpose_limitation",
                )

    def children(self) -> None:
        p = self.policy
        promised = p.commitments.parental_consent_under
        if promised is not None and p.children is None:
            self.add(
                "children",
                f"the policy promises parental consent under {promised} but has "
                "no children section",
                "parental_consent_under",
            )
        elif promised is not None and p.children is not None and p.children.under != promised:
            self.add(
                "children.under",
                f"the threshold {p.children.under} differs from the promised {promised}",
                "parental_consent_under",
            )
        if p.children is not None:
            self.children_email_plus()
            self.children_age_question()
            self.children_optional_purposes()

    def children_email_plus(self) -> None:
        """E-mail plus is enough consent only when children's data never leaves for an outside
        party: a processor acts on our behalf, any other kind of recipient is that party."""
        p = self.policy
        if p.children is None or p.children.consent_method is not ParentalConsentMethod.email_plus:
            return
        for name, point in p.collection_points.items():
            if not point.admits_minors:
                continue
            for rec_name in point.recipients:
                rec = p.recipients.get(rec_name)
                if rec is None or rec.kind is RecipientKind.processor:
                    continue
                self.add(
                    "children.consent_method",
                    f"collection point '{name}' admits minors and announces recipient "
                    f"'{rec_name}' (kind {rec.kind.value}): e-mail plus is allowed only when "
                    "children's data is never disclosed to outside parties (use signed_form, "
                    f"or stop announcing '{rec_name}' at '{name}')",
                    "parental_consent_under",
                )

    def children_age_question(self) -> None:
        """Asking a date of birth needs a required, dated, fully kept date of birth field."""
        p = self.policy
        if p.children is None or p.children.age_question is not AgeQuestion.birth_date:
            return
        for name, point in p.collection_points.items():
            if not point.admits_minors:
                continue
            births = {n: f for n, f in point.fields.items() if is_within(f.category, DATE_OF_BIRTH)}
            if not births:
                self.add(
                    f"collection_points.{name}",
                    "this collection point admits minors and children.age_question is "
                    f"birth_date, but it has no field of category {DATE_OF_BIRTH}: add one "
                    "(type date, required, stored full), or set age_question: declaration",
                    "parental_consent_under",
                )
                continue
            gaps = {n: _birth_date_gaps(f) for n, f in births.items()}
            if all(gaps.values()):
                field_name, missing = next(iter(gaps.items()))
                self.add(
                    f"collection_points.{name}.fields.{field_name}",
                    f"field '{field_name}' asks the age of people under the children threshold "
                    f"(children.age_question: birth_date) but is {joined(missing)}: it must be "
                    "type date, required and stored full",
                    "parental_consent_under",
                )

    def children_optional_purposes(self) -> None:
        """A purpose a parent may refuse is one children's data is collected for, not the
        service itself."""
        p = self.policy
        if p.children is None:
            return
        minors = {n: cp for n, cp in p.collection_points.items() if cp.admits_minors}
        offered = {u for cp in minors.values() for u in cp.purposes} | {
            u for cp in minors.values() for uses in cp.field_purposes.values() for u in uses
        }
        for i, key in enumerate(p.children.optional_purposes):
            loc = f"children.optional_purposes[{i}]"
            if is_within(key, ESSENTIAL):
                self.add(
                    loc,
                    f"'{key}' is essential: the service itself cannot be optional; only a "
                    "purpose outside essential may be refused by a parent",
                    "parental_consent_under",
                )
            elif key not in offered:
                where = ", ".join(sorted(minors)) or "none"
                self.add(
                    loc,
                    f"'{key}' is not a purpose of any collection point that admits minors "
                    f"(those points: {where}): a parent can refuse only a purpose children's "
                    "data is collected for (in its purposes or field_purposes)",
                    "parental_consent_under",
                )

    def staff(self) -> None:
        for name, role in self.policy.staff.roles.items():
            for i, purpose in enumerate(role.purposes):
                self.declared_purpose(
                    purpose, f"staff.roles.{name}.purposes[{i}]", "staff_need_to_know"
                )

    def break_glass(self) -> None:
        st = self.policy.staff
        bg = st.break_glass
        lists = (("roles", bg.roles), ("approvers", bg.approvers), ("notify", bg.notify))
        for key, names in lists:
            for i, name in enumerate(names):
                loc = f"staff.break_glass.{key}[{i}]"
                role = st.roles.get(name)
                if role is None:
                    known = ", ".join(sorted(st.roles))
                    self.add(
                        loc,
                        f"'{name}' is not a role of staff.roles (roles: {known})",
                        meant=self.close(name, st.roles),
                    )
                elif role.service:
                    self.add(loc, f"'{name}' is a service role: break-glass is for staff")
        if not bg.roles:
            return
        if bg.approval_required and not bg.approvers:
            self.add(
                "staff.break_glass.approvers",
                "approval_required needs the roles whose members approve (approvers)",
            )
        grounds = self.policy.legal_disclosures.grounds
        if not any(g in grounds for g in BREAK_GLASS_GROUNDS):
            self.add(
                "staff.break_glass.roles",
                "break-glass needs legal_disclosures.grounds to reserve access to "
                f"{' or '.join(BREAK_GLASS_GROUNDS)}",
                "staff_need_to_know",
            )

    def retention(self) -> None:
        for i, rule in enumerate(self.policy.retention):
            loc = f"retention[{i}]"
            if (rule.category is None) == (rule.purpose is None):
                self.add(loc, "a retention rule names exactly one of category or purpose")
            if rule.category is not None:
                self.known("data_categories", rule.category, f"{loc}.category")
            if rule.purpose is not None:
                self.declared_purpose(rule.purpose, f"{loc}.purpose", "purpose_limitation")

    def security(self) -> None:
        p = self.policy
        if p.commitments.encrypted_transport and not p.security.tls_required:
            self.add(
                "security.tls_required",
                "TLS must be required when the policy promises encrypted transport",
                "encrypted_transport",
            )

    def run(self) -> list[Problem]:
        self.declare_custom()
        self.purposes()
        self.collection_points()
        self.recipients()
        self.announced_recipients()
        self.never_sold()
        self.cookies()
        self.analytics()
        self.communications()
        self.children()
        self.staff()
        self.break_glass()
        self.retention()
        self.security()
        # One problem per location and message, even when two checks reach it.
        return list(dict.fromkeys(self.problems))


def check(policy: Policy) -> tuple[Taxonomy, list[Problem]]:
    """Check a schema-valid policy; return its taxonomy and every problem found."""
    checker = _Checker(policy)
    return checker.taxonomy, checker.run()


def _birth_date_gaps(field: CollectedField) -> list[str]:
    """Say what keeps a date of birth field from telling a child's age."""
    gaps = []
    if field.type is not FieldType.date:
        gaps.append(f"of type {field.type.value}")
    if not field.required:
        gaps.append("not required")
    if field.storage is not Storage.full:
        gaps.append(f"stored {field.storage.value}")
    return gaps


def purposes_of(policy: Policy, point: str, field: str) -> list[str]:
    """Return the purposes a field of a collection point is collected for."""
    cp = policy.collection_points[point]
    return list(dict.fromkeys([*cp.purposes, *cp.field_purposes.get(field, [])]))
