"""A project made by ``avowal init NAME``: its policy, data and avowal.toml are used by every
command run in its folder (or given --project) and by the server, which agree on the policy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from avowal import project
from avowal.app import create_app
from avowal.cli import app as cli
from avowal.cli import main
from avowal.settings import Settings

runner = CliRunner()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AVOWAL_ setting from the environment: the project's file decides."""
    for name in list(os.environ):
        if name.startswith("AVOWAL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def site(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a project made by `avowal init mysite`, the current folder being it."""
    monkeypatch.chdir(tmp_path)
    made = runner.invoke(cli, ["init", "mysite"])
    assert made.exit_code == 0, made.output
    assert "next: cd mysite && avowal policy check policy.yaml" in made.stdout
    monkeypatch.chdir(tmp_path / "mysite")
    return tmp_path / "mysite"


def test_init_makes_a_project_with_its_own_policy_data_and_configuration(site: Path) -> None:
    assert (site / "policy.yaml").is_file()
    assert (site / ".avowal").is_dir()
    assert ".avowal/" in (site / ".gitignore").read_text()
    assert 'policy_file = "policy.yaml"' in (site / project.CONFIG_NAME).read_text()
    settings = Settings()
    assert settings.policy_file == site / "policy.yaml"
    assert settings.data_dir == site / ".avowal"
    # The starter policy is valid and has a service role for the site's back end; without a
    # file, the check takes the project's.
    check = runner.invoke(cli, ["policy", "check", "policy.yaml"])
    assert check.exit_code == 0, check.output
    default = runner.invoke(cli, ["policy", "check"])
    assert default.exit_code == 0, default.output
    assert f"{site / 'policy.yaml'}: valid policy of Example Ltd" in default.stdout
    assert "web_backend:" in (site / "policy.yaml").read_text()
    assert "service: true" in (site / "policy.yaml").read_text()
    # A second init keeps what is there.
    again = runner.invoke(cli, ["init", "."])
    assert again.exit_code == 1 and "use --force" in again.stderr


def test_the_cli_and_the_server_use_the_same_policy_and_data(site: Path) -> None:
    """The tour's bug: a token created against one policy, refused by a server on another."""
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert (site / ".avowal" / "avowal.sqlite3").is_file()  # the project's own database
    created = runner.invoke(cli, ["token", "create", "web", "--role", "web_backend"])
    assert created.exit_code == 0, created.output
    # Every command says which project it uses.
    assert f"avowal: project {site} (policy {site / 'policy.yaml'}" in created.stderr
    token = created.stdout.strip().splitlines()[0]
    status = runner.invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert f"project: {site} (avowal.toml)" in status.stdout
    assert "(current)" in status.stdout
    with TestClient(create_app(Settings())) as client:
        served = client.get("/v1/policy").json()["version_id"]
        assert f"version {served[:12]}" in status.stdout  # the CLI's policy is the server's
        notice = client.get("/v1/notices/registration").json()["notice_id"]
        collected = client.post(
            "/v1/collect/registration",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "notice_id": notice,
                "subject": {"ref": "user-1"},
                "values": {"name": "Ada Example", "email": "ada@example.com"},
            },
        )
        assert collected.status_code == 201, collected.text


def test_the_environment_wins_over_the_file_and_paths_are_the_projects(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / project.CONFIG_NAME).write_text(
        'policy_file = "policy.yaml"\ndata_dir = "var/data"\npublic_url = "https://p.example.com"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert Settings().policy_file != site / "policy.yaml"  # not in the project: not used
    monkeypatch.setenv(project.ENV, str(site))
    settings = Settings()
    assert settings.data_dir == site / "var" / "data"
    assert settings.public_url == "https://p.example.com"
    monkeypatch.setenv("AVOWAL_PUBLIC_URL", "https://env.example.com")
    assert Settings().public_url == "https://env.example.com"
    # --project names it the same way.
    monkeypatch.delenv(project.ENV)
    status = runner.invoke(cli, ["--project", str(site), "status"])
    assert status.exit_code == 0, status.output
    assert f"project: {site}" in status.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('polcy_file = "p.yaml"\n', "unknown setting 'polcy_file' — did you mean 'policy_file'?"),
        ("policy_file = \n", "not valid TOML"),
    ],
)
def test_a_bad_configuration_is_named(
    site: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (site / project.CONFIG_NAME).write_text(text)
    with pytest.raises(SystemExit) as exited:
        run_main(["status"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert message in err and str(site / project.CONFIG_NAME) in err
    assert "Traceback" not in err


def test_a_missing_project_is_named(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv(project.ENV, str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as exited:
        run_main(["status"])
    assert exited.value.code == 1
    assert f"{project.ENV}={tmp_path / 'nowhere'}: no avowal.toml there" in capsys.readouterr().err


def run_main(args: list[str]) -> None:
    """Run the installed entry point (main(), which reports configuration errors) on args."""
    import sys

    saved = sys.argv
    sys.argv = ["avowal", *args]
    try:
        main()
    finally:
        sys.argv = saved


def test_in_development_the_public_url_follows_the_port(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    seen: dict[str, Any] = {}

    def fake_create_app(settings: Settings, **_: Any) -> Any:
        seen["url"] = settings.public_url
        return create_app(settings, **_)

    monkeypatch.setattr("avowal.app.create_app", fake_create_app)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    served = runner.invoke(cli, ["serve", "--port", "8123"])
    assert served.exit_code == 0, served.output
    assert seen["url"] == "http://127.0.0.1:8123"
    assert "public URL http://127.0.0.1:8123" in served.stdout
    # Set in the project (or the environment), it is kept.
    (site / project.CONFIG_NAME).write_text(
        'policy_file = "policy.yaml"\ndata_dir = ".avowal"\npublic_url = "http://127.0.0.1:8000"\n'
    )
    assert runner.invoke(cli, ["serve", "--port", "8123"]).exit_code == 0
    assert seen["url"] == "http://127.0.0.1:8000"
