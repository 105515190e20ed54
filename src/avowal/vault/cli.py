"""`avowal receipt`: verify a receipt a person kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import fail, load_secrets
from avowal.crypto import signing
from avowal.settings import Settings

app = typer.Typer(help="Verify receipts.", no_args_is_help=True)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A receipt as returned by the API (JSON).")],
    public_key: Annotated[
        Path | None, typer.Option(help="PEM public key (default: this server's).")
    ] = None,
) -> None:
    """Exit 0 when the receipt's signature verifies, otherwise 1."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        doc, sig = raw["receipt"], raw["signature"]
        if not isinstance(doc, dict) or not isinstance(sig, str):
            raise TypeError("receipt must be an object and signature a string")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(
            f'{file} is not a receipt (expected {{"receipt": ..., "signature": ...}}): {exc}'
        ) from None
    if public_key is not None:
        try:
            key = signing.load_public_pem(public_key.read_text())
        except (OSError, ValueError) as exc:
            raise fail(f"cannot use {public_key} as an Ed25519 public key: {exc}") from None
    else:
        key = load_secrets(Settings()).signing_key.public_key()
    if not signing.verify(key, doc, sig):
        raise fail(
            f"{file}: signature does NOT verify (the receipt was altered or signed by another key)"
        )
    typer.echo(
        f"{file}: valid receipt {doc.get('receipt_id')} for subject "
        f"{doc.get('subject_id')} at {doc.get('point')}, signed by {signing.public_key_id(key)}"
    )
