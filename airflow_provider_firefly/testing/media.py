"""Deterministic output bytes: PNG images (streamable, optionally padded) and MP4 videos.

Pure Python (``zlib`` + ``struct``). Image content is a seed-dependent banded gradient, cheap to
compress even at 12k x 12k. Padding is a private ancillary chunk ``emUl`` (decoders skip it), so a
padded file is still a valid PNG; it is generated while streaming, never held in memory.
"""

from __future__ import annotations

import functools
import random
import struct
import zlib
from collections.abc import Iterator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PADDING_CHUNK_TYPE = b"emUl"
_MAX_CHUNK = 2**31 - 1
_BANDS = 16
STREAM_CHUNK = 1024 * 1024


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _row(width: int, c1: tuple[int, int, int], c2: tuple[int, int, int]) -> bytes:
    steps = 256
    seg = max(1, width // steps)
    out = bytearray()
    for i in range((width + seg - 1) // seg):
        t = min(i * seg, width - 1) / max(1, width - 1)
        px = bytes(round(a + (b - a) * t) for a, b in zip(c1, c2, strict=True))
        out += px * seg
    return b"\x00" + bytes(out[: width * 3])


@functools.lru_cache(maxsize=64)
def _idat(width: int, height: int, seed: int) -> bytes:
    rng = random.Random(seed)  # noqa: S311 - not crypto
    rows = []
    for _ in range(_BANDS):
        c1 = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        c2 = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        rows.append(_row(width, c1, c2))
    comp = zlib.compressobj(6)
    parts: list[bytes] = []
    for y in range(height):
        parts.append(comp.compress(rows[y * _BANDS // height]))
    parts.append(comp.flush())
    return b"".join(parts)


class PngImage:
    """A PNG of ``width`` x ``height`` derived from ``seed``, plus ``padding`` bytes."""

    def __init__(self, width: int, height: int, seed: int, padding: int = 0) -> None:
        self.width, self.height, self.seed, self.padding = width, height, seed, max(0, padding)
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        self._head = (
            PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", _idat(width, height, seed))
        )
        self._tail = _chunk(b"IEND", b"")
        self._pads = self._pad_sizes()

    def _pad_sizes(self) -> list[int]:
        """Data sizes of the padding chunks (12 bytes of framing each)."""
        remaining = self.padding
        sizes: list[int] = []
        while remaining > 0:
            if remaining < 12:
                # Too small for a chunk: make the previous/first chunk carry it instead.
                if sizes:
                    sizes[-1] += remaining
                else:
                    sizes.append(0)  # 12-byte minimum; overshoot documented
                break
            data = min(remaining - 12, _MAX_CHUNK)
            sizes.append(data)
            remaining -= data + 12
        return sizes

    @property
    def size(self) -> int:
        return len(self._head) + sum(12 + s for s in self._pads) + len(self._tail)

    def iter_bytes(self, chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
        yield self._head
        for data_size in self._pads:
            crc = zlib.crc32(PADDING_CHUNK_TYPE)
            yield struct.pack(">I", data_size) + PADDING_CHUNK_TYPE
            block = bytes(chunk_size)
            left = data_size
            while left > 0:
                piece = block if left >= chunk_size else bytes(left)
                crc = zlib.crc32(piece, crc)
                yield piece
                left -= len(piece)
            yield struct.pack(">I", crc & 0xFFFFFFFF)
        yield self._tail

    def to_bytes(self) -> bytes:
        return b"".join(self.iter_bytes())


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width/height from a PNG header, else ``None``."""
    if len(data) >= 24 and data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    return None


# ---------------------------------------------------------------------------------------------
# MP4 (ISO-BMFF) with PNG-coded frames ("png " sample entry, as QuickTime/ffmpeg use)


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def mp4_video(width: int, height: int, seed: int, seconds: int = 5) -> bytes:
    """A ``seconds``-long MP4, one PNG frame per second (timescale 1000)."""
    seconds = max(1, seconds)
    frames = [PngImage(width, height, seed + i).to_bytes() for i in range(seconds)]
    duration = 1000 * seconds
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"mp41")

    def moov(mdat_offset: int) -> bytes:
        mvhd = _full_box(
            b"mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, 1000, duration),
            struct.pack(">IH", 0x10000, 0x100),
            bytes(10),
            _MATRIX,
            bytes(24),
            struct.pack(">I", 2),
        )
        tkhd = _full_box(
            b"tkhd",
            0,
            3,
            struct.pack(">IIIII", 0, 0, 1, 0, duration),
            bytes(8),
            struct.pack(">hhhH", 0, 0, 0, 0),
            _MATRIX,
            struct.pack(">II", width << 16, height << 16),
        )
        mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 1000, duration, 0x55C4, 0))
        hdlr = _full_box(
            b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", bytes(12), b"VideoHandler\x00"
        )
        vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
        dinf = _box(
            b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1))
        )
        name = b"PNG"
        entry = _box(
            b"png ",
            bytes(6),
            struct.pack(">H", 1),  # reserved, data_reference_index
            bytes(16),  # pre_defined / reserved
            struct.pack(">HH", width, height),
            struct.pack(">II", 0x00480000, 0x00480000),
            bytes(4),
            struct.pack(">H", 1),
            bytes([len(name)]) + name + bytes(31 - len(name)),
            struct.pack(">Hh", 0x18, -1),
        )
        stsd = _full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry)
        stts = _full_box(b"stts", 0, 0, struct.pack(">III", 1, len(frames), 1000))
        stsc = _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, len(frames), 1))
        stsz = _full_box(
            b"stsz",
            0,
            0,
            struct.pack(">II", 0, len(frames)),
            b"".join(struct.pack(">I", len(f)) for f in frames),
        )
        stco = _full_box(b"stco", 0, 0, struct.pack(">II", 1, mdat_offset))
        stbl = _box(b"stbl", stsd, stts, stsc, stsz, stco)
        minf = _box(b"minf", vmhd, dinf, stbl)
        mdia = _box(b"mdia", mdhd, hdlr, minf)
        trak = _box(b"trak", tkhd, mdia)
        return _box(b"moov", mvhd, trak)

    moov_len = len(moov(0))
    offset = len(ftyp) + moov_len + 8
    mdat = _box(b"mdat", *frames)
    return ftyp + moov(offset) + mdat
