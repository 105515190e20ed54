"""The README's five-minute tour, run as written in a fresh folder: the example checked and
rendered, a project initialised, checked, migrated and served on its own policy and data."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx

from tests import server
from tests.conftest import REPO_ROOT

SERVE = re.compile(r"avowal serve --port (\d+)")


def tour(heading: str = "## A five-minute tour") -> list[str]:
    """Return the commands of the README's tour under ``heading``, comments dropped."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    start = section.index("```sh\n") + len("```sh\n")
    block = section[start : section.index("\n```", start)]
    lines = [line.split("  #")[0].rstrip() for line in block.splitlines()]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_five_minute_tour_works_as_written(tmp_path: Path) -> None:
    commands = tour()
    assert commands[0] == ". .venv/bin/activate" and "avowal init mysite" in commands
    last = commands[-1]
    port = SERVE.search(last)
    assert port is not None, last
    # The tour runs where a clone would be: the example and the virtual environment at hand.
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    (tmp_path / ".venv").symlink_to(REPO_ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    # Everything but the server, which the test starts itself on a free port.
    before_serving = last[: port.start()].rstrip(" &")
    script = "\n".join(["set -euo pipefail", *commands[:-1], before_serving])
    ran = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "valid policy of" in ran.stdout
    assert (tmp_path / "privacy.md").is_file()
    site = tmp_path / "mysite"
    assert (site / ".avowal" / "avowal.sqlite3").is_file()  # the project's own database
    status = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/avowal"), "status"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    version = re.search(r"version (\w{12})", status.stdout)
    assert version is not None, status.stdout
    free = server.free_port()
    process = subprocess.Popen(
        ["bash", "-c", f". ../.venv/bin/activate && {last.replace(port.group(1), str(free))}"],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        served = wait_for(f"http://127.0.0.1:{free}/v1/policy")
        # The next tours, in the project's folder against its server, unchanged but its address.
        published = run_tour("### Publishing a change", site, env, free)
        vault = run_tour("## The vault in five more minutes", site, env, free)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert served is not None, output
    assert str(served["version_id"]).startswith(version.group(1))  # the CLI's policy, served
    assert "'name': 'Example Ltd'" in str(served["policy"])  # the starter's, not the example's
    assert f"public URL http://127.0.0.1:{free}" in output, output
    assert "published version" in published and "A new version takes effect on" in published
    assert "! MATERIAL  Retention: retention.essential.service.days changed from 365 to 1095" in (
        published
    )
    assert '"message":{"value":"What do you keep about me?"' in vault, vault
    assert '"error":"purpose_not_granted"' in vault, vault
    assert "audit chain intact" in vault, vault


UPCOMING = "curl -s $A/privacy | grep -A1 'class=\"upcoming\"'"


def run_tour(heading: str, site: Path, env: dict[str, str], port: int) -> str:
    """Run a README tour in the project's folder against its server on ``port``; return its
    output. The page shows a published version at the server's next look (every few seconds):
    its line is retried until then."""
    lines = []
    for line in tour(heading):
        line = line.replace("http://127.0.0.1:8001", f"http://127.0.0.1:{port}")
        if line.strip() == UPCOMING:
            line = f"for _ in $(seq 60); do {UPCOMING} && break; sleep 0.5; done"
        lines.append(line)
    script = "\n".join(["set -euo pipefail", f". {REPO_ROOT}/.venv/bin/activate", *lines])
    ran = subprocess.run(
        ["bash", "-c", script], cwd=site, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, (heading, ran.stdout, ran.stderr)
    return ran.stdout


def wait_for(url: str, timeout: float = server.START_TIMEOUT * 2) -> dict[str, object] | None:
    """Return the JSON at ``url`` once it answers 200, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=2.0)
            if answer.status_code == 200:
                found: dict[str, object] = answer.json()
                return found
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return None
