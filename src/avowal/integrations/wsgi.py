"""WSGI middleware: drop the ``Set-Cookie`` headers the visitor has not consented to.

Wrap any WSGI application (Django's ``get_wsgi_application()``, Flask's ``app.wsgi_app``)::

    application = ConsentCookiesWSGI(application, policy="policy.yaml")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from avowal.integrations.enforcer import Enforcer, PolicySource
from avowal.integrations.rules import Visitor

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class ConsentCookiesWSGI:
    """Enforce the policy's cookie choices on a WSGI application's responses."""

    def __init__(self, app: WSGIApplication, policy: PolicySource) -> None:
        self.app = app
        self.enforcer = Enforcer(policy)

    @property
    def undeclared(self) -> dict[str, int]:
        """Return how often each undeclared cookie name was set (a snapshot)."""
        return dict(self.enforcer.metrics.undeclared)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Pass the request through; filter the headers given to ``start_response``."""
        cookie = environ.get("HTTP_COOKIE")
        gpc = environ.get("HTTP_SEC_GPC")
        visitor = self.enforcer.visitor(
            [cookie] if isinstance(cookie, str) else [], gpc if isinstance(gpc, str) else None
        )

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            try:
                headers = self._filter(headers, visitor)
            except Exception as exc:
                self.enforcer.failed("filtering response headers", exc)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def _filter(self, headers: list[tuple[str, str]], visitor: Visitor) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name, value in headers
            if name.lower() != "set-cookie" or self.enforcer.keep(visitor, value)
        ]
