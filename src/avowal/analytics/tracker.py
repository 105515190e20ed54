"""The tracker script: its builds, their names and how they are cached.

``/a.js`` is cached for a day (sites that embed it pick up a new version within a day);
``/a-<hash8>.js`` is the same file under a name that changes with its content, cached for a
year as immutable. Plausible's file names (``/js/script.js``, ``/js/script.hash.outbound-links.js``
...) are builds of the same source (``tracker/a.js``) with the features their names ask for:
lines between ``//+feature`` and ``//-feature`` are kept only in builds with that feature
(``//+a|b`` for either, ``//+!manual`` for builds without it).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

from avowal.lib.errors import AvowalError

SIZE_BUDGET = 1024  # bytes, gzipped: scripts/check_tracker_size.py fails the build above it
EXTENSION_BUDGET = 500  # bytes, gzipped, that one feature may add to the default build
STABLE_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
MEDIA_TYPE = "text/javascript; charset=utf-8"


class UnknownScript(AvowalError):
    """A script name that is not Plausible's ``script[.extension...].js``."""

    status_code = 404
    error = "unknown_script"


@dataclass(frozen=True)
class Feature:
    """One of Plausible's script extensions, as it names it in a file name."""

    name: str
    description: str
    built: bool = True  # False: every build already does it, the name is only accepted


FEATURES: tuple[Feature, ...] = (
    Feature("hash", "hash-based routing: the fragment is part of the page"),
    Feature("manual", "no automatic page views; plausible('pageview', {u: ...}) sends them"),
    Feature("outbound-links", "clicks on links to other hosts: 'Outbound Link: Click'"),
    Feature("file-downloads", "clicks on links to files: 'File Download'"),
    Feature("tagged-events", "clicks and form submits tagged plausible-event-name=..."),
    Feature("pageview-props", "event-<prop> attributes of the script tag as page-view props"),
    Feature("revenue", "revenue: {amount, currency} (every build sends it)", built=False),
    Feature("exclusions", "data-exclude (every build reads it)", built=False),
    Feature("local", "pages on localhost (every build counts them)", built=False),
    Feature("compat", "the script finds itself as document.currentScript", built=False),
)
BY_NAME = {f.name: f for f in FEATURES}
BUILT = tuple(f.name for f in FEATURES if f.built)
FILE_NAME = re.compile(r"^(?:script|plausible)((?:\.[a-z0-9-]+)*)\.js$")
MARKER = re.compile(r"^//([+-])(\S+)$")


@dataclass(frozen=True)
class Script:
    """A build of the tracker, plain and gzipped, with its content version."""

    body: bytes
    gzipped: bytes
    version: str
    features: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """Return the versioned file name, e.g. ``a-3f2a9c8b.js``."""
        return f"a-{self.version}.js"

    @property
    def etag(self) -> str:
        """Return the strong entity tag of the content."""
        return f'"{self.version}"'


def template() -> str:
    """Return the source of every build, with its feature markers."""
    return files("avowal.analytics").joinpath("tracker", "a.js").read_text(encoding="utf-8")


def _wanted(condition: str, features: frozenset[str]) -> bool:
    """Say whether a block marked ``condition`` (``a|b``, ``!a``) belongs to a build."""
    for alternative in condition.split("|"):
        negated = alternative.startswith("!")
        name = alternative.removeprefix("!")
        if name not in BY_NAME:
            raise ValueError(f"tracker/a.js marks a block with an unknown feature {name!r}")
        if (name in features) != negated:
            return True
    return False


def render(features: Iterable[str] = ()) -> bytes:
    """Return the tracker built with ``features`` (names of :data:`FEATURES`)."""
    chosen = frozenset(features)
    kept: list[str] = []
    open_blocks: list[tuple[str, bool]] = []
    for line in template().splitlines():
        marker = MARKER.match(line)
        if marker is None:
            if all(keep for _, keep in open_blocks):
                kept.append(line)
            continue
        sign, condition = marker.groups()
        if sign == "+":
            open_blocks.append((condition, _wanted(condition, chosen)))
        elif not open_blocks or open_blocks.pop()[0] != condition:
            raise ValueError(f"tracker/a.js closes a block it did not open: {line}")
    if open_blocks:
        raise ValueError(f"tracker/a.js leaves a block open: //+{open_blocks[-1][0]}")
    return ("\n".join(kept) + "\n").encode()


def source() -> bytes:
    """Return the default tracker as shipped at ``/a.js``."""
    return render()


def gzipped_size(body: bytes) -> int:
    """Return the size of ``body`` gzipped at the highest level (what the budget counts)."""
    return len(gzip.compress(body, compresslevel=9, mtime=0))


@functools.cache
def build(features: frozenset[str] = frozenset()) -> Script:
    """Return the build with ``features`` (those every build has are left out of its name)."""
    effective = frozenset(f for f in features if BY_NAME[f].built)
    if effective != features:
        return build(effective)
    body = render(features)
    return Script(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=hashlib.sha256(body).hexdigest()[:8],
        features=features,
    )


def features_of(file_name: str) -> frozenset[str] | None:
    """Return the features a Plausible file name asks for, in any order; None if unknown.

    ``script.js``, ``script.hash.outbound-links.js``, ``plausible.outbound-links.hash.js``.
    """
    match = FILE_NAME.match(file_name)
    if match is None:
        return None
    names = [n for n in match.group(1).split(".") if n]
    if not all(n in BY_NAME for n in names):
        return None
    return frozenset(names)


def named(file_name: str) -> Script:
    """Return the build a Plausible file name asks for; refuse an unknown name or extension."""
    features = features_of(file_name)
    if features is None:
        raise UnknownScript(
            "write script.js or script.<extensions>.js, extensions among "
            + ", ".join(f.name for f in FEATURES),
            name=file_name[:100],
        )
    return build(features)


def load() -> Script:
    """Read the tracker and prepare what is served."""
    return build()


SCRIPT = load()
