"""The site's own application: cookie enforcement (ASGI and WSGI middleware) and forms.

Both read the visitor's consent cookie and ``Sec-GPC`` from each request, drop the response's
``Set-Cookie`` headers of categories the visitor has not consented to, and report the cookies
the policy does not declare. They need no database and no avowal server: only the policy.

:mod:`avowal.integrations.forms` shows a collection point's notice in the site's forms, collects
under the notice shown and reads for a declared purpose, through :class:`avowal.client.Client`;
``avowal.integrations.django``, ``.flask`` and ``.starlette`` adapt it to each framework (import
them only where the framework is installed: this package imports none of them).
"""

from avowal.integrations.asgi import ConsentCookiesASGI
from avowal.integrations.forms import (
    NoticeChanged,
    NoticeNotShown,
    Stored,
    banner_tag,
    fields_html,
    for_purpose,
    notice_html,
    notice_input,
    submit,
    tracker_tag,
    what_changed,
)
from avowal.integrations.wsgi import ConsentCookiesWSGI

__all__ = [
    "ConsentCookiesASGI",
    "ConsentCookiesWSGI",
    "NoticeChanged",
    "NoticeNotShown",
    "Stored",
    "banner_tag",
    "fields_html",
    "for_purpose",
    "notice_html",
    "notice_input",
    "submit",
    "tracker_tag",
    "what_changed",
]
