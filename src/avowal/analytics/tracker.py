"""The tracker script: its bytes, its versioned name and how it is cached.

``/a.js`` is cached for a day (sites that embed it pick up a new version within a day);
``/a-<hash8>.js`` is the same file under a name that changes with its content, cached for a
year as immutable.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files

SIZE_BUDGET = 1024  # bytes, gzipped: scripts/check_tracker_size.py fails the build above it
STABLE_CACHE = "public, max-age=86400, stale-while-revalidate=604800"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
MEDIA_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class Script:
    """The tracker, plain and gzipped, with its content version."""

    body: bytes
    gzipped: bytes
    version: str

    @property
    def name(self) -> str:
        """Return the versioned file name, e.g. ``a-3f2a9c8b.js``."""
        return f"a-{self.version}.js"

    @property
    def etag(self) -> str:
        """Return the strong entity tag of the content."""
        return f'"{self.version}"'


def source() -> bytes:
    """Return the tracker as shipped."""
    return files("avowal.analytics").joinpath("tracker", "a.js").read_bytes()


def gzipped_size(body: bytes) -> int:
    """Return the size of ``body`` gzipped at the highest level (what the budget counts)."""
    return len(gzip.compress(body, compresslevel=9, mtime=0))


def load() -> Script:
    """Read the tracker and prepare what is served."""
    body = source()
    return Script(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=hashlib.sha256(body).hexdigest()[:8],
    )


SCRIPT = load()
