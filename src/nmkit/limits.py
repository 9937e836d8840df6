"""The cap on decoded pixels: every reader checks what a file declares (rows x columns x frames x bytes per
sample) against it before decoding anything, so a small file that inflates to gigabytes (a decompression
bomb) is refused in milliseconds.

The cap is per call context: ``with pixel_limit(64): load_image(path)`` (the CLI and the server set each
workflow's own cap); outside any such block :data:`DEFAULT_LIMIT_MB` applies.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from nmkit.errors import InputError

MB = 2**20
DEFAULT_LIMIT_MB = 1024.0
"""Largest decoded image any reader accepts when no workflow sets its own cap (a 512 x 512 x 1000 float32 PET
volume is 1000 MB)."""
INFLATE_CHUNK = 1 << 20

_limit_mb: contextvars.ContextVar[float] = contextvars.ContextVar("nmkit_pixel_limit_mb", default=DEFAULT_LIMIT_MB)


class TooLarge(InputError):
    """A file declares more decoded pixel data than the cap allows (the server answers 413)."""


def limit_bytes() -> int:
    """The cap in force here, in bytes."""
    return int(_limit_mb.get() * MB)


@contextlib.contextmanager
def pixel_limit(megabytes: float) -> Iterator[None]:
    """Readers inside this block refuse images that decode to more than ``megabytes`` MB."""
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise InputError("pixel limit", f"must be a positive number of MB, not {megabytes!r}")
    token = _limit_mb.set(float(megabytes))
    try:
        yield
    finally:
        _limit_mb.reset(token)


def check_pixels(path: str | Path | None, shape: Sequence[int], bytes_per_sample: float) -> None:
    """TooLarge when an image of ``shape`` (every axis, samples included) exceeds the cap; InputError for a
    negative size."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise InputError(path, f"declares a negative image size {tuple(dims)}")
    bits = math.prod(dims) * round(bytes_per_sample * 8)  # integers: a forged header may declare 10^300 pixels
    if bits > limit_bytes() * 8:
        declared = (" x ".join(str(d) for d in dims if d != 1) or "1") if len(str(bits)) < 40 else "an absurd number of"
        raise TooLarge(path, f"declares {declared} pixels ({bits // (8 * MB):,} MB decoded), more than the limit "
                             f"of {limit_bytes() / MB:,.0f} MB for this analysis")


def check_inflated(path: str | Path | None, stream: BinaryIO, wbits: int, limit: int | None = None,
                   keep: int = 0) -> bytes:
    """Inflate ``stream`` (``wbits``: -15 raw deflate, 47 zlib or gzip) chunk by chunk, counting and discarding,
    and raise TooLarge once the output passes ``limit`` bytes (default: the cap plus 16 MB); returns the first
    ``keep`` bytes of the output, and stops there when ``keep`` is given."""
    limit = limit_bytes() + 16 * MB if limit is None else limit
    inflater = zlib.decompressobj(wbits)
    head: list[bytes] = []
    total = 0
    try:
        while chunk := stream.read(INFLATE_CHUNK):
            while chunk:
                out = inflater.decompress(chunk, INFLATE_CHUNK)
                if total < keep:
                    head.append(out[:keep - total])
                total += len(out)
                if total > limit:
                    raise TooLarge(path, f"its compressed data inflate to more than {limit / MB:,.0f} MB, beyond "
                                         f"what its header declares or the limit of {limit_bytes() / MB:,.0f} MB "
                                         "for this analysis")
                if keep and total >= keep:
                    return b"".join(head)
                chunk = inflater.unconsumed_tail
                if inflater.eof:
                    return b"".join(head)
    except zlib.error as exc:
        raise InputError(path, f"its compressed data are corrupt ({exc})") from exc
    return b"".join(head)
