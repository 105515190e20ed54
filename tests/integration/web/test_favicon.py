"""The site's icon: /favicon.svg and /favicon.ico, linked from the policy page and cacheable."""

from __future__ import annotations

import struct
import zlib
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from avowal.web import favicon


class Links(HTMLParser):
    """Collect the <link> elements of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append(dict(attrs))


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    """Return width, height and the raw RGBA rows (filter bytes included) of a simple PNG."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    at, idat, size = 8, b"", (0, 0)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data), f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
            assert data[8:10] == b"\x08\x06"  # 8 bits, RGBA
        elif kind == b"IDAT":
            idat += data
        at += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_svg_icon_is_served_cacheable(client: TestClient) -> None:
    answer = client.get("/favicon.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert "max-age=604800" in answer.headers["cache-control"]
    assert answer.text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert answer.headers["etag"] == f'"{favicon.svg_icon().version}"'


def test_ico_icon_is_a_valid_ico_holding_a_32px_png(client: TestClient) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/x-icon"
    assert "max-age=604800" in answer.headers["cache-control"]
    data = answer.content
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, _, _, planes, bpp, size, offset = struct.unpack("<BBBBHHII", data[6:22])
    assert (width, height, planes, bpp) == (32, 32, 1, 32)
    assert offset + size == len(data)
    w, h, rows = _png_pixels(data[offset:])
    assert (w, h) == (32, 32)
    assert len(rows) == 32 * (1 + 32 * 4)
    pixel = lambda x, y: rows[y * 129 + 1 + x * 4 : y * 129 + 1 + x * 4 + 4]  # noqa: E731
    assert pixel(0, 0)[3] == 0  # the rounded corner is transparent
    assert pixel(4, 4) == bytes([*favicon.ACCENT, 255])  # the accent colour
    assert pixel(14, 20)[:3] == b"\xff\xff\xff"  # on the check mark


def test_policy_page_links_both_icons(client: TestClient) -> None:
    links = Links(client.get("/privacy").text).links
    icons = {link.get("type") or "ico": link["href"] for link in links if link.get("rel") == "icon"}
    assert set(icons) == {"image/svg+xml", "ico"}
    assert str(icons["image/svg+xml"]).startswith("/favicon.svg?v=")
    assert str(icons["ico"]).startswith("/favicon.ico?v=")
    for href in icons.values():
        assert client.get(str(href)).status_code == 200
