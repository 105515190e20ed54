"""FastAPI / Starlette: Jinja2Templates globals for avowal's notices, banner and tracker, and a
dependency giving the client.

``install(templates, public_url=..., domain=...)`` gives every template ``avowal_notice``,
``avowal_fields``, ``avowal_notice_input``, ``avowal_banner()`` and ``avowal_tracker()``;
``ClientProvider(base_url, token)`` is a dependency (``Depends(provider)``) handing out one
client, whose connections are reused. The logic lives in :mod:`avowal.integrations.forms`.
"""

from __future__ import annotations

import functools

import httpx
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from avowal.client import Client
from avowal.integrations import forms

__all__ = ["ClientProvider", "install"]


def install(templates: Jinja2Templates, *, public_url: str, domain: str | None = None) -> None:
    """Add avowal's helpers to the globals of ``templates``."""
    tracker = (
        functools.partial(forms.tracker_tag, public_url, domain)
        if domain is not None
        else (lambda: Markup(""))
    )
    templates.env.globals.update(
        avowal_notice=forms.notice_html,
        avowal_fields=forms.fields_html,
        avowal_notice_input=forms.notice_input,
        avowal_banner=functools.partial(forms.banner_tag, public_url),
        avowal_tracker=tracker,
    )


class ClientProvider:
    """A dependency returning the application's one client (its connections are reused)."""

    def __init__(self, base_url: str, token: str, *, http: httpx.Client | None = None) -> None:
        self.client = Client(base_url, token, http=http)

    def __call__(self) -> Client:
        """Return the client."""
        return self.client

    def close(self) -> None:
        """Close the client's connections (at the application's shutdown)."""
        self.client.close()
