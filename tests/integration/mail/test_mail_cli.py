"""`avowal staff add` mails the enrolment link; `avowal mail outbox|retry|send` show and deliver
the outbox without ever printing an address; bad input is a clear error, exit 1. Templates exist
in every language; production refuses mail in clear text or from localhost."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.lib.security import InsecureConfiguration, check_production
from avowal.mail import content
from avowal.policy.schemas import Language
from avowal.settings import Settings

runner = CliRunner()


def avowal(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, app: FastAPI) -> Settings:
    """Point the command line at the test database, data folder and policy; mail to files."""
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    monkeypatch.setenv("AVOWAL_MAIL_TRANSPORT", "files")
    return settings


def test_staff_enrolment_link_is_mailed_and_the_outbox_lists_it_without_address(
    cli_env: Settings,
) -> None:
    code, out, err = avowal(
        "staff", "add", "grace@example.com", "--kind", "employee", "--role", "support"
    )
    assert code == 0, err
    link = out.strip()
    assert "mailed to them" in err
    code, out, err = avowal("mail", "outbox")
    assert code == 0, err
    (line,) = out.splitlines()
    message_id, kind, purpose, status = line.split("\t")[:4]
    assert (kind, purpose, status) == ("staff_enrolment", "-", "queued")
    code, out, err = avowal("mail", "send")
    assert code == 0, err
    assert f"sent {message_id}" in out and "1 sent, 0 to retry, 0 failed" in out
    eml = cli_env.mail_outbox_path / "staff" / f"{message_id}.eml"
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage) and msg["To"] == "grace@example.com"
    for part in ("plain", "html"):
        body = msg.get_body((part,))
        assert body is not None and link in body.get_content()
    code, out, _ = avowal("mail", "outbox", "--status", "sent")
    assert code == 0 and str(eml) in out and "@" not in out.replace(str(eml), "")
    code, out, _ = avowal("mail", "outbox", "--status", "queued")
    assert code == 0 and out.strip() == "no queued message"


def test_bad_input_is_a_clear_error(cli_env: Settings) -> None:
    code, _, err = avowal("mail", "outbox", "--status", "lost")
    assert code == 1 and "'lost' is not a status of the outbox" in err
    code, _, err = avowal("mail", "retry", "no-such-id")
    assert code == 1 and "no message no-such-id in the outbox" in err
    avowal("staff", "add", "grace@example.com", "--kind", "employee", "--role", "support")
    message_id = avowal("mail", "outbox")[1].split("\t")[0]
    code, _, err = avowal("mail", "retry", message_id)
    assert code == 1 and "is queued; only a failed message can be retried" in err


def test_mail_send_without_mail_configured_says_so(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_MAIL_TRANSPORT", "none")
    code, _, err = avowal(
        "staff", "add", "grace@example.com", "--kind", "employee", "--role", "support"
    )
    assert code == 0 and "send the link above to them only" in err
    code, _, err = avowal("mail", "send")
    assert code == 1 and "mail is not configured" in err


@pytest.mark.parametrize("language", list(Language))
def test_every_kind_renders_in_every_language(language: Language) -> None:
    kinds = [
        content.StaffEnrolment(
            link="https://p.example.com/console/enrol/t", hours=72, role="support"
        ),
        content.LegalNotice(message="We disclosed <your> name."),
        content.ChangeNotice(
            effective=dt.date(2027, 1, 1),
            diff_url=content.diff_link("https://p.example.com/", "a1", "b2"),
            material=False,
            summary=None,
            changes=["Cookies <b>bold</b>"],
        ),
        content.ParentalRequest(
            point="Sign <b>up</b>",
            under=18,
            collected=["Full name (User Name)"],
            purposes=["Running your account"],
            retention=["user: 730 days after collection"],
            optional=["marketing.communications.email"],
            answer_url="https://p.example.com/privacy/parent/t",
            expires=dt.date(2027, 1, 15),
            confirm_after_hours=24,
        ),
        content.ParentalConfirmation(
            point="Sign up",
            consented=["Running your account"],
            refused=["News <b>letters</b>"],
            revoke_url="https://p.example.com/privacy/parent/r",
        ),
        content.News(
            subject="A <b>new</b> project",
            text="We started <b>something</b>.",
            unsubscribe_url="https://p.example.com/privacy/unsubscribe/t",
        ),
        content.PrivacySignIn(link="https://p.example.com/privacy/me/signin/t", minutes=15),
        content.ErasureDone(erased_at="2027-01-02"),
        content.CaseReceived(number=7, kind="erasure", due=dt.date(2027, 2, 2)),
        content.IdentityCheck(
            number=7, link="https://p.example.com/privacy/cases/confirm/t", days=7
        ),
        content.CaseAnswer(number=7, text="We erased <b>everything</b>."),
        content.CaseExtended(number=7, due=dt.date(2027, 4, 2), reason="Many <b>requests</b>."),
    ]
    assert [k.KIND for k in kinds] == list(content.KINDS)
    for kind in kinds:
        out = content.render(kind, language, "Example & Co")
        assert "\n" not in out.subject and out.subject
        assert f'<html lang="{language.value}">' in out.html
        assert "<b>" not in out.html and "<your>" not in out.html  # autoescaped
        assert "Example &amp; Co" in out.html and "Example & Co" in out.text
    change = content.render(kinds[2], language, "Example")
    assert "https://p.example.com/privacy/diff?from=a1&to=b2" in change.text
    assert "Cookies <b>bold</b>" in change.text
    if language is Language.fr:
        assert "Bonjour" in change.text and re.search("modifie", change.subject)


def test_production_refuses_mail_in_clear_text_or_from_localhost() -> None:
    base = Settings(
        env="production",
        public_url="https://privacy.example.com",
        trusted_proxies=["127.0.0.1"],
        smtp_host="smtp.example.com",
        mail_from="privacy@example.com",
    )
    check_production(base)
    with pytest.raises(InsecureConfiguration, match="AVOWAL_SMTP_SECURITY"):
        check_production(base.model_copy(update={"smtp_security": "none"}))
    with pytest.raises(InsecureConfiguration, match="AVOWAL_MAIL_FROM"):
        check_production(base.model_copy(update={"mail_from": "avowal@localhost"}))
    # Without mail configured there is nothing to send from localhost.
    check_production(base.model_copy(update={"smtp_host": None, "mail_from": "avowal@localhost"}))
