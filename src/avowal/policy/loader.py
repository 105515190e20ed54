"""Read a policy file: YAML with positions, then the Pydantic schema, then the semantic checks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from avowal.policy import checks
from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.schemas import Policy
from avowal.policy.taxonomy import Taxonomy


@dataclass(frozen=True)
class LoadedPolicy:
    """A valid policy, its taxonomy and its version id (a hash of its content)."""

    policy: Policy
    taxonomy: Taxonomy
    version_id: str
    source: str

    def as_json(self) -> dict[str, Any]:
        """Return the policy as plain JSON-able data."""
        return self.policy.model_dump(mode="json")


def content_hash(policy: Policy) -> str:
    """Hash the policy's canonical JSON: the same promises give the same version id."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _position(tree: Any, loc: tuple[str | int, ...]) -> tuple[int | None, int | None]:
    """Find the 1-based line and column of ``loc`` in the parsed YAML, as deep as it exists."""
    node = tree
    line: int | None = None
    col: int | None = None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(node, dict) and part in node:
                line, col = lc.key(part)
            elif lc is not None and isinstance(node, list) and isinstance(part, int):
                line, col = lc.item(part)
            else:
                break
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    if line is None:
        return None, None
    return line + 1, col + 1 if col is not None else None


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def parse_text(text: str, filename: str = "<policy>") -> LoadedPolicy:
    """Parse and check policy text; raise :class:`PolicyInvalid` listing every problem."""
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        reason = exc.problem or exc.context or "malformed YAML"
        raise PolicyInvalid(
            [Problem("", f"malformed YAML: {reason}", line=line, column=col)], filename
        ) from None
    except YAMLError as exc:
        raise PolicyInvalid([Problem("", f"malformed YAML: {exc}")], filename) from None
    if not isinstance(tree, dict):
        raise PolicyInvalid(
            [
                Problem(
                    "", "a policy file is a YAML mapping of sections (organisation, policy, ...)"
                )
            ],
            filename,
        )
    try:
        policy = Policy.model_validate(_plain(tree))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            line, col = _position(tree, loc)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of the policy format)"
            problems.append(Problem(_dotted(loc), msg, line=line, column=col))
        raise PolicyInvalid(
            sorted(problems, key=lambda p: (p.line or 0, p.location)), filename
        ) from None
    taxonomy, problems = checks.check(policy)
    if problems:
        located = [
            Problem(p.location, p.message, p.promise, *_position(tree, _split(p.location)))
            for p in problems
        ]
        raise PolicyInvalid(located, filename)
    return LoadedPolicy(policy, taxonomy, content_hash(policy), text)


def _split(location: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for piece in location.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                parts.append(head)
            idx, _, piece = rest.partition("]")
            parts.append(int(idx))
        if piece:
            parts.append(piece)
    return tuple(parts)


def _plain(node: Any) -> Any:
    """Turn ruamel's commented containers into plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_file(path: Path) -> LoadedPolicy:
    """Read and check a policy file from disk."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyInvalid(
            [Problem("", f"cannot read the policy file: {exc.strerror}")], str(path)
        ) from None
    except UnicodeDecodeError:
        raise PolicyInvalid([Problem("", "the policy file is not UTF-8 text")], str(path)) from None
    return parse_text(text, str(path))
