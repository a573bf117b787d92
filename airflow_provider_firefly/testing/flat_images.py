"""Valid single-colour JPEG and WebP files of any size, without an image library.

A flat image needs almost no entropy-coded data, so both are written directly:

* **JPEG** (baseline, 3 components, 4:4:4): every 8x8 block has only a DC coefficient and
  after the first block every DC difference is 0. With the Huffman tables below a zero block
  costs 3 zero bits, so the scan is the first block's bits followed by zero bytes: a
  12k x 12k JPEG streams its ~6 MB of zeros without building them.
* **WebP** (lossless, VP8L): five single-symbol prefix codes make every pixel cost 0 bits, so
  the whole image is a dozen bytes whatever its size (up to WebP's 16384 x 16384).

The colour comes from the seed, like the PNG outputs. ``padding`` adds private bytes that
decoders skip (JPEG ``APP15`` segments, a WebP ``emUl`` chunk), streamed, never held.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from .media import STREAM_CHUNK

JPEG = "image/jpeg"
WEBP = "image/webp"
WEBP_MAX_SIDE = 16384
JPEG_MAX_SIDE = 65535

# Standard luminance DC table (ITU T.81 Annex K.3): category 0 is "00".
_DC_COUNTS = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
_DC_VALUES = bytes(range(12))
# An AC table holding only EOB (symbol 0x00), coded "0": every block ends at once.
_AC_COUNTS = bytes([1] + [0] * 15)
_AC_VALUES = b"\x00"
_APP_MAX_DATA = 65533  # segment length field counts itself (2 bytes), max 65535


def seed_colour(seed: int) -> tuple[int, int, int]:
    rng = random.Random(seed)  # noqa: S311 - not crypto
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _huffman_codes(counts: bytes, values: bytes) -> dict[int, str]:
    """Canonical Huffman codes (T.81 Annex C) as bit strings."""
    codes: dict[int, str] = {}
    code, k = 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[values[k]] = format(code, f"0{length}b")
            code, k = code + 1, k + 1
        code <<= 1
    return codes


_DC_CODES = _huffman_codes(_DC_COUNTS, _DC_VALUES)
_EOB = _huffman_codes(_AC_COUNTS, _AC_VALUES)[0]
_ZERO_BLOCK = _DC_CODES[0] + _EOB
assert set(_ZERO_BLOCK) == {"0"}, "the scan body must be all zero bits"


def _dc_bits(diff: int) -> str:
    """DC difference: its category's code, then the magnitude bits (one's complement if < 0)."""
    category = abs(diff).bit_length()
    if category == 0:
        return _DC_CODES[0]
    magnitude = diff if diff > 0 else diff + (1 << category) - 1
    return _DC_CODES[category] + format(magnitude, f"0{category}b")


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    y8, cb8, cr8 = (min(255, max(0, round(v))) for v in (y, cb, cr))
    return y8, cb8, cr8


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _stuff(data: bytes) -> bytes:
    """Entropy-coded bytes: every 0xFF is followed by a 0x00."""
    return data.replace(b"\xff", b"\xff\x00")


def _bits_to_bytes(bits: str) -> bytes:
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


class _FlatImage:
    """What the flat JPEG and WebP share: the side check, the seed, whole-file bytes."""

    media_type: str
    format_name: str
    max_side: int

    def __init__(self, width: int, height: int, seed: int) -> None:
        if not (1 <= width <= self.max_side and 1 <= height <= self.max_side):
            raise ValueError(f"{self.format_name} sides are 1..{self.max_side}")
        self.width, self.height, self.seed = width, height, seed

    def iter_bytes(self, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        """The file, streamed (padding in pieces of at most ``chunk_size`` bytes)."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return b"".join(self.iter_bytes())


