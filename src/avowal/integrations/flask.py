"""Flask: Jinja globals for avowal's notices, banner and tracker, and the app's client.

``init_app(app, client, public_url=..., domain=...)`` keeps the client in
``app.extensions["avowal"]`` (views get it with :func:`client`) and gives every template
``avowal_notice(notice)``, ``avowal_fields(notice, values)``, ``avowal_notice_input(notice)``,
``avowal_banner()`` and ``avowal_tracker()``. The logic lives in
:mod:`avowal.integrations.forms`; this module imports Flask, so import it only where Flask is.
"""

from __future__ import annotations

import functools

from flask import Flask, current_app
from markupsafe import Markup

from avowal.client import Client
from avowal.integrations import forms

__all__ = ["client", "init_app"]

EXTENSION = "avowal"


def init_app(app: Flask, client: Client, *, public_url: str, domain: str | None = None) -> None:
    """Keep the client for the app's views and add avowal's helpers to its templates."""
    app.extensions[EXTENSION] = client
    helpers: dict[str, object] = {
        "avowal_notice": forms.notice_html,
        "avowal_fields": forms.fields_html,
        "avowal_notice_input": forms.notice_input,
        "avowal_banner": functools.partial(forms.banner_tag, public_url),
    }
    if domain is not None:
        helpers["avowal_tracker"] = functools.partial(forms.tracker_tag, public_url, domain)
    else:
        helpers["avowal_tracker"] = lambda: Markup("")
    app.jinja_env.globals.update(helpers)


def client() -> Client:
    """Return the current app's client (set by :func:`init_app`)."""
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, Client):
        raise RuntimeError("avowal is not set up for this app: call init_app(app, client)")
    return found
