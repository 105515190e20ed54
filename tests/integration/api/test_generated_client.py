"""A client generated from /openapi.json by a standard generator works against a real server.

openapi-python-generator writes a package (pydantic models, one function per operation, named
by its operation id) into a temporary folder; the test imports it and goes notice -> collect ->
read -> refused read -> erase, and parses every error answer with the generated ``Problem``;
then the rights API: export (its receipts verified), withdraw, and a link into the privacy center.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_python_generator.common import HTTPLibrary
from openapi_python_generator.generate_data import generate_data
from sqlalchemy import Engine

from avowal.callers import service as callers
from avowal.crypto import signing
from avowal.db.engine import make_sessionmaker
from avowal.policy.loader import load_file
from avowal.settings import Settings
from tests import server
from tests.factories import REGISTRATION

PACKAGE = "avowal_generated_client"
# The registration e-mail is collected to send service e-mails (among others).
NOTIFY = "essential.service.notifications.email"
MARKETING = "marketing.communications.email"

# The export names its format by the key `schema` (avowal-export/1); a generated pydantic model
# gets a field of that name, which pydantic warns shadows BaseModel.schema (deprecated). The
# field still reads and validates as the key's value.
pytestmark = pytest.mark.filterwarnings(
    'ignore:Field name "schema" in "Export" shadows an attribute in parent "BaseModel":UserWarning'
)


@pytest.fixture
def running(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[server.Server]:
    """Serve the migrated test database with `avowal serve`."""
    assert settings.database_url is not None
    env = server.serve_env(tmp_path, settings.database_url, settings.policy_file)
    with server.running(env, tmp_path / "serve.log") as running:
        yield running


@pytest.fixture
def token(settings: Settings, engine: Engine) -> str:
    """Return a service token of the site's back end."""
    policy = load_file(settings.policy_file)
    with make_sessionmaker(engine)() as session, session.begin():
        return callers.create(session, policy, "generated-client", "web_backend")


@pytest.fixture(scope="module")
def clients_made() -> dict[bytes, Path]:
    """The clients generated in this module, by the exact /openapi.json they were made from."""
    return {}


@pytest.fixture
def generated(
    running: server.Server,
    tmp_path_factory: pytest.TempPathFactory,
    clients_made: dict[bytes, Path],
) -> Iterator[dict[str, ModuleType]]:
    """Generate the client from the server's /openapi.json and import it afresh.

    The generator runs once per distinct document (seconds each time): a server answering the
    very same bytes as an earlier one gets the client already generated from them.
    """
    content = httpx.get(f"{running.url}/openapi.json").content
    out = clients_made.get(content)
    if out is None:
        folder = tmp_path_factory.mktemp("generated")
        document = folder / "openapi.json"
        document.write_bytes(content)
        out = folder / "client"
        generate_data(document, out / PACKAGE, library=HTTPLibrary.httpx)
        clients_made[content] = out
    sys.path.insert(0, str(out))
    try:
        yield {
            name: importlib.import_module(f"{PACKAGE}.{name}")
            for name in (
                "api_config",
                "models",
                "services.vault_service",
                "services.rights_service",
            )
        }
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def field(answer: Any, name: str) -> Any:
    """Read ``name`` from an answer, a generated model or (for untyped routes) a dict."""
    return answer[name] if isinstance(answer, dict) else getattr(answer, name)