class JpegImage(_FlatImage):
    """A baseline JPEG of ``width`` x ``height`` in the seed's colour, plus ``padding`` bytes."""

    media_type, format_name, max_side = JPEG, "JPEG", JPEG_MAX_SIDE

    def __init__(self, width: int, height: int, seed: int, padding: int = 0) -> None:
        super().__init__(width, height, seed)
        blocks = -(-width // 8) * -(-height // 8)
        # A flat 8x8 block of value v has DC = 8 * (v - 128); the quantisation table is all 1s.
        first = "".join(_dc_bits(8 * (v - 128)) + _EOB for v in _ycbcr(seed_colour(seed)))
        zero_bits = (blocks - 1) * 3 * len(_ZERO_BLOCK)
        # The first block's bits, completed to a byte with zero bits taken from the body.
        lead = (-len(first)) % 8
        if lead > zero_bits:
            tail_bits = first + "0" * zero_bits
            self._zero_bytes = 0
        else:
            rest = zero_bits - lead
            tail_bits = "0" * (rest % 8)
            self._zero_bytes = rest // 8
            first += "0" * lead
        tail_bits += "1" * ((-len(tail_bits)) % 8)  # pad the last byte with 1s (T.81 F.1.2.3)
        frame = struct.pack(">BHHB", 8, height, width, 3) + b"".join(
            bytes([cid, 0x11, 0]) for cid in (1, 2, 3)
        )
        tables = b"\x00" + _DC_COUNTS + _DC_VALUES + b"\x10" + _AC_COUNTS + _AC_VALUES
        scan = bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0])
        self._head = (
            b"\xff\xd8"
            + _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + _segment(0xFFDB, b"\x00" + bytes([1] * 64))
            + _segment(0xFFC0, frame)
            + _segment(0xFFC4, tables)
        )
        self._scan_head = _segment(0xFFDA, scan)
        if lead <= zero_bits:
            self._scan_head += _stuff(_bits_to_bytes(first))
        self._tail = _stuff(_bits_to_bytes(tail_bits)) + b"\xff\xd9"
        self._pads = _pad_sizes(max(0, padding), 4, _APP_MAX_DATA)

    @property
    def size(self) -> int:
        pads = sum(4 + s for s in self._pads)
        return len(self._head) + pads + len(self._scan_head) + self._zero_bytes + len(self._tail)

    def iter_bytes(self, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        yield self._head
        for data_size in self._pads:
            yield struct.pack(">HH", 0xFFEF, data_size + 2) + bytes(data_size)
        yield self._scan_head
        yield from _zeros(self._zero_bytes, chunk_size)
        yield self._tail


class _BitWriter:
    """Least-significant-bit-first writer (VP8L's bit order)."""

    def __init__(self) -> None:
        self.value, self.count = 0, 0

    def put(self, value: int, bits: int) -> None:
        self.value |= value << self.count
        self.count += bits

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, "little")


class WebpImage(_FlatImage):
    """A lossless WebP of ``width`` x ``height`` in the seed's colour, plus ``padding`` bytes."""

    media_type, format_name, max_side = WEBP, "WebP", WEBP_MAX_SIDE

    def __init__(self, width: int, height: int, seed: int, padding: int = 0) -> None:
        super().__init__(width, height, seed)
        r, g, b = seed_colour(seed)
        bits = _BitWriter()
        bits.put(width - 1, 14)
        bits.put(height - 1, 14)
        bits.put(0, 1)  # alpha_is_used
        bits.put(0, 3)  # version
        bits.put(0, 1)  # no transform
        bits.put(0, 1)  # no colour cache
        bits.put(0, 1)  # no meta prefix codes
        for symbol in (g, r, b, 255, 0):  # green, red, blue, alpha, distance
            bits.put(1, 1)  # simple code
            bits.put(0, 1)  # one symbol
            bits.put(1, 1)  # 8-bit symbol
            bits.put(symbol, 8)
        vp8l = _riff_chunk(b"VP8L", b"\x2f" + bits.to_bytes())
        #: Data size of the padding chunk, ``None`` without padding.
        self._pad: int | None = None
        if padding > 0:
            # Extra chunks need the extended format (VP8X): a simple file holds one chunk.
            canvas = bytes(4) + (width - 1).to_bytes(3, "little")
            canvas += (height - 1).to_bytes(3, "little")
            vp8l = _riff_chunk(b"VP8X", canvas) + vp8l
            self._pad = max(0, padding - 8 - 18)
        body = b"WEBP" + vp8l
        self._head = b"RIFF" + struct.pack("<I", len(body) + self._pad_total) + body

    @property
    def _pad_total(self) -> int:
        return 0 if self._pad is None else 8 + self._pad + self._pad % 2

    @property
    def size(self) -> int:
        return len(self._head) + self._pad_total

    def iter_bytes(self, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        yield self._head
        if self._pad is not None:
            yield b"emUl" + struct.pack("<I", self._pad)
            yield from _zeros(self._pad + self._pad % 2, chunk_size)


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


def _zeros(n: int, chunk_size: int) -> Iterator[bytes]:
    block = bytes(min(n, chunk_size))
    while n > 0:
        yield block if n >= len(block) else block[:n]
        n -= len(block)


def _pad_sizes(total: int, framing: int, max_data: int) -> list[int]:
    """Data sizes of padding segments that add up to ``total`` bytes with their framing
    (a remainder smaller than one frame goes into the previous segment when it fits)."""
    sizes: list[int] = []
    remaining = total
    while remaining > 0:
        if remaining < framing:
            if sizes and sizes[-1] + remaining <= max_data:
                sizes[-1] += remaining
            else:
                sizes.append(0)  # overshoots by < one frame
            break
        data = min(remaining - framing, max_data)
        sizes.append(data)
        remaining -= data + framing
    return sizes
