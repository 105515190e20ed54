"""Set-up shared by the change-notice and acceptance tests: clock, people, a new version."""

from __future__ import annotations

import datetime as dt
import email
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from avowal.client import Client
from avowal.db.engine import make_sessionmaker
from avowal.lifecycle import service
from avowal.lifecycle.models import PolicyVersion
from avowal.mail import worker
from avowal.mail.worker import PassReport
from avowal.policy.loader import LoadedPolicy, parse_text
from tests.factories import PURCHASE, REGISTRATION, policy_text

T0 = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
EFFECTIVE = dt.datetime(2027, 2, 15, tzinfo=dt.UTC)
AFTER = EFFECTIVE + dt.timedelta(hours=1)
# Support may now use what was given at purchase: a purpose added to a point later.
ADDED = "essential.service.operations.support"


def v2(**changes: Any) -> LoadedPolicy:
    """Return the example policy effective on EFFECTIVE, with support added to purchase."""

    def change(data: dict[str, Any]) -> None:
        data["policy"]["effective"] = EFFECTIVE.date()
        data["collection_points"]["purchase"]["purposes"].append(ADDED)
        data["changes"].update(changes)

    return parse_text(policy_text(change))


def publish(engine: Engine, loaded: LoadedPolicy) -> PolicyVersion:
    """Publish ``loaded`` as the officer would, with its notice period."""
    with make_sessionmaker(engine)() as s, s.begin():
        version = service.publish(
            s, loaded, by="officer@example.com", summary="Support may help with purchases.",
            production=True,
        )  # fmt: skip
        s.expunge(version)
        return version


def customer(backend: Client, ref: str, *, buys: bool) -> str:
    """Register a person and, if ``buys``, record a purchase; return their id."""
    sid = backend.collect("registration", {**REGISTRATION, "email": f"{ref}@example.com"}, ref=ref)[
        "subject_id"
    ]
    if buys:
        backend.collect("purchase", {**PURCHASE, "email": f"{ref}.billing@example.com"},
                        subject_id=sid)  # fmt: skip
    return str(sid)


def asker(backend: Client, ref: str) -> str:
    """Collect a question only (its e-mail is for support, not service notices); return the id."""
    values = {"email": f"{ref}@example.com", "message": "What do you keep about me?"}
    return str(backend.collect("contact", values, ref=ref)["subject_id"])


def mail_pass(app: FastAPI) -> PassReport:
    """Run one pass of the mail worker (change notices, then delivery to `.eml` files)."""
    state = app.state
    return worker.run_pass(
        state.sessionmaker, state.settings, state.secrets, state.policies.current()
    )


def delivered(outbox: Path, subject_id: str) -> list[EmailMessage]:
    """Return the messages written to a person's `.eml` folder."""
    folder = outbox / subject_id
    if not folder.is_dir():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]
