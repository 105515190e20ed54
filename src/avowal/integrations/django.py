"""Django: template filters and tags for avowal's notices, banner and tracker, and a client.

Name this module as a template library in ``TEMPLATES[...]["OPTIONS"]["libraries"]``
(``{"avowal": "avowal.integrations.django"}``), then ``{% load avowal %}``:

- ``{{ notice|avowal_notice:changes }}`` (``changes``: a NoticeChanged's, or None),
  ``{{ notice|avowal_fields:values }}`` and
  ``{{ notice|avowal_notice_input }}`` render a notice, its form's inputs, its hidden id;
- ``{% avowal_banner %}`` and ``{% avowal_tracker %}`` the ``/c.js`` and ``/a.js`` tags.

Settings: ``AVOWAL = {"BASE_URL": ..., "TOKEN": ..., "PUBLIC_URL": ..., "DOMAIN": ...}``
(``HTTP``, an ``httpx.Client``, may replace the connection, e.g. in tests). The logic lives in
:mod:`avowal.integrations.forms`; this module only adapts it. It imports Django, so import it
only where Django is installed.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from markupsafe import Markup

from avowal.client import Client
from avowal.integrations import forms
from avowal.vault.schemas import Notice

__all__ = ["client", "register"]

register = template.Library()


def _setting(name: str) -> Any:
    config = getattr(settings, "AVOWAL", None) or {}
    if name not in config:
        raise ImproperlyConfigured(f"settings.AVOWAL has no {name!r} (see docs/client.md#django)")
    return config[name]


@functools.lru_cache(maxsize=8)
def _client(base_url: str, token: str, http: httpx.Client | None) -> Client:
    # One client (and connection pool) per configuration, kept for the process.
    return Client(base_url, token, http=http)


def client() -> Client:
    """Return the client for ``settings.AVOWAL``'s server and service token (one per process)."""
    config = getattr(settings, "AVOWAL", None) or {}
    return _client(_setting("BASE_URL"), _setting("TOKEN"), config.get("HTTP"))


def avowal_notice(notice: Notice, changed: bool | list[str] | None = False) -> Markup:
    """Render a notice; ``changed`` (True, or a NoticeChanged's ``changes``, even empty) opens it
    with a sentence saying the terms changed, and the list of changes."""
    if isinstance(changed, list):
        return forms.notice_html(notice, changed=True, changes=changed)
    return forms.notice_html(notice, changed=bool(changed))


def avowal_notice_input(notice: Notice) -> Markup:
    """Render the hidden input carrying the notice's id."""
    return forms.notice_input(notice)


def avowal_fields(notice: Notice, values: dict[str, str] | None = None) -> Markup:
    """Render a labelled input per field of the notice, and its hidden id."""
    return forms.fields_html(notice, values)


def avowal_banner() -> Markup:
    """Render the cookie banner's tag for ``AVOWAL["PUBLIC_URL"]``."""
    return forms.banner_tag(_setting("PUBLIC_URL"))


def avowal_tracker() -> Markup:
    """Render the page analytics tracker's tag for ``AVOWAL["DOMAIN"]``."""
    return forms.tracker_tag(_setting("PUBLIC_URL"), _setting("DOMAIN"))


# Registered by calls, not decorators: Django's decorators are untyped.
register.filter("avowal_notice", avowal_notice)
register.filter("avowal_notice_input", avowal_notice_input)
register.filter("avowal_fields", avowal_fields)
register.simple_tag(avowal_banner, name="avowal_banner")
register.simple_tag(avowal_tracker, name="avowal_tracker")
