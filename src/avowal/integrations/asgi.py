"""ASGI middleware: drop the ``Set-Cookie`` headers the visitor has not consented to.

Wrap any ASGI application (Starlette, FastAPI, Django's ``get_asgi_application()``)::

    app = ConsentCookiesASGI(app, policy="policy.yaml")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from avowal.integrations.enforcer import Enforcer, PolicySource
from avowal.integrations.rules import Visitor

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Messages that carry response headers: an HTTP response, and a WebSocket's acceptance.
_STARTS = frozenset({"http.response.start", "websocket.accept"})


class ConsentCookiesASGI:
    """Enforce the policy's cookie choices on an ASGI application's responses."""

    def __init__(self, app: ASGIApp, policy: PolicySource) -> None:
        self.app = app
        self.enforcer = Enforcer(policy)

    @property
    def undeclared(self) -> dict[str, int]:
        """Return how often each undeclared cookie name was set (a snapshot)."""
        return dict(self.enforcer.metrics.undeclared)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; filter the response's ``Set-Cookie`` headers."""
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        visitor = self.enforcer.visitor(*_request(scope))

        async def filtered(message: Message) -> None:
            if message.get("type") in _STARTS:
                try:
                    message = self._filter(message, visitor)
                except Exception as exc:
                    self.enforcer.failed("filtering response headers", exc)
            await send(message)

        await self.app(scope, receive, filtered)

    def _filter(self, message: Message, visitor: Visitor) -> Message:
        headers = message.get("headers")
        if not headers:
            return message
        kept = [
            (name, value)
            for name, value in headers
            if bytes(name).lower() != b"set-cookie"
            or self.enforcer.keep(visitor, bytes(value).decode("latin-1"))
        ]
        if len(kept) == len(headers):
            return message
        return {**message, "headers": kept}


def _request(scope: Scope) -> tuple[list[str], str | None]:
    """Return the request's ``Cookie`` header values and its ``Sec-GPC`` value."""
    cookies: list[str] = []
    gpc: str | None = None
    for name, value in scope.get("headers") or ():
        key = bytes(name).lower()
        if key == b"cookie":
            cookies.append(bytes(value).decode("latin-1"))
        elif key == b"sec-gpc":
            gpc = bytes(value).decode("latin-1")
    return cookies, gpc
