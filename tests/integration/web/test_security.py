"""Security headers everywhere; in production, credentials only over TLS (ASVS 5.0 V3, V12)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from avowal.app import create_app
from avowal.callers import service as callers
from avowal.cli import app as cli
from avowal.crypto import service as crypto
from avowal.crypto.keyring import Keyring
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.lib.security import CSP, DOCS_CSP, HSTS, InsecureConfiguration, TLSRequired
from avowal.lifecycle.exceptions import UnpublishedPolicy
from avowal.policy import render
from avowal.settings import EXAMPLE_POLICY, Settings
from avowal.vault.models import Subject
from tests.certs import self_signed
from tests.factories import REGISTRATION
from tests.kept import attest_all, write_kept_policy
from tests.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
POLICY = REPO_ROOT / EXAMPLE_POLICY
SUBJECT = "00000000-0000-4000-8000-000000000000"
EVERY_RESPONSE = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
runner = CliRunner()


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, name
    assert "camera=()" in response.headers["permissions-policy"]


# --- every environment -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/privacy", "/v1/policy", "/no/such/page", "/healthz"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert_security_headers(response)
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    # HSTS belongs to production over HTTPS only.
    assert "strict-transport-security" not in response.headers


def test_personal_data_is_never_stored_whatever_the_answer(client: TestClient) -> None:
    for method, path in [
        ("GET", f"/v1/subjects/{SUBJECT}/data?purpose=essential.service"),
        ("GET", "/v1/subjects/lookup"),
        ("DELETE", f"/v1/subjects/{SUBJECT}"),
        ("POST", "/v1/collect/registration"),
        ("POST", "/v1/disclosures"),
        ("GET", f"/v1/receipts/{SUBJECT}"),
        ("GET", "/console/login"),
        ("GET", "/console/no-such-page"),
    ]:
        response = client.request(method, path, follow_redirects=False)
        assert response.status_code < 500, (path, response.status_code)
        assert response.headers["cache-control"] == "no-store", path
        assert_security_headers(response)


def test_public_documents_keep_their_own_caching(client: TestClient) -> None:
    policy = client.get("/v1/policy")
    assert policy.headers["etag"]
    assert "cache-control" not in policy.headers
    asset = client.get(render.STYLESHEET.path)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "cache-control" not in client.get("/v1/receipts/key").headers


def test_api_docs_outside_production_get_their_own_relaxed_policy(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "frame-ancestors 'none'" in DOCS_CSP


# --- production --------------------------------------------------------------------------


def production_keys(folder: Path) -> dict[str, Path]:
    """Create a production master keyring, an index key and a signing key under ``folder``."""
    keys = folder / "keys"
    ring = Keyring.create(keys / "master.json", development=False)
    index, signing = keys / "index.key", keys / "signing.pem"
    # A development load creates the index and signing keys (beside a throwaway master key).
    crypto.load(
        Settings(
            env="development",
            data_dir=folder / "scratch",
            index_key_file=index,
            signing_key_file=signing,
        )
    )
    return {"master_key_file": ring.path, "index_key_file": index, "signing_key_file": signing}


@pytest.fixture
def production(tmp_path: Path) -> Iterator[Settings]:
    """Production settings on a migrated SQLite database, behind a proxy in 10.0.0.0/8.

    The policy states only promises this software keeps, its organisational measures attested.
    """
    kept = write_kept_policy(tmp_path / "policy")
    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url))
    try:
        migrate.upgrade(engine)
        attest_all(engine, kept)
    finally:
        engine.dispose()
    yield Settings(
        env="production",
        data_dir=tmp_path,
        database_url=database_url,
        policy_file=kept,
        trusted_proxies=["10.0.0.0/8"],
        public_url="https://privacy.example.com",
        # The test client's host name; the public URL's host is answered anyway.
        allowed_hosts=["testserver"],
        **production_keys(tmp_path),
    )


@pytest.fixture
def prod_app(production: Settings) -> Iterator[FastAPI]:
    """Yield the production application on a migrated database, its lifespan running."""
    engine = make_engine(production)
    migrate.upgrade(engine)
    app = create_app(production, engine=engine)
    try:
        with TestClient(app, base_url="https://testserver"):
            yield app
    finally:
        engine.dispose()


def over(app: FastAPI, base_url: str, **kwargs: object) -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False, **kwargs)


@pytest.fixture
def token(prod_app: FastAPI) -> str:
    with prod_app.state.sessionmaker() as session, session.begin():
        return callers.create(
            session, prod_app.state.policies.current(), "web_backend", "web_backend"
        )


def collect(http: TestClient, token: str, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"}
    notice = over(http.app, "https://testserver").get("/v1/notices/registration", headers=auth)
    body = {
        "notice_id": notice.json()["notice_id"],
        "subject": {"ref": "user-1"},
        "values": REGISTRATION,
    }
    return http.post("/v1/collect/registration", json=body, headers={**auth, **headers})


def subjects(app: FastAPI) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(Subject)) or 0)


def test_credentials_over_plain_http_are_refused_and_nothing_is_processed(
    prod_app: FastAPI, token: str
) -> None:
    response = collect(over(prod_app, "http://testserver"), token)
    assert response.status_code == 403
    assert response.json()["error"] == "tls_required"
    assert "HTTPS" in response.json()["message"]
    assert_security_headers(response)
    assert subjects(prod_app) == 0
    # The same request over HTTPS is served: the refusal was about the channel alone.
    accepted = collect(over(prod_app, "https://testserver"), token)
    assert accepted.status_code == 201, accepted.text
    assert accepted.headers["strict-transport-security"] == HSTS
    assert accepted.headers["cache-control"] == "no-store"
    assert subjects(prod_app) == 1


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/policy", {"Authorization": "Bearer whatever"}),
        ("GET", "/privacy", {"Cookie": "theme=dark; avowal_session=abc"}),
        ("GET", "/healthz", {"Cookie": "avowal_csrf=abc"}),
        ("GET", "/privacy/me", {"Cookie": "avowal_person=abc"}),
        ("POST", "/console/login", {}),
        ("DELETE", f"/v1/subjects/{SUBJECT}", {}),
    ],
)
def test_plain_http_refuses_credentials_and_changes(
    prod_app: FastAPI, method: str, path: str, headers: dict[str, str]
) -> None:
    response = over(prod_app, "http://testserver").request(
        method, path, headers=headers, content=b"password=hunter2"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "tls_required"


def test_plain_http_pages_redirect_to_https(prod_app: FastAPI) -> None:
    response = over(prod_app, "http://testserver").get("/privacy?lang=en")
    assert response.status_code == 308
    assert response.headers["location"] == "https://privacy.example.com/privacy?lang=en"
    assert_security_headers(response)
    assert "strict-transport-security" not in response.headers


def test_the_redirect_never_goes_to_the_host_the_request_named(production: Settings) -> None:
    wide_open = production.model_copy(update={"allowed_hosts": ["*.example.net", "testserver"]})
    engine = make_engine(wide_open)
    migrate.upgrade(engine)
    try:
        app = create_app(wide_open, engine=engine)
        for host in ("evil.example.net", "testserver", "privacy.example.com:8080"):
            response = over(app, "http://testserver").get("/privacy?x=1", headers={"Host": host})
            assert response.status_code == 308, host
            assert response.headers["location"] == "https://privacy.example.com/privacy?x=1"
    finally:
        engine.dispose()
    # The middleware cannot even be built to redirect anywhere but to an https public URL.
    with pytest.raises(InsecureConfiguration):
        TLSRequired(lambda *_: None, public_url="http://127.0.0.1:8000")


def test_health_stays_reachable_over_plain_http_for_load_balancers(prod_app: FastAPI) -> None:
    response = over(prod_app, "http://testserver").get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "strict-transport-security" not in response.headers


def test_https_responses_carry_hsts(prod_app: FastAPI) -> None:
    for path in ("/healthz", "/privacy", "/no/such/page"):
        response = over(prod_app, "https://testserver").get(path)
        assert response.headers["strict-transport-security"] == HSTS, path
        assert_security_headers(response)
    assert over(prod_app, "https://testserver").get("/privacy").status_code == 200


def test_api_docs_are_off_in_production(prod_app: FastAPI) -> None:
    https = over(prod_app, "https://testserver")
    assert https.get("/docs").status_code == 404
    assert https.get("/redoc").status_code == 404


def test_a_trusted_proxy_saying_https_is_believed(prod_app: FastAPI, token: str) -> None:
    behind_proxy = over(prod_app, "http://testserver", client=("10.0.0.5", 1234))
    response = collect(behind_proxy, token, **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 201, response.text
    assert response.headers["strict-transport-security"] == HSTS
    # The proxy saying http (or nothing) gets plain-HTTP treatment.
    assert collect(behind_proxy, token).status_code == 403
    assert behind_proxy.get("/privacy").status_code == 308


def test_the_same_headers_from_an_untrusted_peer_are_refused(prod_app: FastAPI, token: str) -> None:
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.5"}
    for peer in [("203.0.113.5", 1234), ("testclient", 50000)]:
        response = collect(over(prod_app, "http://testserver", client=peer), token, **forged)
        assert response.status_code == 403
        assert response.json()["error"] == "tls_required"
    assert subjects(prod_app) == 0


def test_create_app_refuses_production_without_tls_or_a_trusted_proxy(
    production: Settings,
) -> None:
    bare = production.model_copy(update={"trusted_proxies": []})
    with pytest.raises(InsecureConfiguration, match="without TLS"):
        create_app(bare)
    half = bare.model_copy(update={"tls_cert_file": Path("cert.pem")})
    with pytest.raises(InsecureConfiguration, match="both a certificate and its private key"):
        create_app(half)


# --- avowal serve ------------------------------------------------------------------------


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the command line at a production setup in ``tmp_path`` with no TLS and no proxy."""
    for name in list(os.environ):
        if name.startswith("AVOWAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AVOWAL_ENV", "production")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(POLICY))
    monkeypatch.setenv("AVOWAL_PUBLIC_URL", "https://privacy.example.com")
    return tmp_path


