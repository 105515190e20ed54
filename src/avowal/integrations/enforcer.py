"""The state both middlewares share: the policy (loaded once), the report of undeclared
cookies, the counters, and the rule that an internal error never fails the site's response."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from avowal.integrations import rules
from avowal.integrations.rules import Reason, Visitor
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.policy.schemas import Policy

log = logging.getLogger("avowal.integrations")

# A site that invents cookie names (one per session, say) must not grow the report forever:
# past this many distinct names the rest are counted together under OTHERS.
MAX_NAMES = 1000
OTHERS = "(others)"
NO_CONSENT = Visitor(consent=None, gpc=False)

PolicySource = LoadedPolicy | Path | str


def load(source: PolicySource) -> Policy:
    """Return the policy of ``source``: a LoadedPolicy, or the path of a policy YAML file."""
    if isinstance(source, LoadedPolicy):
        return source.policy
    return load_file(Path(source)).policy


@dataclass
class Metrics:
    """Counters readable from Python: undeclared cookie names seen, dropped headers by
    category, and internal errors (each of which let the response pass untouched)."""

    undeclared: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    errors: int = 0


class Enforcer:
    """Judge ``Set-Cookie`` headers for one visitor at a time; safe to share between threads."""

    def __init__(self, policy: PolicySource) -> None:
        self.policy = load(policy)
        self.metrics = Metrics()
        self._lock = threading.Lock()

    def visitor(self, cookie_headers: list[str], sec_gpc: str | None) -> Visitor:
        """Read the visitor's choice; on an internal error, no consent (it was not shown)."""
        try:
            return rules.visitor(self.policy, cookie_headers, sec_gpc)
        except Exception as exc:
            self.failed("reading the consent cookie", exc)
            return NO_CONSENT

    def keep(self, visitor: Visitor, set_cookie: str) -> bool:
        """Tell whether one ``Set-Cookie`` header value may pass; keep it when undecidable."""
        try:
            name = rules.set_cookie_name(set_cookie)
            decision = rules.allowed(self.policy, visitor.consent, visitor.gpc, name)
        except Exception as exc:
            self.failed("judging a Set-Cookie header", exc)
            return True
        if decision.reason is Reason.undeclared:
            self._report(name)
        elif not decision.keep:
            category = decision.category.value if decision.category is not None else "none"
            with self._lock:
                self.metrics.dropped[category] += 1
        return decision.keep

    def failed(self, stage: str, exc: Exception) -> None:
        """Log an internal error by its type only: a message or traceback could hold values."""
        with self._lock:
            self.metrics.errors += 1
        log.error("avowal consent middleware: %s failed (%s); passed unchanged", stage, _kind(exc))

    def _report(self, name: str) -> None:
        with self._lock:
            counts = self.metrics.undeclared
            if name not in counts and len(counts) >= MAX_NAMES:
                name = OTHERS
            first = name not in counts
            counts[name] += 1
        if first:
            log.warning(
                "cookie %r is set by the site but not declared in the policy: declare it under "
                "cookies (with its category) or stop setting it",
                name[:200],
            )


def _kind(exc: Exception) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"
