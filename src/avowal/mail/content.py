"""What avowal writes: one typed content per kind of message, rendered in the policy's language.

Each kind has three templates under ``mail/templates/<language>/``: ``<kind>.subject.txt`` (one
line), ``<kind>.txt`` (plain text) and ``<kind>.html`` (autoescaped). Every template also gets
``organisation``, the name of the organisation whose policy avowal enforces.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import ClassVar
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from avowal.policy.schemas import Language


@dataclass(frozen=True)
class StaffEnrolment:
    """A staff member's single-use enrolment link."""

    KIND: ClassVar[str] = "staff_enrolment"
    link: str
    hours: int
    role: str


@dataclass(frozen=True)
class LegalNotice:
    """What a person is told after their data was disclosed to answer a legal request."""

    KIND: ClassVar[str] = "legal_notice"
    message: str


@dataclass(frozen=True)
class ChangeNotice:
    """A new version of the policy, told to the people it applies to.

    ``material``: the change needs the person's explicit consent before it reaches data they
    gave earlier. ``diff_url`` is built with :func:`diff_link`.
    """

    KIND: ClassVar[str] = "change_notice"
    effective: dt.date
    diff_url: str
    material: bool
    summary: str | None = None
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParentalRequest:
    """A parent asked to consent to what their child gave: what, why, for how long, the link."""

    KIND: ClassVar[str] = "parental_request"
    point: str
    under: int
    collected: list[str]
    purposes: list[str]
    retention: list[str]
    optional: list[str]
    answer_url: str
    expires: dt.date
    confirm_after_hours: int


@dataclass(frozen=True)
class ParentalConfirmation:
    """The confirmation of a parent's consent, sent after the delay, with the withdrawal link."""

    KIND: ClassVar[str] = "parental_confirmation"
    point: str
    consented: list[str]
    refused: list[str]
    revoke_url: str


@dataclass(frozen=True)
class News:
    """A message staff wrote for a purpose (a service update, a new project), with the way out."""

    KIND: ClassVar[str] = "news"
    subject: str
    text: str
    unsubscribe_url: str
    title: str | None = None  # the title of its kind of message (the policy's communications)


@dataclass(frozen=True)
class PrivacySignIn:
    """A single-use link into the privacy center, asked for on its sign-in page."""

    KIND: ClassVar[str] = "privacy_signin"
    link: str
    minutes: int


@dataclass(frozen=True)
class ErasureDone:
    """The confirmation that a person's account was erased, at their request."""

    KIND: ClassVar[str] = "erasure_done"
    erased_at: str


@dataclass(frozen=True)
class CaseReceived:
    """The acknowledgement of a question or a rights request, with its reference and due date."""

    KIND: ClassVar[str] = "case_received"
    number: int
    kind: str
    due: dt.date


@dataclass(frozen=True)
class IdentityCheck:
    """A link proving the sender of a request controls the address it came from."""

    KIND: ClassVar[str] = "identity_check"
    number: int
    link: str
    days: int


@dataclass(frozen=True)
class CaseAnswer:
    """Staff's answer to a question or a request."""

    KIND: ClassVar[str] = "case_answer"
    number: int
    text: str


@dataclass(frozen=True)
class CaseExtended:
    """The person is told their request's deadline was extended, and why (GDPR Art. 12(3))."""

    KIND: ClassVar[str] = "case_extended"
    number: int
    due: dt.date
    reason: str


Content = (
    News
    | StaffEnrolment
    | LegalNotice
    | ChangeNotice
    | ParentalRequest
    | ParentalConfirmation
    | PrivacySignIn
    | ErasureDone
    | CaseReceived
    | IdentityCheck
    | CaseAnswer
    | CaseExtended
)
KINDS = (
    StaffEnrolment.KIND,
    LegalNotice.KIND,
    ChangeNotice.KIND,
    ParentalRequest.KIND,
    ParentalConfirmation.KIND,
    News.KIND,
    PrivacySignIn.KIND,
    ErasureDone.KIND,
    CaseReceived.KIND,
    IdentityCheck.KIND,
    CaseAnswer.KIND,
    CaseExtended.KIND,
)


@dataclass(frozen=True)
class Rendered:
    """A message's subject line and bodies."""

    subject: str
    text: str
    html: str


def diff_link(public_url: str, old_version: str, new_version: str) -> str:
    """Return the public page showing what changed between two policy versions."""
    query = urlencode({"from": old_version, "to": new_version})
    return f"{public_url.rstrip('/')}/privacy/diff?{query}"


@cache
def _environment() -> Environment:
    # HTML templates are autoescaped (messages quote text typed by people); plain text is not.
    return Environment(
        loader=PackageLoader("avowal.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(content: Content, language: Language, organisation: str) -> Rendered:
    """Render a message's subject line, plain text and HTML in ``language``."""
    env = _environment()
    context = {**asdict(content), "organisation": organisation, "language": language.value}
    base = f"{language.value}/{content.KIND}"
    subject = env.get_template(f"{base}.subject.txt").render(context)
    return Rendered(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{base}.txt").render(context),
        html=env.get_template(f"{base}.html").render(context),
    )
