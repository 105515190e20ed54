"""Refuse request bodies over the configured size before they are read into memory."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib.errors import AvowalError


class BodyTooLarge(AvowalError):
    status_code = 413
    error = "body_too_large"


class BodyLimit:
    """ASGI middleware answering 413 to bodies larger than ``limit`` bytes.

    A declared Content-Length over the limit is refused at once; a chunked body is counted as it
    streams, and the handler reading it gets :class:`BodyTooLarge`, so nothing is stored.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            body = json.dumps(self._refusal().body()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._refusal()
            return message

        await self.app(scope, limited, send)

    def _refusal(self) -> BodyTooLarge:
        return BodyTooLarge(f"request bodies are limited to {self.limit} bytes", limit=self.limit)
