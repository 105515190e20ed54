"""The rules that make a change material: it needs people's explicit consent, not continued use.

A change is material when it lets data already given be used for more, shown to more, kept
longer, or when it weakens the protection of children: a collection point gains a purpose or a
recipient, a retention grows, the children's rule loosens, a cookie category is added. Each rule
is one small function; :data:`RULES` lists them once, and :func:`judge` asks each in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from avowal.lifecycle.delta import Area, Delta, Kind
from avowal.policy.checks import purposes_of
from avowal.policy.loader import LoadedPolicy

# When a retention period starts counting: a later start keeps the data longer.
RETENTION_START = ("collection", "last_activity", "account_closure")
EXPLICIT = "data given earlier needs the person's explicit consent"


@dataclass(frozen=True)
class Verdict:
    """A rule's judgement of a change, in plain words."""

    material: bool
    reason: str


@dataclass(frozen=True)
class Pair:
    """The two policies a change lies between."""

    old: LoadedPolicy
    new: LoadedPolicy


Test = Callable[[Delta, Pair], Verdict | None]


@dataclass(frozen=True)
class Rule:
    """One material-change rule: a stable code, what it says, and its test."""

    code: str
    label: str
    test: Test


def _covering(pair: Pair, point: str, field: str | None, purpose: str) -> str | None:
    """Return a purpose the point already had that covers ``purpose`` for every field, if any."""
    before = pair.old.policy.collection_points[point]
    after = pair.new.policy.collection_points[point]
    fields = [field] if field is not None else list(after.fields)
    cover: str | None = None
    for name in fields:
        had = before.purposes
        if name in before.fields:
            had = purposes_of(pair.old.policy, point, name)
        found = next((p for p in had if pair.old.taxonomy.is_within(purpose, p)), None)
        if found is None:
            return None
        cover = cover or found
    return cover


def point_gains_purpose(delta: Delta, pair: Pair) -> Verdict | None:
    """A collection point (or one of its fields) gains a purpose no purpose it had covers."""
    path = delta.path
    if not (path[0] == "collection_points" and delta.area is Area.purpose):
        return None
    if delta.kind is not Kind.added or not isinstance(delta.after, str):
        return None
    point, purpose = path[1], delta.after
    field = path[3] if path[2] == "field_purposes" else None
    cover = _covering(pair, point, field, purpose)
    if cover is not None:
        return Verdict(False, f"{purpose} is within {cover}, which {delta.key} already had")
    return Verdict(True, f"{delta.key} gains the purpose {purpose}: {EXPLICIT}")


def point_gains_recipient(delta: Delta, pair: Pair) -> Verdict | None:
    """A collection point discloses to a recipient it did not before."""
    if delta.path[0] != "collection_points" or delta.area is not Area.recipient:
        return None
    if delta.kind is not Kind.added:
        return None
    return Verdict(True, f"{delta.key} gains the recipient {delta.after}: {EXPLICIT}")


def retention_rule_removed(delta: Delta, pair: Pair) -> Verdict | None:
    """A retention rule is removed, so the data it limited may be kept longer."""
    if delta.path != ("retention", delta.path[-1]) or delta.kind is not Kind.removed:
        return None
    return Verdict(
        True, f"the retention rule for {delta.path[1]} is removed: that data may be kept longer"
    )


def retention_days_grow(delta: Delta, pair: Pair) -> Verdict | None:
    """A retention period gets longer (a rule's days, or raw analytics events)."""
    grows = delta.path[0] == "retention" and delta.path[-1] == "days"
    grows |= delta.path == ("analytics", "raw_retention_days")
    if not grows or delta.kind is not Kind.changed:
        return None
    if not (isinstance(delta.before, int) and isinstance(delta.after, int)):
        return None
    if delta.after <= delta.before:
        return None
    longer = f"kept {delta.after} days instead of {delta.before}"
    return Verdict(True, f"{delta.key}: {longer}, longer than promised")


def retention_starts_later(delta: Delta, pair: Pair) -> Verdict | None:
    """A retention period starts counting later (collection < last activity < account closure)."""
    if delta.path[0] != "retention" or delta.path[-1] != "after":
        return None
    if delta.before not in RETENTION_START or delta.after not in RETENTION_START:
        return None
    if RETENTION_START.index(str(delta.after)) <= RETENTION_START.index(str(delta.before)):
        return None
    return Verdict(
        True,
        f"{delta.key}: counted from {str(delta.after).replace('_', ' ')} instead of "
        f"{str(delta.before).replace('_', ' ')}, so kept longer",
    )


def children_rule_removed(delta: Delta, pair: Pair) -> Verdict | None:
    """The children's section is removed: no parent's consent is asked any more."""
    if delta.path != ("children",) or delta.kind is not Kind.removed:
        return None
    return Verdict(True, "children no longer need a parent's consent")


def children_age_lowered(delta: Delta, pair: Pair) -> Verdict | None:
    """The age below which a parent must consent is lowered (or the promise dropped)."""
    if delta.path not in (("children", "under"), ("commitments", "parental_consent_under")):
        return None
    if delta.after is None and delta.before is not None:
        return Verdict(True, "the promise of a parent's consent for children is dropped")
    if not (isinstance(delta.before, int) and isinstance(delta.after, int)):
        return None
    if delta.after >= delta.before:
        return None
    return Verdict(
        True,
        f"children aged {delta.after} to {delta.before - 1} no longer need a parent's consent",
    )


