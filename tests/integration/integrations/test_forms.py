"""avowal.integrations.forms on its own: escaping, forms that carry no notice, the notice changing
between the check and the collection, and reads through for_purpose."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from avowal.client import Client, PurposeNotAllowed
from avowal.integrations import (
    NoticeChanged,
    NoticeNotShown,
    Stored,
    fields_html,
    for_purpose,
    notice_html,
    submit,
    what_changed,
)
from avowal.vault.schemas import Notice, NoticePurpose, NoticeRecipient, ReadResult
from tests.factories import REGISTRATION
from tests.integration.integrations.conftest import AUTHENTICATION, FORM, IMPROVE, NEWSLETTER, held

HOSTILE = '<script>alert("x")</script>'


def test_everything_the_notice_shows_is_escaped(backend: Client) -> None:
    notice = backend.notice("registration")
    hostile = notice.model_copy(
        update={
            "title": HOSTILE,
            "organisation": 'Example "&" Co',
            "purposes": [NoticePurpose(key=AUTHENTICATION, description=HOSTILE)],
            "recipients": [NoticeRecipient(key="m", name=HOSTILE, kind="processor", country="US")],
            "fields": [notice.fields[0].model_copy(update={"label": HOSTILE})],
        }
    )
    page = str(notice_html(hostile)) + str(fields_html(hostile, {"name": '"><b>'}))
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "Example &#34;&amp;&#34; Co" in page
    assert 'value="&#34;&gt;&lt;b&gt;"' in page


def test_a_form_without_a_notice_id_sends_nothing(app: FastAPI, backend: Client) -> None:
    before = held(app)
    with pytest.raises(NoticeNotShown, match="sent no notice_id"):
        submit(backend, "registration", FORM, ref="forms-1")
    with pytest.raises(NoticeNotShown, match="not a notice id"):
        submit(backend, "registration", {**FORM, "notice_id": "<x>"}, ref="forms-1")
    with pytest.raises(ValueError, match="exactly one of ref"):
        submit(backend, "registration", {**FORM, "notice_id": "0" * 64})
    assert held(app) == before


def test_a_notice_changing_during_the_submission_is_reported_not_agreed_to(
    app: FastAPI, client: TestClient, changed_http: TestClient, web_token: str
) -> None:
    shown = Client("http://testserver", web_token, http=client).notice("registration")  # type: ignore[arg-type]

    class Racing(Client):
        """Sees the shown notice as current once: the policy changes just after."""

        raced = False

        def notice(self, point: str) -> Notice:
            if not self.raced:
                self.raced = True
                return shown
            return super().notice(point)

    racing = Racing("http://testserver", web_token, http=changed_http)  # type: ignore[arg-type]
    before = held(app)
    outcome = submit(racing, "registration", {**FORM, "notice_id": shown.notice_id}, ref="f-2")
    assert isinstance(outcome, NoticeChanged)
    assert outcome.shown_notice_id == shown.notice_id
    assert (
        outcome.notice.notice_id == changed_http.get("/v1/notices/registration").json()["notice_id"]
    )
    assert outcome.notice.notice_id != shown.notice_id
    assert outcome.values == REGISTRATION
    assert held(app) == before


def test_for_purpose_reads_only_what_the_purpose_allows(backend: Client) -> None:
    notice_id = backend.notice("registration").notice_id
    stored = submit(backend, "registration", {**FORM, "notice_id": notice_id}, ref="forms-3")
    assert isinstance(stored, Stored)
    calls: list[ReadResult] = []

    @for_purpose(AUTHENTICATION, fields=["email", "phone"])
    def contact(data: ReadResult, greeting: str) -> str:
        """Greet the person."""
        calls.append(data)
        return f"{greeting} {data.values['email'].value}"

    assert contact(backend, stored.subject_id, "Hello") == "Hello ada@example.com"
    assert sorted(calls[0].values) == ["email", "phone"]
    assert contact.__doc__ == "Greet the person."

    @for_purpose(NEWSLETTER)
    def newsletter(data: ReadResult) -> None:
        calls.append(data)

    with pytest.raises(PurposeNotAllowed) as refused:
        newsletter(backend, stored.subject_id)
    assert (refused.value.status, refused.value.purpose) == (403, NEWSLETTER)
    assert len(calls) == 1


def test_the_changes_are_listed_when_the_site_kept_the_notice_it_showed(
    client: TestClient, changed_http: TestClient, web_token: str
) -> None:
    shown = Client("http://testserver", web_token, http=client).notice("registration")  # type: ignore[arg-type]
    changed = Client("http://testserver", web_token, http=changed_http)  # type: ignore[arg-type]
    form = {**FORM, "notice_id": shown.notice_id}
    outcome = submit(changed, "registration", form, ref="forms-4", shown_notice=shown)
    assert isinstance(outcome, NoticeChanged)
    improve = next(p for p in outcome.notice.purposes if p.key == IMPROVE)
    assert outcome.changes == [f"New use: {improve.description}"]
    page = str(notice_html(outcome.notice, changed=True, changes=outcome.changes))
    assert f"<li>New use: {escape(improve.description)}</li>" in page
    # Without the notice shown, the whole new notice is shown, with no list.
    blind = submit(changed, "registration", form, ref="forms-4")
    assert isinstance(blind, NoticeChanged) and blind.changes == []


def test_what_changed_names_fields_recipients_and_uses_added_or_dropped(backend: Client) -> None:
    before = backend.notice("registration")
    phone = next(f for f in before.fields if f.name == "phone")
    after = before.model_copy(
        update={
            "fields": [
                *(f for f in before.fields if f.name not in ("phone", "address")),
                phone.model_copy(update={"required": True}),
            ],
            "purposes": before.purposes[1:],
            "recipients": [NoticeRecipient(key="m", name="Mailer", kind="processor", country="US")],
        }
    )
    assert what_changed(before, after) == [
        f"No longer used: {before.purposes[0].description}",
        "Now given to: Mailer (US)",
        "Telephone number is now required",
        "No longer asked: Postal address",
    ]
    assert what_changed(before, before) == []
