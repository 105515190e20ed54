"""Forms on the site's own pages, for any web framework: show a point's notice, collect under it.

The site's back end renders a collection point's notice and a hidden ``notice_id`` input in the
form (:func:`notice_html`, :func:`notice_input`, :func:`fields_html`), sends the values with the
notice the person saw (:func:`submit`), and reads them back only for a declared purpose
(:func:`for_purpose`). A notice that changed between showing the form and sending it is never
agreed to on the person's behalf: :func:`submit` returns :class:`NoticeChanged` with the current
notice, for the page to show it again and ask the person to send the form once more.

Everything rendered is escaped; the answers are :class:`markupsafe.Markup`, which Jinja2 and
Django's templates both insert as they are (they honour ``__html__``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

from markupsafe import Markup, escape

from avowal.client import Client, StaleNotice
from avowal.vault.schemas import Collected, Notice, NoticeField, ReadResult

__all__ = [
    "NOTICE_INPUT",
    "NoticeChanged",
    "NoticeNotShown",
    "Stored",
    "banner_tag",
    "fields_html",
    "for_purpose",
    "notice_html",
    "notice_input",
    "submit",
    "tracker_tag",
    "what_changed",
]

P = ParamSpec("P")
R = TypeVar("R")

# The name of the hidden input carrying the notice the person was shown.
NOTICE_INPUT = "notice_id"
_NOTICE_ID = re.compile(r"^[0-9a-f]{64}$")
# HTML input types of the notice's field types; any other type is a text input.
_INPUT_TYPES = {"email": "email", "phone": "tel", "date": "date"}


class NoticeNotShown(ValueError):
    """The form carries no notice id (or not one avowal could have made): nothing was sent."""


@dataclass(frozen=True)
class Stored:
    """The values were collected under the notice shown: the person's id and signed receipt."""

    collected: Collected

    @property
    def subject_id(self) -> str:
        """Return the person's id in the vault."""
        return self.collected.subject_id


@dataclass(frozen=True)
class NoticeChanged:
    """The notice shown is no longer current: nothing was stored.

    Show ``notice`` (the current one) with ``values`` (what the person typed) and ask them to send
    the form again: sending it with ``notice.notice_id`` is their agreement to the new terms.
    ``changes`` says what differs from the notice shown, when the site gave it to :func:`submit`.
    """

    shown_notice_id: str
    notice: Notice
    values: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)


def what_changed(before: Notice, after: Notice) -> list[str]:
    """Return, in words, what ``after`` says that ``before`` did not, and what it stopped saying."""
    out: list[str] = []
    old_uses = {p.key: p.description for p in before.purposes}
    new_uses = {p.key: p.description for p in after.purposes}
    out += [f"New use: {d}" for k, d in new_uses.items() if k not in old_uses]
    out += [f"No longer used: {d}" for k, d in old_uses.items() if k not in new_uses]
    old_to = {r.key: r for r in before.recipients}
    new_to = {r.key: r for r in after.recipients}
    out += [f"Now given to: {r.name} ({r.country})" for k, r in new_to.items() if k not in old_to]
    out += [f"No longer given to: {r.name}" for k, r in old_to.items() if k not in new_to]
    old_fields = {f.name: f for f in before.fields}
    for f in after.fields:
        was = old_fields.get(f.name)
        if was is None:
            out.append(f"New field: {f.label}")
        elif was.required != f.required:
            out.append(f"{f.label} is now {'required' if f.required else 'optional'}")
    asked = {f.name for f in after.fields}
    out += [f"No longer asked: {f.label}" for f in before.fields if f.name not in asked]
    kept = {r.model_dump_json() for r in before.retention}
    for rule in after.retention:
        if rule.model_dump_json() not in kept:
            out.append(f"Kept {rule.days} days after {rule.after.replace('_', ' ')}")
    if (before.organisation, before.privacy_contact) != (after.organisation, after.privacy_contact):
        out.append(f"Asked by {after.organisation} ({after.privacy_contact})")
    return out


def notice_html(
    notice: Notice, *, changed: bool = False, changes: list[str] | None = None
) -> Markup:
    """Return the notice as HTML: who asks, for what, why, who receives it, how long it is kept.

    With ``changed``, it opens with a sentence saying the terms changed since the form was shown,
    and lists ``changes`` (see :func:`what_changed`).
    """
    org = escape(notice.organisation)
    purposes = {p.key: p.description for p in notice.purposes}
    out = [
        Markup('<section class="avowal-notice" data-point="{}" data-notice-id="{}">').format(
            notice.point, notice.notice_id
        ),
        Markup("<h2>{}</h2>").format(notice.title),
    ]
    if changed:
        out.append(
            Markup(
                '<p class="avowal-notice-changed" role="alert">These terms changed since this '
                "form was shown to you. Nothing was saved: read them, then send the form again "
                "to agree to them.</p>"
            )
        )
        if changes:
            out.append(Markup('<ul class="avowal-notice-changes">'))
            out.extend(Markup("<li>{}</li>").format(line) for line in changes)
            out.append(Markup("</ul>"))
    out.append(Markup("<p>{} asks for:</p><ul>").format(org))
    for f in notice.fields:
        uses = "; ".join(purposes.get(p, p) for p in f.purposes)
        need = "required" if f.required else "optional"
        out.append(Markup("<li><strong>{}</strong> ({}): {}</li>").format(f.label, need, uses))
    out.append(Markup("</ul><p>It is used:</p><ul>"))
    out.extend(Markup("<li>{}</li>").format(p.description) for p in notice.purposes)
    out.append(Markup("</ul>"))
    if notice.recipients:
        out.append(Markup("<p>It is given to:</p><ul>"))
        out.extend(
            Markup("<li>{} ({}, {})</li>").format(r.name, r.kind, r.country)
            for r in notice.recipients
        )
        out.append(Markup("</ul>"))
    else:
        out.append(Markup("<p>It is given to no one outside {}.</p>").format(org))
    if notice.retention:
        out.append(Markup("<p>How long it is kept:</p><ul>"))
        for rule in notice.retention:
            kept = f"{rule.days} days after {rule.after.replace('_', ' ')}"
            reason = f": {rule.reason}" if rule.reason else ""
            out.append(Markup("<li>{}{}</li>").format(kept, reason))
        out.append(Markup("</ul>"))
    out.append(Markup("<p>Questions: {}</p></section>").format(notice.privacy_contact))
    return Markup("").join(out)


