"""Refuse JSON request bodies nested deeper than avowal accepts anywhere, before any parser runs.

Python's ``json.loads`` (which FastAPI uses) recurses once per level: ten thousand ``[`` make it
raise ``RecursionError``, and anything deeper than a few levels is nothing a route of avowal
takes. Every JSON body is checked with :func:`avowal.lib.text.json_too_deep` (two counts for an
ordinary body, a C-speed pass over the brackets otherwise) and refused with a 400
``too_deeply_nested`` naming where (``body.values.name[0][0]...``) and the limit. The analytics
event endpoint checks its own body the same way on its fast path (answered before this one).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib import errors, text
from avowal.lib.errors import AvowalError

BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_json(scope: Scope) -> bool:
    """Say whether the request announces a JSON body (``application/json`` or ``+json``)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


class JsonDepthGuard:
    """ASGI middleware answering 400 to JSON bodies nested deeper than ``max_depth``."""

    def __init__(self, app: ASGIApp, max_depth: int = text.MAX_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODILESS or not is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        try:
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
        except AvowalError as exc:
            # E.g. the body limit counting a chunked body: answered here, as the app would.
            await errors.send_problem(scope, receive, send, exc)
            return
        body = b"".join(chunks)
        if text.json_too_deep(body, self.max_depth):
            await errors.send_problem(
                scope, receive, send, text.too_deep_at(body, "body", self.max_depth)
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
