"""The inline loader tag: one code for every site, the CSP hash docs/consent.md states, the CLI."""

from __future__ import annotations

import base64
import hashlib

import pytest
from typer.testing import CliRunner

from avowal.cli import app
from avowal.consent import banner
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "consent.md"


def test_the_code_is_one_line_and_its_hash_is_the_csp_source() -> None:
    assert "\n" not in banner.LOADER_JS and "</script" not in banner.LOADER_JS
    digest = base64.b64encode(hashlib.sha256(banner.LOADER_JS.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == banner.LOADER_CSP
    a = banner.loader_tag("https://privacy.example.com/")
    b = banner.loader_tag("https://other.example.com")
    assert a == f'<script data-avowal="https://privacy.example.com">{banner.LOADER_JS}</script>'
    assert a.split(">", 1)[1] == b.split(">", 1)[1]  # only the attribute differs


def test_the_url_is_escaped_in_the_attribute() -> None:
    tag = banner.loader_tag('https://privacy.example.com/"><script>')
    assert '"><script>' not in tag.split(">", 1)[0] + ">"
    assert "&quot;&gt;&lt;script&gt;" in tag


def test_the_docs_state_the_tag_and_hash_as_built() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert banner.loader_tag("https://privacy.example.com") in text
    assert f"script-src {banner.LOADER_CSP} https://privacy.example.com" in text
    assert banner.async_tag("https://privacy.example.com") in text


def test_the_cli_prints_both_tags_for_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVOWAL_PUBLIC_URL", "https://privacy.example.com")
    result = CliRunner().invoke(app, ["cookies", "tag"])
    assert result.exit_code == 0, result.output
    assert banner.loader_tag("https://privacy.example.com") in result.output
    assert f"script-src {banner.LOADER_CSP} https://privacy.example.com" in result.output
    assert banner.async_tag("https://privacy.example.com") in result.output
