"""Build the example DAGs' input images in pure Python (``zlib`` + ``struct``), byte for byte.

``example_dags/assets/product.png``: a 512x512 RGB "product photo" (a mug on a table).
``example_dags/assets/banner_mask.png``: a 1344x768 grayscale mask for the banner pipeline's
fill step, white where Firefly paints (left of the product once it is expanded, centred, to
1344x768).

Run ``python tests/examples/make_assets.py`` to rewrite them; ``test_assets.py`` checks that the
committed files equal what this builds.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "example_dags" / "assets"
PRODUCT_SIZE = (512, 512)
MASK_SIZE = (1344, 768)
#: The fill area of the mask: (left, top, right, bottom), corner radius.
MASK_BOX = (96, 200, 384, 700)
MASK_RADIUS = 48


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filtered(rows: list[bytes], bpp: int) -> bytes:
    """Each row with the cheapest of filters None, Sub and Up (sum of absolute residuals)."""
    out = bytearray()
    previous = bytes(len(rows[0]))
    for row in rows:
        sub = bytes((row[i] - (row[i - bpp] if i >= bpp else 0)) & 0xFF for i in range(len(row)))
        up = bytes((a - b) & 0xFF for a, b in zip(row, previous, strict=True))
        candidates = [(0, row), (1, sub), (2, up)]
        kind, data = min(candidates, key=lambda c: sum(min(v, 256 - v) for v in c[1]))
        out.append(kind)
        out += data
        previous = row
    return bytes(out)


def png(width: int, height: int, rows: list[bytes], color_type: int) -> bytes:
    bpp = 3 if color_type == 2 else 1
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    data = zlib.compress(_filtered(rows, bpp), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    t = max(0.0, min(1.0, t))
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def product_photo() -> bytes:
    """A teal mug with a handle and a shadow, on a warm table against a grey wall."""
    width, height = PRODUCT_SIZE
    wall_top, wall_bottom = (226, 224, 220), (196, 193, 188)
    table_near, table_far = (182, 150, 118), (158, 126, 96)
    mug = (38, 128, 140)
    table_y = 360
    left, right, top, bottom = 166, 326, 170, 400  # mug body
    cx = (left + right) / 2
    half = (right - left) / 2
    handle = (326.0, 282.0)
    rows = []
    for y in range(height):
        row = bytearray()
        if y < table_y:
            base = _mix(wall_top, wall_bottom, y / table_y)
        else:
            base = _mix(table_far, table_near, (y - table_y) / (height - table_y))
        for x in range(width):
            color = base
            # Soft elliptic shadow on the table, to the lower right.
            sx, sy = (x - 270) / 150, (y - 402) / 18
            if y >= table_y and sx * sx + sy * sy < 1:
                color = _mix(base, (90, 70, 52), 0.55 * (1 - (sx * sx + sy * sy)))
            # Handle: a ring to the right of the body.
            distance = math.hypot(x - handle[0], y - handle[1])
            if x > right - 4 and 36 <= distance <= 58:
                color = _mix(mug, (10, 40, 46), 0.35 + 0.3 * (y - handle[1] + 58) / 116)
            # Body: shaded like a cylinder, with a rounded bottom and an elliptic rim.
            if left <= x <= right and top <= y <= bottom:
                u = (x - cx) / half
                curve = 14 * math.sqrt(max(0.0, 1 - u * u))
                if y <= bottom - 14 + curve and y >= top - curve * 0.0:
                    light = 0.25 + 0.75 * math.cos(u * math.pi / 2 - 0.35) ** 2
                    color = _mix((8, 36, 42), mug, light)
                    if abs(u) < 0.16 and 220 <= y <= 330:  # a highlight streak
                        color = _mix(color, (235, 245, 245), 0.35)
                    if (x - cx) ** 2 + (y - 275) ** 2 < 34**2 and abs(u) < 0.5:  # logo
                        color = _mix(color, (244, 190, 60), 0.85)
            rim = ((x - cx) / half) ** 2 + ((y - top) / 16) ** 2
            if rim <= 1:
                color = (16, 70, 78) if rim < 0.78 else (120, 190, 196)
            row += bytes(color)
        rows.append(bytes(row))
    return png(width, height, rows, color_type=2)


def banner_mask() -> bytes:
    """White (255) inside a rounded rectangle, black elsewhere."""
    width, height = MASK_SIZE
    x0, y0, x1, y1 = MASK_BOX
    r = MASK_RADIUS
    rows = []
    for y in range(height):
        row = bytearray(width)
        if y0 <= y < y1:
            for x in range(x0, x1):
                cx = min(max(x, x0 + r), x1 - 1 - r)
                cy = min(max(y, y0 + r), y1 - 1 - r)
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    row[x] = 255
        rows.append(bytes(row))
    return png(width, height, rows, color_type=0)


ASSET_BUILDERS = {"product.png": product_photo, "banner_mask.png": banner_mask}


def main() -> int:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, build in ASSET_BUILDERS.items():
        data = build()
        (ASSETS / name).write_bytes(data)
        print(f"{ASSETS / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
