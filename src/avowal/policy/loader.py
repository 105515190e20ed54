"""Read a policy file: YAML with positions, then the Pydantic schema, then the semantic checks.

:func:`inspect_text` runs every stage that can run and reports all it finds (problems, and
warnings about parts nothing uses); :func:`parse_text` and :func:`load_file` raise
:class:`PolicyInvalid` on any problem and return the valid policy otherwise.

A policy file may come from anyone who can open a pull request, so it is read defensively:
at most ``MAX_POLICY_BYTES``, UTF-8 text with only storable characters (no NUL, lone surrogate
or noncharacter), nested at most ``MAX_DEPTH`` levels, with at most ``MAX_ALIASES`` aliases and
at most ``MAX_NODES`` nodes once every alias is expanded ("billion laughs"). These limits are
checked on YAML's events as the document is built (before any alias is expanded, before the
composer recurses past the limit); a file over them gets one problem with its line and column,
in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)
from ruamel.yaml.parser import RoundTripParser

from avowal.lib import text as storable
from avowal.policy import checks, locations, schema_errors, unused
from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.report import Report
from avowal.policy.salvage import salvage
from avowal.policy.schemas import Policy
from avowal.policy.taxonomy import Taxonomy

# Far above any real policy (the example is 12 kB, 8 levels, no alias), far below harm.
MAX_POLICY_BYTES = 1024 * 1024
MAX_DEPTH = storable.MAX_DEPTH
MAX_ALIASES = 200
MAX_NODES = 200_000
# Quoted scalars on one line, and the flow indicators: enough to see flow nesting at a glance.
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'')
_BRACKETS = re.compile(r"[\[\]{}]")


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


def parse_text(text: str, filename: str = "<policy>") -> LoadedPolicy:
    """Parse and check policy text; raise :class:`PolicyInvalid` listing every problem."""
    report = inspect_text(text, filename)
    if report.loaded is None:
        raise PolicyInvalid(report.problems, filename)
    return report.loaded


def inspect_text(text: str, filename: str = "<policy>") -> Report:
    """Check policy text through every stage that can run; report every problem and warning.

    A file the YAML reader refuses gets that one problem. A file the schema refuses gets its
    schema problems and, checked on what the schema accepts, its semantic problems too.
    """
    try:
        tree = _read_yaml(text, filename)
    except PolicyInvalid as exc:
        return Report(filename, exc.problems, checked=False)
    data = _plain(tree)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = schema_errors.problems(exc.errors(), data, tree)
        salvaged = salvage(data)
        if salvaged is None:
            return Report(filename, problems, checked=False)
        _, found = checks.check(salvaged.policy)
        return Report(filename, [*problems, *salvaged.located(found, tree)])
    taxonomy, found = checks.check(policy)
    problems = [_located(tree, p) for p in found]
    warnings = [_located(tree, w) for w in unused.warnings(policy)]
    loaded = None if problems else LoadedPolicy(policy, taxonomy, content_hash(policy), text)
    return Report(filename, problems, warnings, loaded)


def _located(tree: Any, problem: Problem) -> Problem:
    """Give a problem found on the validated policy its line and column in the file."""
    line, column = locations.position(tree, locations.split(problem.location))
    return Problem(
        problem.location, problem.message, problem.promise, line, column, problem.suggestion
    )


def _read_yaml(text: str, filename: str) -> Any:
    """Parse the text within the limits into a mapping of sections, or raise PolicyInvalid."""
    _check_text(text, filename)
    try:
        tree = _limited_yaml(filename).load(text)
    except RecursionError:
        # Not expected within the limits; a traceback is never the answer to a bad file.
        raise PolicyInvalid(
            [Problem("", f"nested deeper than {MAX_DEPTH} levels")], filename
        ) from None
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
    _check_scalars(tree, filename)
    if not isinstance(tree, dict):
        raise PolicyInvalid(
            [
                Problem(
                    "", "a policy file is a YAML mapping of sections (organisation, policy, ...)"
                )
            ],
            filename,
        )
    return tree


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _check_text(text: str, filename: str) -> None:
    """Refuse text that is too long or holds a character that cannot be stored."""
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyInvalid(
            [Problem("", f"a policy file is at most {MAX_POLICY_BYTES} bytes")], filename
        )
    found = storable.first_bad(text)
    if found is not None:
        line, column = _line_column(text, found)
        reason = f"U+{ord(text[found]):04X} cannot be stored; remove it"
        raise PolicyInvalid([Problem("", reason, line=line, column=column)], filename)
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_flow_depth(text, filename)


def _check_flow_depth(text: str, filename: str) -> None:
    """Refuse ``[[[[...`` nesting before the YAML scanner sees it.

    The scanner looks up to 1024 characters ahead for each possible key, which costs most of a
    second on a line of thousands of brackets; the event walk would refuse it anyway, but only
    afterwards. Brackets in quoted scalars do not count.
    """
    depth = 0
    bare = _QUOTED.sub(lambda m: " " * len(m.group()), text)
    for match in _BRACKETS.finditer(bare):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _line_column(text, match.start())
                raise PolicyInvalid(
                    [
                        Problem(
                            "", f"nested deeper than {MAX_DEPTH} levels", line=line, column=column
                        )
                    ],
                    filename,
                )
        elif depth:
            depth -= 1


def _check_scalars(tree: Any, filename: str) -> None:
    """Refuse a key or value that escapes (``"\\0"``, ``"\\ud800"``) to unstorable text."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(tree, ())]
    while pending:
        node, loc = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and storable.problem(key) is not None:
                    _refuse_scalar(tree, loc, key, filename)
                pending.append((value, (*loc, key)))
        elif isinstance(node, list):
            pending.extend((value, (*loc, i)) for i, value in enumerate(node))
        elif isinstance(node, str) and storable.problem(node) is not None:
            _refuse_scalar(tree, loc, node, filename)


def _refuse_scalar(tree: Any, loc: tuple[str | int, ...], value: str, filename: str) -> None:
    line, column = locations.position(tree, loc)
    reason = storable.problem(value) or ""
    where = locations.dotted(tuple(storable.clean(p) if isinstance(p, str) else p for p in loc))
    raise PolicyInvalid([Problem(where, reason, line=line, column=column)], filename)


class _Shape:
    """Refuse YAML nested too deeply or expanding to too many nodes, event by event.

    Fed each event as the composer takes it (nothing expanded yet): each anchored node's
    expanded size is recorded, each alias adds its anchor's size, so a "billion laughs" file is
    refused at the alias that crosses ``MAX_NODES``, and deep nesting at its 33rd level, before
    the composer recurses any further.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.sizes: dict[str, int] = {}
        # One [size, anchor] per open collection; the bottom one counts the documents' roots.
        self.open: list[list[Any]] = [[0, None]]
        self.aliases = 0

    def see(self, event: Event) -> None:
        """Account for one event; raise :class:`PolicyInvalid` past a limit."""
        if isinstance(event, CollectionStartEvent):
            if len(self.open) > MAX_DEPTH:
                raise self._refuse(event, f"nested deeper than {MAX_DEPTH} levels")
            self.open.append([1, event.anchor])
            return
        if isinstance(event, CollectionEndEvent):
            size, anchor = self.open.pop()
            if anchor is not None:
                self.sizes[anchor] = size
            added = size
        elif isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self._refuse(event, f"more than {MAX_ALIASES} aliases (*name)")
            added = self.sizes.get(event.anchor, 1)
        elif isinstance(event, ScalarEvent):
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
            added = 1
        else:
            return
        total = self.open[-1][0] = self.open[-1][0] + added
        if total > MAX_NODES:
            raise self._refuse(
                event,
                f"expands to more than {MAX_NODES} values once its aliases (*name) are "
                "replaced by what they name",
            )

    def _refuse(self, event: Event, message: str) -> PolicyInvalid:
        mark = event.start_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        return PolicyInvalid([Problem("", message, line=line, column=column)], self.filename)


def _limited_yaml(filename: str) -> YAML:
    """Return a round-trip YAML loader whose parser shows every event to a :class:`_Shape`."""
    shape = _Shape(filename)

    class LimitedParser(RoundTripParser):
        def get_event(self) -> Any:
            event = super().get_event()
            shape.see(event)
            return event

    yaml = YAML(typ="rt")
    yaml.Parser = LimitedParser
    return yaml


def _plain(node: Any) -> Any:
    """Turn ruamel's commented containers into plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_file(path: Path) -> LoadedPolicy:
    """Read and check a policy file from disk; raise :class:`PolicyInvalid` on any problem."""
    return parse_text(_read_file(path), str(path))


def inspect_file(path: Path) -> Report:
    """Read and check a policy file from disk; report every problem and warning."""
    try:
        text = _read_file(path)
    except PolicyInvalid as exc:
        return Report(str(path), exc.problems, checked=False)
    return inspect_text(text, str(path))


def _read_file(path: Path) -> str:
    """Read a policy file's text, at most MAX_POLICY_BYTES of UTF-8, or raise PolicyInvalid."""
    return read_limited(path, MAX_POLICY_BYTES, "policy file")


def read_limited(path: Path, limit: int, what: str) -> str:
    """Read a YAML file's text, at most ``limit`` bytes of UTF-8, or raise PolicyInvalid naming
    ``what`` it is (a policy file, a Fides manifest...)."""
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1)
    except OSError as exc:
        raise PolicyInvalid(
            [Problem("", f"cannot read the {what}: {exc.strerror}")], str(path)
        ) from None
    if len(raw) > limit:
        raise PolicyInvalid([Problem("", f"a {what} is at most {limit} bytes")], str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode()) + 1
        reason = (
            f"not UTF-8 text (byte 0x{raw[exc.start]:02X} cannot start or continue a character)"
        )
        raise PolicyInvalid([Problem("", reason, line=line, column=column)], str(path)) from None
    return text
