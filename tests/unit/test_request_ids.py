"""X-Request-ID: a client's id is kept only when it is a sane token; anything else is replaced."""

from __future__ import annotations

import re

import pytest

from avowal.web.request_ids import request_id

FRESH = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    "sent",
    [b"a", b"proxy-7.a_B", b"0" * 64, b"f47ac10b-58cc-4372-a567-0e02b2c3d479"],
)
def test_a_sane_token_is_kept(sent: bytes) -> None:
    assert request_id([(b"x-request-id", sent)]) == sent.decode()


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"0" * 65,
        b"eve.example@example.com",  # an address: never carried into a log
        b"/v1/subjects/abc",
        b"two words",
        b"id\tx",
        b"id\x00x",
        b"caf\xc3\xa9",
        b"\xe9t\xe9",
        b"<script>",
        b'a"b',
        b"id\\n",
    ],
)
def test_anything_else_is_replaced_by_a_fresh_id(sent: bytes) -> None:
    given = request_id([(b"X-Request-ID", sent)])
    assert FRESH.fullmatch(given), given
    assert given != request_id([(b"X-Request-ID", sent)])  # fresh each time


def test_without_the_header_an_id_is_made_and_only_the_first_header_counts() -> None:
    assert FRESH.fullmatch(request_id([(b"user-agent", b"ua")]))
    assert request_id([(b"x-request-id", b"first"), (b"x-request-id", b"second")]) == "first"
    assert FRESH.fullmatch(request_id([(b"x-request-id", b"no good"), (b"x-request-id", b"ok")]))
