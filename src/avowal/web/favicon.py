"""The site's icon: a check mark on the accent colour of the policy page, as SVG and as ICO.

Both are drawn here rather than shipped as files: the SVG is a few lines of markup, and the
ICO (for browsers and tools that ask for `/favicon.ico` whatever the page links) holds a PNG
rasterised from the same shapes, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from dataclasses import dataclass
from functools import cache, cached_property

from starlette.responses import Response

SIZE = 32
ACCENT = (0x1F, 0x5F, 0xBF)  # --accent of the policy page's stylesheet
CORNER = 7.0
# The check mark: two strokes meeting at the bottom, drawn with round ends.
STROKES = (((9.0, 16.5), (14.0, 21.5)), ((14.0, 21.5), (23.5, 11.0)))
STROKE_WIDTH = 3.5
# Browsers ask for the icon on every new page; it changes with avowal, not with the policy.
CACHE_CONTROL = "public, max-age=604800"

SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}">
<rect width="{SIZE}" height="{SIZE}" rx="{CORNER:g}" fill="#{bytes(ACCENT).hex()}"/>
<path d="M{STROKES[0][0][0]:g} {STROKES[0][0][1]:g}L{STROKES[0][1][0]:g} {STROKES[0][1][1]:g}\
L{STROKES[1][1][0]:g} {STROKES[1][1][1]:g}" fill="none" stroke="#fff" \
stroke-width="{STROKE_WIDTH:g}" stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""


@dataclass(frozen=True)
class Icon:
    """One form of the icon, served at ``path`` and linked as ``href``."""

    path: str
    media_type: str
    content: bytes

    @cached_property
    def version(self) -> str:
        """Return a short hash of the content, for the ETag and the linked URL."""
        return hashlib.sha256(self.content).hexdigest()[:12]

    @property
    def href(self) -> str:
        """Return the URL pages link to, changing with the icon."""
        return f"{self.path}?v={self.version}"

    def response(self) -> Response:
        """Answer a request for the icon, cacheable for a week."""
        return Response(
            self.content,
            media_type=self.media_type,
            headers={"Cache-Control": CACHE_CONTROL, "ETag": f'"{self.version}"'},
        )


def _segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def _inside_square(x: float, y: float) -> bool:
    # The rounded square: inside unless in a corner beyond its circle.
    cx = min(max(x, CORNER), SIZE - CORNER)
    cy = min(max(y, CORNER), SIZE - CORNER)
    return math.hypot(x - cx, y - cy) <= CORNER


def _pixel(px: int, py: int, samples: int = 4) -> bytes:
    """Return one RGBA pixel, anti-aliased by sampling a grid inside it."""
    square = mark = 0
    for i in range(samples):
        for j in range(samples):
            x, y = px + (i + 0.5) / samples, py + (j + 0.5) / samples
            if _inside_square(x, y):
                square += 1
                if any(_segment_distance(x, y, a, b) <= STROKE_WIDTH / 2 for a, b in STROKES):
                    mark += 1
    if not square:
        return b"\x00\x00\x00\x00"
    white = mark / square
    rgb = bytes(round(c + (255 - c) * white) for c in ACCENT)
    return rgb + bytes([round(255 * square / samples**2)])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png() -> bytes:
    """Rasterise the icon as a 32x32 RGBA PNG."""
    rows = b"".join(
        b"\x00" + b"".join(_pixel(x, y) for x in range(SIZE)) for y in range(SIZE)
    )  # filter type 0 (none) before each row
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def ico() -> bytes:
    """Wrap the PNG in an ICO file of one image (PNG inside ICO: every browser since 2010)."""
    image = png()
    directory = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    return directory + entry + image


@cache
def svg_icon() -> Icon:
    """Return the icon as SVG, which pages link first."""
    return Icon("/favicon.svg", "image/svg+xml", SVG.encode())


@cache
def ico_icon() -> Icon:
    """Return the icon as ICO, drawn once per process."""
    return Icon("/favicon.ico", "image/x-icon", ico())
