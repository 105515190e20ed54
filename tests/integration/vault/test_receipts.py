"""Receipts are signed so the person can keep and verify them, here and with the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.client import Client
from avowal.crypto import signing
from avowal.settings import Settings

runner = CliRunner()


def test_receipt_is_fetchable_and_verifies_with_the_published_key(
    client: TestClient, backend: Client, registered: dict[str, Any]
) -> None:
    kept = registered["purchase"].model_dump(
        mode="json", exclude={"subject_id", "parental_consent"}
    )
    rid = kept["receipt"]["receipt_id"]
    fetched = client.get(f"/v1/receipts/{rid}").json()
    assert fetched == kept
    key = client.get("/v1/receipts/key").json()
    assert key["algorithm"] == "Ed25519"
    assert key["key_id"] == kept["receipt"]["key_id"]
    public = signing.load_public_pem(key["public_key_pem"])
    assert signing.verify(public, fetched["receipt"], fetched["signature"])
    forged = {**fetched["receipt"], "recipients": []}
    assert not signing.verify(public, forged, fetched["signature"])
    assert client.get("/v1/receipts/00000000-0000-0000-0000-000000000000").status_code == 404
    # The client's typed answer round-trips the signed document exactly.
    typed = backend.receipt(rid)
    assert signing.verify(public, typed.receipt.model_dump(mode="json"), typed.signature)
    assert backend.receipt_key().public_key_pem == key["public_key_pem"]


def test_cli_verifies_a_kept_receipt_and_rejects_an_altered_one(
    client: TestClient,
    registered: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    kept = tmp_path / "receipt.json"
    answer = registered["registration"].model_dump(mode="json")
    kept.write_text(json.dumps(answer))
    ok = runner.invoke(cli, ["receipt", "verify", str(kept)])
    assert ok.exit_code == 0, ok.output
    assert "valid receipt" in ok.stdout

    pem = tmp_path / "key.pem"
    pem.write_text(client.get("/v1/receipts/key").json()["public_key_pem"])
    ok_with_key = runner.invoke(cli, ["receipt", "verify", str(kept), "--public-key", str(pem)])
    assert ok_with_key.exit_code == 0, ok_with_key.output

    altered = dict(answer)
    altered["receipt"] = {**altered["receipt"], "fields": ["name"]}
    kept.write_text(json.dumps(altered))
    bad = runner.invoke(cli, ["receipt", "verify", str(kept)])
    assert bad.exit_code == 1
    assert "does NOT verify" in bad.stderr

    kept.write_text("{not json")
    broken = runner.invoke(cli, ["receipt", "verify", str(kept)])
    assert broken.exit_code == 1
    assert "is not a receipt" in broken.stderr
