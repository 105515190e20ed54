"""The public version pages, their JSON twins, their refusals, and `avowal policy diff`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.lifecycle.models import PolicyVersion
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.settings import Settings
from tests.factories import policy_text


def _older(d: dict[str, Any]) -> None:
    d["policy"]["title"] = "Privacy Policy (2016 edition)"
    d["policy"]["effective"] = dt.date(2016, 5, 1)


def _newer(d: dict[str, Any]) -> None:
    d["collection_points"]["registration"]["purposes"].append("marketing.communications.email")
    d["policy"]["effective"] = dt.date(2031, 1, 1)
    d["policy"]["introduction"] = "We at Example keep your data safe and use it as told here."


def _row(loaded: LoadedPolicy, effective_at: dt.datetime, **values: Any) -> PolicyVersion:
    values.setdefault("version_id", loaded.version_id)
    return PolicyVersion(
        effective=loaded.policy.policy.effective,
        effective_at=effective_at,
        published_at=effective_at - dt.timedelta(days=30),
        published_by="officer@example.com",
        summary=values.pop("summary", None),
        previous_id=values.pop("previous_id", None),
        material=values.pop("material", False),
        changes=[],
        source=loaded.source,
        document=loaded.as_json(),
        **values,
    )


@dataclass(frozen=True)
class Versions:
    older: str
    current: str
    newer: str


def _insert(engine: Engine, *rows: PolicyVersion) -> None:
    with make_sessionmaker(engine)() as session, session.begin():
        session.add_all(rows)


@pytest.fixture
def versions(client: TestClient, app: FastAPI, engine: Engine) -> Versions:
    """Publish an older version, the example (in effect since 2017), and an upcoming one."""
    now = clock.now()
    current = app.state.policies.current().version_id
    older, newer = parse_text(policy_text(_older)), parse_text(policy_text(_newer))
    _insert(
        engine,
        _row(older, dt.datetime(2016, 5, 1, tzinfo=dt.UTC), summary="The first published policy."),
        _row(
            newer,
            now + dt.timedelta(days=30),
            summary="Registration data is used for news by e-mail.",
            previous_id=current,
            material=True,
        ),
    )
    return Versions(older.version_id, current, newer.version_id)


def test_versions_page_lists_each_with_state_and_links(
    client: TestClient, versions: Versions
) -> None:
    page = client.get("/privacy/versions")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "/assets/privacy.css?v=" in html and "/assets/versions.css?v=" in html
    for version_id in (versions.older, versions.current, versions.newer):
        assert f'href="/privacy/versions/{version_id}"' in html
    assert "In effect" in html and "Upcoming" in html and "Superseded" in html
    assert "Registration data is used for news by e-mail." in html
    assert html.count("Material change") == 1
    assert f"/privacy/diff?from={versions.current}&amp;to={versions.newer}" in html
    assert f"/privacy/diff?from={versions.older}&amp;to={versions.current}" in html
    assert "The first version on record." in html
    # Newest first: the upcoming version, the one in effect, the older one.
    order = [html.index(f"/privacy/versions/{v}") for v in versions.__dict__.values()]
    assert order[2] < order[1] < order[0]
    css = client.get(re.search(r'href="(/assets/versions\.css\?v=\w+)"', html)[1])  # type: ignore[index]
    assert css.status_code == 200 and ".text-changes" in css.text


def test_versions_json(client: TestClient, versions: Versions) -> None:
    answer = client.get("/v1/policy/versions")
    assert answer.status_code == 200
    body = answer.json()
    assert body["in_effect"] == versions.current
    listed = {v["version_id"]: v for v in body["versions"]}
    assert [v["version_id"] for v in body["versions"]] == [
        versions.newer,
        versions.current,
        versions.older,
    ]
    assert listed[versions.newer]["state"] == "upcoming"
    assert listed[versions.newer]["material"] is True
    assert listed[versions.newer]["predecessor"] == versions.current
    assert listed[versions.current]["predecessor"] == versions.older
    assert listed[versions.older]["state"] == "superseded"
    assert listed[versions.older]["predecessor"] is None
    assert listed[versions.older]["changes"] is None
    assert listed[versions.older]["short_id"] == versions.older[:12]
    assert listed[versions.older]["effective"] == "2016-05-01"


def test_version_page_shows_that_version(client: TestClient, versions: Versions) -> None:
    page = client.get(f"/privacy/versions/{versions.older[:8]}")
    assert page.status_code == 200
    assert "Privacy Policy (2016 edition)" in page.text
    assert page.headers["etag"] == f'"{versions.older}"'


def test_diff_page_flags_and_explains_material_changes(
    client: TestClient, versions: Versions
) -> None:
    page = client.get("/privacy/diff", params={"from": versions.current, "to": versions.newer})
    assert page.status_code == 200
    html = page.text
    assert "1 material change." in html
    assert '<h3 id="area-purpose">Purposes</h3>' in html
    assert '<li class="material"><span class="badge badge-material">Material</span>' in html
    assert (
        "Why it is material: registration gains the purpose marketing.communications.email: "
        "data given earlier needs the person&#39;s explicit consent"
    ) in html
    assert '<span class="visually-hidden">Added: </span>We at Example keep your data safe' in html
    assert '<span class="visually-hidden">Removed: </span>Your privacy is very important' in html


def test_diff_page_of_a_non_material_change(client: TestClient, versions: Versions) -> None:
    page = client.get("/privacy/diff", params={"from": versions.older, "to": versions.current})
    assert page.status_code == 200
    assert "none of them material" in page.text
    assert "policy.title changed from" in page.text
    assert "badge-material" not in page.text


def test_diff_json(client: TestClient, versions: Versions) -> None:
    answer = client.get(
        "/v1/policy/diff", params={"from": versions.current[:8], "to": versions.newer}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["from_version"]["version_id"] == versions.current
    assert body["to_version"]["summary"] == "Registration data is used for news by e-mail."
    assert body["material"] is True
    (material,) = [c for c in body["changes"] if c["material"]]
    assert material["rule"] == "point_gains_purpose"
    assert material["area"] == "purpose" and material["key"] == "registration"
    assert material["after"] == "marketing.communications.email"
    sections = {t["section"] for t in body["text"]}
    assert "introduction" in sections


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"from": "0123456789abcdef", "to": "NEWER"}, 404, "unknown_version"),
        ({"from": "not-a-version", "to": "NEWER"}, 422, "malformed_version_id"),
        ({"from": "abc", "to": "NEWER"}, 422, "malformed_version_id"),
        ({"from": "NEWER", "to": "NEWER"}, 400, "same_version"),
        ({"from": "AMBIGUOUS", "to": "NEWER"}, 400, "ambiguous_version"),
        ({"to": "NEWER"}, 422, "invalid_request"),
    ],
)
def test_diff_refusals(
    client: TestClient,
    engine: Engine,
    versions: Versions,
    params: dict[str, str],
    status: int,
    error: str,
) -> None:
    # A second id sharing the older version's first 8 digits makes that prefix ambiguous.
    twin = versions.older[:8] + ("0" if versions.older[8] != "0" else "1") * 56
    _insert(engine, _row(parse_text(policy_text(_older)), clock.now(), version_id=twin))
    names = {"NEWER": versions.newer, "AMBIGUOUS": versions.older[:8]}
    params = {k: names.get(v, v) for k, v in params.items()}
    answer = client.get("/v1/policy/diff", params=params)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    page = client.get("/privacy/diff", params=params)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in page.text


def test_diff_page_says_what_is_missing(client: TestClient, versions: Versions) -> None:
    page = client.get("/privacy/diff")
    assert page.status_code == 422
    assert "say which versions to compare: from and to missing" in page.text


@pytest.mark.parametrize(
    ("ref", "status"), [("0123456789abcdef", 404), ("../../etc/passwd", 404), ("XYZ12345", 422)]
)
def test_version_page_refusals(
    client: TestClient, versions: Versions, ref: str, status: int
) -> None:
    # A slash is no version id at all: the route does not match, and the answer is a 404.
    page = client.get(f"/privacy/versions/{ref}")
    assert page.status_code == status


def test_diff_command(
    settings: Settings,
    versions: Versions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "AVOWAL_ENV": "test",
        "AVOWAL_DATA_DIR": str(settings.data_dir),
        "AVOWAL_DATABASE_URL": settings.effective_database_url,
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    newer = tmp_path / "newer.yaml"
    newer.write_text(policy_text(_newer))
    out = runner.invoke(cli, ["policy", "diff", versions.current[:10], str(newer), "--text"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert "1 material" in lines[0]
    assert lines[1].startswith("! MATERIAL  Purposes: registration gains the purpose")
    assert "why: registration gains the purpose marketing.communications.email" in lines[2]
    assert "+ We at Example keep your data safe and use it as told here." in lines
    as_json = runner.invoke(cli, ["policy", "diff", versions.older, versions.newer, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert '"material": true' in as_json.stdout
    same = runner.invoke(cli, ["policy", "diff", str(newer), versions.newer[:8]])
    assert same.exit_code == 0 and "0 changes, 0 material" in same.stdout
    unknown = runner.invoke(cli, ["policy", "diff", "0123456789abcdef", str(newer)])
    assert unknown.exit_code == 1
    assert "no published version has the id 0123456789abcdef" in unknown.stderr
    missing = runner.invoke(cli, ["policy", "diff", str(tmp_path / "nope.yaml"), str(newer)])
    assert missing.exit_code == 1 and "cannot read the policy file" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("avowal: 1\n")
    invalid = runner.invoke(cli, ["policy", "diff", str(broken), str(newer)])
    assert invalid.exit_code == 1 and "problem" in invalid.stderr