def test_serve_refuses_production_without_tls_or_a_trusted_proxy(production_env: Path) -> None:
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "production mode refuses to serve without TLS" in result.output
    assert "--tls-cert" in result.output
    assert "AVOWAL_TRUSTED_PROXIES" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_development_master_key_in_production(
    production_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crypto.load(Settings(env="development", data_dir=production_env))
    monkeypatch.setenv("AVOWAL_TRUSTED_PROXIES", '["127.0.0.1"]')
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "master.json is a development master key" in result.output
    assert "avowal keys init" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_bad_trusted_proxy_entry(
    production_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_TRUSTED_PROXIES", '["proxy.example.com"]')
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "'proxy.example.com' is not an IP address or network" in result.output


def test_serve_names_unusable_tls_files(production_env: Path) -> None:
    cert, key = self_signed(production_env)
    missing = production_env / "missing.pem"
    cases = [
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(missing), "--tls-key", str(key)], f"cannot read TLS file {missing}"),
        (["--tls-cert", str(key), "--tls-key", str(key)], "are not a PEM certificate"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, ["serve", *args])
        assert result.exit_code == 1, args
        assert message in result.output, result.output
        assert "Traceback" not in result.output


def test_serve_terminates_tls_itself(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    keys = production_keys(tmp_path)
    kept = write_kept_policy(tmp_path / "policy")
    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url))
    try:
        migrate.upgrade(engine)
        attest_all(engine, kept)
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    env.update(
        AVOWAL_ENV="production",
        AVOWAL_DATA_DIR=str(tmp_path),
        AVOWAL_DATABASE_URL=database_url,
        AVOWAL_POLICY_FILE=str(kept),
        AVOWAL_MASTER_KEY_FILE=str(keys["master_key_file"]),
        AVOWAL_INDEX_KEY_FILE=str(keys["index_key_file"]),
        AVOWAL_SIGNING_KEY_FILE=str(keys["signing_key_file"]),
    )
    port = free_port()
    env["AVOWAL_PUBLIC_URL"] = f"https://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from avowal.cli import main; main()", "serve"]
    command += ["--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    trust = ssl.create_default_context(cafile=str(cert))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            response = wait_for(f"https://127.0.0.1:{port}/healthz", trust, server, log)
            assert response.status_code == 200
            assert response.json()["status"] == "ok"
            assert response.headers["strict-transport-security"] == HSTS
            assert "server" not in response.headers
            # Plain HTTP on the TLS port gets no answer from the application.
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert "on https://127.0.0.1:" in log.read_text()


def wait_for(
    url: str, trust: ssl.SSLContext, server: subprocess.Popen[bytes], log: Path
) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            pytest.fail(f"avowal serve exited {server.returncode}:\n{log.read_text()}")
        try:
            return httpx.get(url, verify=trust, timeout=5)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                pytest.fail(f"avowal serve did not answer in 30 s:\n{log.read_text()}")
            time.sleep(0.1)


# --- public URL and host names (issue 8, hole 8) -----------------------------------------


def test_production_refuses_a_public_url_that_is_not_https(
    production: Settings, production_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in ("http://privacy.example.com", "privacy.example.com", "https://"):
        with pytest.raises(InsecureConfiguration, match="AVOWAL_PUBLIC_URL") as refused:
            create_app(production.model_copy(update={"public_url": url}))
        assert "https://" in str(refused.value)
    monkeypatch.setenv("AVOWAL_TRUSTED_PROXIES", '["127.0.0.1"]')
    monkeypatch.setenv("AVOWAL_PUBLIC_URL", "http://privacy.example.com")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "AVOWAL_PUBLIC_URL is 'http://privacy.example.com'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "host", ["evil.example.net", "privacy.example.com.evil.example.net", "", "[2001:db8::1]"]
)
def test_production_refuses_unknown_hosts(prod_app: FastAPI, host: str) -> None:
    https = over(prod_app, "https://testserver")
    response = https.get("/privacy", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_host"
    assert "AVOWAL_ALLOWED_HOSTS" in response.json()["message"]
    assert_security_headers(response)
    # Load balancers probe by IP address.
    assert https.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200


@pytest.mark.parametrize("host", ["privacy.example.com", "PRIVACY.example.com.:443", "testserver"])
def test_production_answers_the_public_host_and_the_allowed_ones(
    prod_app: FastAPI, host: str
) -> None:
    response = over(prod_app, "https://testserver").get("/privacy", headers={"Host": host})
    assert response.status_code == 200


def test_production_does_not_answer_local_names(prod_app: FastAPI) -> None:
    for host in ("localhost", "127.0.0.1:8000"):
        response = over(prod_app, "https://testserver").get("/privacy", headers={"Host": host})
        assert response.status_code == 400, host


def test_outside_production_local_names_work_and_others_are_refused(
    client: TestClient, settings: Settings, engine: object
) -> None:
    for host in ("testserver", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/v1/policy", headers={"Host": host}).status_code == 200, host
    refused = client.get("/v1/policy", headers={"Host": "attacker.example.net"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "unknown_host"
    wider = create_app(
        settings.model_copy(update={"allowed_hosts": ["*.example.net"]}),
        engine=engine,  # type: ignore[arg-type]
    )
    with TestClient(wider) as other:
        assert other.get("/v1/policy", headers={"Host": "a.example.net"}).status_code == 200
        assert other.get("/v1/policy", headers={"Host": "example.net"}).status_code == 400


def test_production_refuses_to_build_on_a_never_published_policy(production: Settings) -> None:
    engine = make_engine(production)
    try:
        with TestClient(create_app(production, engine=engine), base_url="https://testserver"):
            pass  # the first start publishes the kept policy
        changed = production.policy_file.parent / "changed.yaml"
        changed.write_text(
            production.policy_file.read_text().replace(
                "title: Privacy Policy", "title: Privacy Policy (changed)"
            )
        )
        attest_all(engine, changed)
        unpublished = production.model_copy(update={"policy_file": changed})
        # Refused before serving (not in the lifespan), naming the command that publishes it.
        with pytest.raises(UnpublishedPolicy, match="avowal policy publish"):
            create_app(unpublished, engine=engine)
    finally:
        engine.dispose()
