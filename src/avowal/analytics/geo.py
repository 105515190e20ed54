"""Country of an IP address from a local MaxMind-format database, when the operator gives one.

The lookup happens in memory on the request's address; only the two-letter country code is
kept. Without ``AVOWAL_GEOIP_FILE`` no country is kept at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import maxminddb


class GeoIPUnavailable(RuntimeError):
    """The configured country database cannot be read."""


class Countries:
    """An open country database."""

    def __init__(self, path: Path) -> None:
        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError) as exc:
            raise GeoIPUnavailable(
                f"AVOWAL_GEOIP_FILE: cannot read {path} as a MaxMind country database: {exc}"
            ) from None

    def country(self, ip: str) -> str | None:
        """Return the ISO 3166 code of the country ``ip`` is in, or None."""
        try:
            record: Any = self.reader.get(ip)
        except ValueError:
            # Not an IP address (a test client, a Unix socket peer).
            return None
        if not isinstance(record, dict):
            return None
        # Where the address is used, not where its block is registered (registered_country).
        place = record.get("country")
        code = place.get("iso_code") if isinstance(place, dict) else None
        return code.upper() if isinstance(code, str) and len(code) == 2 else None

    def close(self) -> None:
        """Release the file."""
        self.reader.close()


def open_countries(path: Path | None) -> Countries | None:
    """Open the configured country database, or return None when none is configured."""
    return Countries(path) if path is not None else None
