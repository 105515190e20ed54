"""Packaged stylesheets (and scripts) served at a URL that changes with their content, so they
cache forever."""

from __future__ import annotations

import hashlib
from functools import cached_property
from importlib import resources

from starlette.responses import Response


class Stylesheet:
    """A CSS file (or another asset) shipped inside a package, served at ``path?v=<hash>``."""

    def __init__(
        self, package: str, resource: str, path: str, *, media_type: str = "text/css"
    ) -> None:
        self.package = package
        self.resource = resource
        self.path = path
        self.media_type = media_type

    @cached_property
    def content(self) -> bytes:
        """Return the stylesheet's bytes."""
        return resources.files(self.package).joinpath(self.resource).read_bytes()

    @cached_property
    def version(self) -> str:
        """Return a short hash of the content, so a changed file gets a new URL."""
        return hashlib.sha256(self.content).hexdigest()[:12]

    @property
    def href(self) -> str:
        """Return the versioned URL pages link to."""
        return f"{self.path}?v={self.version}"

    def response(self) -> Response:
        """Answer a request for the stylesheet, cacheable for a year."""
        return Response(
            self.content,
            media_type=self.media_type,
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                "ETag": f'"{self.version}"',
            },
        )
