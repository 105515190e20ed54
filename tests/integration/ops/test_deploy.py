"""docs/deploy.md, performed: the files of deploy/ and the guide's commands on a throwaway
PostgreSQL database, with `avowal serve --workers 2`, `avowal worker` and the reverse proxies
(nginx and Caddy, each when installed: CI installs both) as processes of their own."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests import deployment
from tests.certs import self_signed
from tests.deployment import DEPLOY, HOST
from tests.factories import REGISTRATION
from tests.server import free_port

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _missing(program: str) -> None:
    """Fail under CI (which installs the proxies), else let the guide be checked without it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must check the guide's {program} configuration: apt-get install {program}")


def _nginx(port: int, upstream: int, tmp_path: Path) -> list[str] | None:
    """The command running deploy/nginx.conf on ``port`` (TLS, a self-signed certificate) in
    front of ``upstream``; None when nginx is not installed."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        _missing("nginx")
        return None
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("listen 80;", f"listen {free_port()};").replace("listen [::]:80;", "")
    site = site.replace("listen 443 ssl http2;", f"listen {port} ssl http2;")
    site = site.replace("listen [::]:443 ssl http2;", "")
    site = site.replace("/etc/letsencrypt/live/privacy.example.com/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/privacy.example.com/privkey.pem", str(key))
    site = site.replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'};\n"
        "events {}\n"
        f"http {{\nclient_body_temp_path {prefix}; proxy_temp_path {prefix};\n{site}\n}}\n"
    )
    return [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]


def _caddy(port: int, upstream: int, tmp_path: Path) -> list[str] | None:
    """The command running deploy/Caddyfile on ``port`` (TLS, a self-signed certificate) in
    front of ``upstream``; None when Caddy is not installed."""
    caddy = shutil.which("caddy")
    if caddy is None:
        _missing("caddy")
        return None
    folder = tmp_path / "caddy"
    folder.mkdir()
    cert, key = self_signed(folder)
    site = (DEPLOY / "Caddyfile").read_text().replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    # No certificate authority reachable here: the test's own certificate instead of ACME.
    site = site.replace(f"{HOST} {{", f"{HOST}:{port} {{\n\ttls {cert} {key}", 1)
    (folder / "Caddyfile").write_text(
        f"{{\n\tadmin off\n\thttp_port {free_port()}\n"
        f"\tstorage file_system {folder / 'data'}\n}}\n{site}"
    )
    return [caddy, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]


def test_the_deployment_guide_runs_as_written(db_url: str, tmp_path: Path) -> None:
    with deployment.deployed(db_url, tmp_path, workers=2) as site:
        port, token, env = site.port, site.token, site.env
        processes = [p for p in deployment.children(site.server.pid) if p != site.worker.pid]
        assert len(processes) >= 2, processes  # uvicorn's worker processes
        fronts = [("direct", f"http://127.0.0.1:{port}", {"X-Forwarded-Proto": "https"})]
        proxies: list[contextlib.AbstractContextManager[subprocess.Popen[bytes]]] = []
        for name, make in (("nginx", _nginx), ("caddy", _caddy)):
            front = free_port()
            command = make(front, port, tmp_path)
            if command is not None:
                proxies.append(deployment.process(command, env, tmp_path / f"{name}.log"))
                fronts.append((name, f"https://127.0.0.1:{front}", {}))
        with contextlib.ExitStack() as stack:
            for name, proxy in zip([f[0] for f in fronts[1:]], proxies, strict=True):
                started = stack.enter_context(proxy)
                url = next(f[1] for f in fronts if f[0] == name)
                deployment.wait(
                    f"{url}/healthz", started, tmp_path / f"{name}.log", headers={"Host": HOST}
                )
            for name, url, extra in fronts:
                _check_through(name, url, {"Host": HOST, **extra}, token, env)
        assert site.worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
    served_log = site.log
    lines = [
        json.loads(line) for line in served_log.read_text().splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line["logger"] == "avowal.access"]
    assert access and all(line["request_id"] for line in access)
    raw = served_log.read_text()
    assert "127.0.0.1:" not in raw.replace(f"127.0.0.1:{port}", "")  # no client address
    assert "eve.deploy@example.com" not in raw


def _check_through(
    name: str, url: str, headers: dict[str, str], token: str, env: dict[str, str]
) -> None:
    """Collect a person and read them back through ``url``, then see them counted."""
    auth = {**headers, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30.0, verify=False) as http:
        assert http.get("/readyz", headers=headers).status_code == 200, name
        notice = http.get("/v1/notices/registration", headers=headers).json()["notice_id"]
        collected = http.post(
            "/v1/collect/registration",
            headers=auth,
            json={
                "notice_id": notice,
                "subject": {"ref": f"deploy-{name}"},
                "values": {**REGISTRATION, "email": "eve.deploy@example.com"},
            },
        )
        assert collected.status_code == 201, (name, collected.text)
        assert collected.headers["x-request-id"]
        subject = collected.json()["subject_id"]
        read = http.get(
            f"/v1/subjects/{subject}/data",
            headers=auth,
            params={"purpose": "essential.service.authentication", "fields": "name"},
        )
        assert read.status_code == 200, (name, read.text)
        assert read.json()["values"]["name"]["value"] == REGISTRATION["name"]
        metrics = http.get(
            "/metrics",
            headers={**headers, "Authorization": f"Bearer {env['AVOWAL_METRICS_TOKEN']}"},
        )
        assert metrics.status_code == 200 and "avowal_http_requests_total" in metrics.text, name
