"""Refuse request bodies over the configured size before they are read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib import errors
from avowal.lib.errors import AvowalError


class BodyTooLarge(AvowalError):
    status_code = 413
    error = "body_too_large"
    # The rest of the body is never read: the connection cannot be reused.
    headers = {"connection": "close"}  # noqa: RUF012 (read only)


class BodyLimit:
    """ASGI middleware answering 413 to bodies larger than ``limit`` bytes, however they are sent.

    A declared Content-Length over the limit is refused at once. A body without one (HTTP/1.1
    chunked transfer encoding) is read here first, up to the limit, and refused as soon as it
    passes it, before any route sees a byte; a body within the limit is handed on unchanged.
    (Raising from the route's ``receive`` instead would not do: FastAPI turns any error while
    reading a body into a 400.) A body longer than its Content-Length is cut off by the server.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                await errors.send_problem(scope, receive, send, self._refusal())
                return
            await self.app(scope, self._counted(receive), send)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await errors.send_problem(scope, receive, send, self._refusal())
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    def _counted(self, receive: Receive) -> Receive:
        """Return ``receive``, refusing a body that grows past the limit all the same."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._refusal()
            return message

        return counted

    def _refusal(self) -> BodyTooLarge:
        return BodyTooLarge(f"request bodies are limited to {self.limit} bytes", limit=self.limit)