def children_wait_longer(delta: Delta, pair: Pair) -> Verdict | None:
    """A child's data is kept longer while waiting for the parent."""
    if delta.path != ("children", "wait_days") or delta.kind is not Kind.changed:
        return None
    if not (isinstance(delta.before, int) and isinstance(delta.after, int)):
        return None
    if delta.after <= delta.before:
        return None
    return Verdict(
        True,
        f"a child's data is kept {delta.after} days waiting for a parent, not {delta.before}",
    )


def children_consent_method_changed(delta: Delta, pair: Pair) -> Verdict | None:
    """Parents are asked for consent in another way than was promised."""
    if delta.path != ("children", "consent_method"):
        return None
    return Verdict(True, f"a parent's consent is asked by {delta.after} instead of {delta.before}")


def children_safeguard_weakened(delta: Delta, pair: Pair) -> Verdict | None:
    """The parent is confirmed sooner, can refuse less, or age is taken on the child's word."""
    if delta.path[:1] != ("children",) or len(delta.path) < 2:
        return None
    old, new = pair.old.policy.children, pair.new.policy.children
    if old is None or new is None:
        return None
    key = delta.path[1]
    if key == "confirm_after_hours" and new.confirm_after_hours < old.confirm_after_hours:
        return Verdict(
            True,
            f"a child's data is usable {new.confirm_after_hours} hours after the parent agrees, "
            f"not {old.confirm_after_hours}",
        )
    dropped = sorted(set(old.optional_purposes) - set(new.optional_purposes))
    if key == "optional_purposes" and dropped:
        return Verdict(True, f"parents may no longer refuse {', '.join(dropped)}")
    if key == "age_question" and old.age_question != new.age_question == "declaration":
        return Verdict(True, "age is taken on the person's word instead of their date of birth")
    return None


def point_admits_minors(delta: Delta, pair: Pair) -> Verdict | None:
    """A collection point starts taking data from children."""
    if delta.path[0] != "collection_points" or delta.path[-1] != "admits_minors":
        return None
    if delta.after is not True:
        return None
    return Verdict(True, f"collection point {delta.path[1]} starts admitting children")


def cookie_category_added(delta: Delta, pair: Pair) -> Verdict | None:
    """A cookie of a category the site did not use before."""
    if delta.path[0] != "cookies" or len(delta.path) < 2:
        return None
    if delta.kind is Kind.removed or delta.path[2:] not in ((), ("category",)):
        return None
    cookie = next((c for c in pair.new.policy.cookies if c.name == delta.path[1]), None)
    category = cookie.category if cookie is not None else None
    if category is None or category in {c.category for c in pair.old.policy.cookies}:
        return None
    return Verdict(
        True, f"cookie {delta.path[1]} adds the cookie category {category}, not used before"
    )


# A recipient of these kinds uses what it receives for its own ends.
OWN_ENDS = frozenset({"controller", "buyer", "partner"})


def recipient_receives_more(delta: Delta, pair: Pair) -> Verdict | None:
    """A declared recipient may use data for more purposes or categories, or for its own ends.

    Its name on a notice stays the same, but what the person was told it receives grows.
    """
    path = delta.path
    if path[0] != "recipients" or len(path) < 3:
        return None
    if path[2] in ("purposes", "categories") and delta.kind is Kind.added:
        what = "purpose" if path[2] == "purposes" else "data category"
        return Verdict(True, f"{path[1]} may receive data for the {what} {delta.after}: {EXPLICIT}")
    if path[2] == "kind" and delta.after in OWN_ENDS and delta.before not in OWN_ENDS:
        return Verdict(True, f"{path[1]} becomes a {delta.after}, using data for its own ends")
    return None


def commitment_withdrawn(delta: Delta, pair: Pair) -> Verdict | None:
    """A promise the policy made (never sold, no undisclosed recipients, ...) is withdrawn."""
    if delta.path[0] != "commitments" or delta.kind is not Kind.changed:
        return None
    if delta.before is True and delta.after is False:
        return Verdict(True, f"the promise {delta.key} is withdrawn: {EXPLICIT}")
    return None


RULES: tuple[Rule, ...] = (
    Rule("point_gains_purpose", "A collection point gains a purpose", point_gains_purpose),
    Rule("point_gains_recipient", "A collection point gains a recipient", point_gains_recipient),
    Rule("retention_rule_removed", "A retention rule is removed", retention_rule_removed),
    Rule("retention_days_grow", "A retention period grows", retention_days_grow),
    Rule("retention_starts_later", "A retention period starts later", retention_starts_later),
    Rule("children_rule_removed", "The children's rule is removed", children_rule_removed),
    Rule("children_age_lowered", "The children's age is lowered", children_age_lowered),
    Rule("children_wait_longer", "Parents are waited for longer", children_wait_longer),
    Rule(
        "children_consent_method_changed",
        "Parents' consent is asked another way",
        children_consent_method_changed,
    ),
    Rule(
        "children_safeguard_weakened",
        "A parent is confirmed sooner, can refuse less, or age is declared",
        children_safeguard_weakened,
    ),
    Rule("point_admits_minors", "A collection point admits children", point_admits_minors),
    Rule("cookie_category_added", "A cookie category is added", cookie_category_added),
    Rule("recipient_receives_more", "A recipient may receive more", recipient_receives_more),
    Rule("commitment_withdrawn", "A promise is withdrawn", commitment_withdrawn),
)
RULE_CODES = frozenset(rule.code for rule in RULES)


def judge(delta: Delta, pair: Pair) -> tuple[Rule | None, Verdict]:
    """Return the first rule with a verdict on ``delta``; without one the change is not material."""
    for rule in RULES:
        verdict = rule.test(delta, pair)
        if verdict is not None:
            return rule, verdict
    return None, Verdict(False, "")