# The generator's request code calls pydantic's v1-style `.dict()`.
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
def test_generated_client_goes_from_notice_to_erasure(
    generated: dict[str, ModuleType], running: server.Server, token: str
) -> None:
    config_module, models, vault = (
        generated["api_config"],
        generated["models"],
        generated["services.vault_service"],
    )
    config = config_module.APIConfig(base_path=running.url, access_token=token)

    notice = vault.get_notice(config, point="registration")
    request = models.CollectRequest(
        notice_id=field(notice, "notice_id"),
        subject=models.SubjectRef(ref="generated-1"),
        values=REGISTRATION,
    )
    collected = vault.collect(config, point="registration", data=request)
    subject_id = field(collected, "subject_id")

    read = vault.read_subject_data(config, subject_id=subject_id, purpose=NOTIFY)
    assert field(read, "values")["email"]["value"] == REGISTRATION["email"], read

    def refusal(call: Any, status: int, **kwargs: Any) -> Any:
        """Call a generated function expecting ``status``; parse the answer as a Problem."""
        with pytest.raises(config_module.HTTPException) as raised:
            call(config, **kwargs)
        assert raised.value.status_code == status
        # The generated functions raise with the status only: parse the same answer's body.
        path = {"read_subject_data": f"/v1/subjects/{subject_id}/data"}[call.__name__]
        params = {k: v for k, v in kwargs.items() if k != "subject_id"}
        answer = httpx.get(
            running.url + path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == status
        return models.Problem.model_validate(answer.json())

    refused = refusal(
        vault.read_subject_data,
        403,
        subject_id=subject_id,
        purpose="marketing.communications.email",
    )
    assert refused.error == "purpose_not_granted"
    assert refused.message

    erased = vault.erase_subject(config, subject_id=subject_id)
    assert field(erased, "subject_id") == subject_id
    gone = refusal(vault.read_subject_data, 410, subject_id=subject_id, purpose=NOTIFY)
    assert gone.error == "subject_erased"

    invalid = httpx.get(
        f"{running.url}/v1/subjects/{subject_id}/data", headers={"Authorization": f"Bearer {token}"}
    )
    problem = models.Problem.model_validate(invalid.json())
    assert invalid.status_code == 422
    assert problem.error == "invalid_request"
    assert [p.location for p in problem.problems] == ["query.purpose"]


@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
def test_generated_client_collects_a_minor_with_a_parent_and_closes_an_account(
    generated: dict[str, ModuleType], running: server.Server, token: str
) -> None:
    config_module, models, vault = (
        generated["api_config"],
        generated["models"],
        generated["services.vault_service"],
    )
    config = config_module.APIConfig(base_path=running.url, access_token=token)
    today = dt.date.today()
    child = {**REGISTRATION, "birth_date": today.replace(year=today.year - 10).isoformat()}
    parent_notice = vault.get_parent_notice(config, point="registration")
    request = models.CollectRequest(
        notice_id=field(vault.get_notice(config, point="registration"), "notice_id"),
        subject=models.SubjectRef(ref="generated-minor"),
        values=child,
        parent=models.ParentContact(
            email="parent@example.com", notice_id=field(parent_notice, "notice_id")
        ),
    )
    collected = vault.collect(config, point="registration", data=request)
    pending = field(collected, "parental_consent")
    assert field(pending, "status") == "pending"
    subject_id = field(collected, "subject_id")
    read = vault.read_subject_data(config, subject_id=subject_id, purpose=NOTIFY)
    assert field(read, "values") == {}
    reasons = {field(w, "reason") for w in field(read, "withheld")}
    assert reasons == {"parental_consent_pending"}
    closed = vault.close_account(config, subject_id=subject_id)
    assert field(closed, "subject_id") == subject_id


@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
def test_generated_client_exports_withdraws_and_opens_the_privacy_center(
    generated: dict[str, ModuleType], running: server.Server, token: str
) -> None:
    config_module, models, vault, rights = (
        generated["api_config"],
        generated["models"],
        generated["services.vault_service"],
        generated["services.rights_service"],
    )
    config = config_module.APIConfig(base_path=running.url, access_token=token)
    request = models.CollectRequest(
        notice_id=field(vault.get_notice(config, point="registration"), "notice_id"),
        subject=models.SubjectRef(ref="generated-rights"),
        values=REGISTRATION,
    )
    subject_id = field(vault.collect(config, point="registration", data=request), "subject_id")

    exported = rights.export_subject(config, subject_id=subject_id)
    assert field(exported, "schema") == "avowal-export/1"
    assert field(exported, "subject_id") == subject_id
    [point] = field(exported, "points")
    email = next(v for v in field(point, "values") if field(v, "field") == "email")
    assert field(email, "value") == REGISTRATION["email"]
    assert MARKETING in {field(p, "key") for p in field(email, "purposes")}
    public = signing.load_public_pem(field(vault.receipt_key(config), "public_key_pem"))
    receipts = field(exported, "receipts")
    assert len(receipts) == 1
    assert all(signing.verify(public, r.receipt, r.signature) for r in receipts)

    withdrawn = rights.withdraw_purpose(
        config, subject_id=subject_id, data=models.WithdrawalRequest(purpose=MARKETING)
    )
    assert (field(withdrawn, "purpose"), field(withdrawn, "values_changed")) == (MARKETING, 1)
    [point] = field(rights.export_subject(config, subject_id=subject_id), "points")
    email = next(v for v in field(point, "values") if field(v, "field") == "email")
    assert MARKETING not in {field(p, "key") for p in field(email, "purposes")}
    with pytest.raises(config_module.HTTPException) as raised:
        rights.withdraw_purpose(
            config, subject_id=subject_id, data=models.WithdrawalRequest(purpose=NOTIFY)
        )
    assert raised.value.status_code == 409

    asked = dt.datetime.now(dt.UTC)
    link = rights.issue_privacy_link(
        config, data=models.SignInLinkRequest(subject=models.SubjectRef(ref="generated-rights"))
    )
    assert "/privacy/me/signin/" in field(link, "url")
    expires = dt.datetime.fromisoformat(field(link, "expires_at"))
    assert dt.timedelta(minutes=4) < expires - asked <= dt.timedelta(minutes=5, seconds=5)
