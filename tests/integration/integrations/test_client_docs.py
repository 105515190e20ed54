"""docs/client.md states every public method of avowal.client.Client with its real signature,
and every exception class the client raises."""

from __future__ import annotations

import inspect
import re

from avowal import client as api
from tests.factories import ROOT

DOCS = (ROOT / "docs" / "client.md").read_text()


def _signature(name: str) -> str:
    """Return ``name(params) -> answer`` as written in the code (annotations as strings)."""
    sig = inspect.signature(getattr(api.Client, name))
    parts, starred = [], False
    for param in list(sig.parameters.values())[1:]:
        if param.kind is param.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        text = f"{param.name}: {param.annotation}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    return f"{name}({', '.join(parts)}) -> {sig.return_annotation}"


def _public_methods() -> list[str]:
    return [
        name
        for name, member in vars(api.Client).items()
        if inspect.isfunction(member) and not name.startswith("_") and name != "close"
    ]


def test_every_public_method_is_documented_with_its_signature() -> None:
    flat = re.sub(r"\s+", " ", DOCS)
    documented = re.findall(r"\*\*`(\w+)\(", DOCS)
    assert sorted(documented) == sorted(_public_methods())
    for name in _public_methods():
        assert f"**`{_signature(name)}`**" in flat, _signature(name)


def test_every_error_class_is_documented() -> None:
    for cls in {*api._BY_ERROR.values(), api.AvowalError}:
        assert f"| `{cls.__name__}`" in DOCS, cls.__name__
    for code, cls in api._BY_ERROR.items():
        row = next(line for line in DOCS.splitlines() if line.startswith(f"| `{cls.__name__}` |"))
        assert f"`{code}`" in row, (code, cls.__name__)