def notice_input(notice: Notice) -> Markup:
    """Return the hidden input that sends the id of the notice shown with the form."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        NOTICE_INPUT, notice.notice_id
    )


def _field_html(point: str, f: NoticeField, value: str) -> Markup:
    ident = f"avowal-{point}-{f.name}"
    kind = _INPUT_TYPES.get(f.type, "text")
    required = Markup(" required") if f.required else Markup("")
    return Markup(
        '<p><label for="{}">{}</label> <input id="{}" name="{}" type="{}" value="{}"{}></p>'
    ).format(ident, f.label, ident, f.name, kind, value, required)


def fields_html(notice: Notice, values: Mapping[str, str] | None = None) -> Markup:
    """Return a labelled input per field of the notice (filled from ``values``), and its id."""
    values = values or {}
    inputs = [_field_html(notice.point, f, values.get(f.name, "")) for f in notice.fields]
    return Markup("").join([*inputs, notice_input(notice)])


def banner_tag(public_url: str) -> Markup:
    """Return the tag that loads the cookie banner (``/c.js``), as ``avowal cookies tag`` does."""
    # Imported here: the banner module minifies its scripts on import (half a second), a cost
    # the cookie middleware, which imports this package, should not pay.
    from avowal.consent import banner

    return Markup(banner.loader_tag(public_url))


def tracker_tag(public_url: str, domain: str) -> Markup:
    """Return the tag of the cookie-less page analytics tracker (``/a.js``) for a site."""
    return Markup('<script defer data-domain="{}" src="{}/a.js"></script>').format(
        domain, public_url.rstrip("/")
    )


def _shown(form: Mapping[str, str]) -> str:
    shown = form.get(NOTICE_INPUT)
    if not shown:
        raise NoticeNotShown(
            f"the form sent no {NOTICE_INPUT}: render it with notice_input(notice) so the values "
            "are collected under the notice the person saw"
        )
    if not _NOTICE_ID.match(shown):
        raise NoticeNotShown(f"the form's {NOTICE_INPUT} is not a notice id: {shown[:80]!r}")
    return shown


def submit(
    client: Client,
    point: str,
    form: Mapping[str, str],
    *,
    ref: str | None = None,
    subject_id: str | None = None,
    shown_notice: Notice | None = None,
) -> Stored | NoticeChanged:
    """Collect a form's values at ``point`` under the notice it was shown with.

    Only the point's fields are sent (a CSRF token or a button's name stays on the site); an empty
    optional field is left out. Refusals of the values themselves raise the client's errors
    (:class:`avowal.client.InvalidData` names the field). A form with no notice id raises
    :class:`NoticeNotShown`. The person is the site's own user id (``ref``) or their
    ``subject_id`` in the vault: exactly one. Given the notice the form was shown with
    (``shown_notice``, e.g. kept in the session), a :class:`NoticeChanged` lists what changed.
    """
    if (ref is None) == (subject_id is None):
        raise ValueError("give exactly one of ref (the site's user id) or subject_id")
    shown = _shown(form)
    current = client.notice(point)
    values = {f.name: form[f.name] for f in current.fields if form.get(f.name)}
    if shown != current.notice_id:
        return _changed(shown, current, values, shown_notice)
    try:
        collected = client.collect(point, values, ref=ref, subject_id=subject_id, notice_id=shown)
    except StaleNotice:
        # The policy changed between the two calls: show the newer notice, store nothing.
        return _changed(shown, client.notice(point), values, shown_notice)
    return Stored(collected)


def _changed(
    shown: str, current: Notice, values: dict[str, str], shown_notice: Notice | None
) -> NoticeChanged:
    changes: list[str] = []
    if shown_notice is not None and shown_notice.notice_id == shown:
        changes = what_changed(shown_notice, current)
    return NoticeChanged(shown, current, values, changes)


def for_purpose(
    purpose: str, *, fields: list[str] | None = None
) -> Callable[[Callable[Concatenate[ReadResult, P], R]], Callable[Concatenate[Client, str, P], R]]:
    """Decorate a function of a person's data: it is read for ``purpose`` before each call.

    The decorated function is called as ``f(client, subject_id, *args)`` and receives the
    :class:`ReadResult` in place of those two. Values not collected for the purpose are absent
    from ``values`` and listed in ``withheld``; a purpose the client's role is not granted raises
    :class:`avowal.client.PurposeNotAllowed` (its ``purpose`` and ``role`` say which) and the
    function is not called.
    """

    def decorate(
        func: Callable[Concatenate[ReadResult, P], R],
    ) -> Callable[Concatenate[Client, str, P], R]:
        @functools.wraps(func)
        def wrapper(client: Client, subject_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
            data = client.read(subject_id, purpose=purpose, fields=fields)
            return func(data, *args, **kwargs)

        return wrapper

    return decorate
