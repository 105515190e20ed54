"""Request ids: every answer carries ``X-Request-ID``, and the access line the same id.

The id a proxy or client sent is kept when it is 1 to 64 characters of ``[A-Za-z0-9._-]``, so a
request can be followed from the proxy's log to ours; anything else is replaced by a random one
(uuid4, hex): an id never carries spaces, markup or more than 64 characters into a log.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib import logs

HEADER = "X-Request-ID"
ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """Return the request's own ``X-Request-ID`` if it is acceptable, else a new random one."""
    for name, value in headers:
        if name.lower() == logs.REQUEST_ID_HEADER:
            given = value.decode("latin-1")
            return given if ACCEPTED.fullmatch(given) else uuid.uuid4().hex
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware giving each request its id: in the answer's ``X-Request-ID`` header and in
    :data:`avowal.lib.logs.REQUEST_ID` for the lines written while answering it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        header = (logs.REQUEST_ID_HEADER, rid.encode("latin-1"))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", ()) if h[0].lower() != header[0]]
                message = {**message, "headers": [*kept, header]}
            await send(message)

        token = logs.REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, sending)
        finally:
            logs.REQUEST_ID.reset(token)
