"""The pixel cap: a context per call, checked on declared sizes (huge ones included) and on inflated streams."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import Header, pixel_limit, read_header
from nmkit.limits import DEFAULT_LIMIT_MB, MB, TooLarge, check_inflated, check_pixels, limit_bytes


def test_the_cap_is_set_per_block_and_restored():
    assert limit_bytes() == DEFAULT_LIMIT_MB * MB
    with pixel_limit(2):
        with pixel_limit(1):
            assert limit_bytes() == MB
        assert limit_bytes() == 2 * MB
        check_pixels("a.dcm", (1, 1024, 1024), 2)  # exactly 2 MB is allowed
        with pytest.raises(TooLarge, match=r"a.dcm: declares 1025 x 1024 pixels \(2 MB decoded\), more than the "
                                           r"limit of 2 MB"):
            check_pixels("a.dcm", (1, 1025, 1024), 2)
    assert limit_bytes() == DEFAULT_LIMIT_MB * MB


@pytest.mark.parametrize("megabytes", [0, -1, float("nan"), float("inf")])
def test_a_cap_must_be_a_positive_number(megabytes):
    with pytest.raises(InputError, match="positive number of MB"):
        with pixel_limit(megabytes):
            pass


def test_forged_sizes_are_refused_without_overflow():
    with pytest.raises(TooLarge, match="an absurd number of pixels"):
        check_pixels("x", (10**300, 10**300), 0.125)
    with pytest.raises(InputError, match="negative image size"):
        check_pixels("x", (-1, 5), 1)


def test_inflating_stops_at_the_limit_and_keeps_the_head():
    stream = zlib.compress(bytes(8 * MB))
    with pytest.raises(TooLarge, match="inflate to more than"):
        check_inflated("x.gz", io.BytesIO(stream), zlib.MAX_WBITS, limit=MB)
    assert check_inflated("x.gz", io.BytesIO(stream), zlib.MAX_WBITS, keep=100) == bytes(100)
    with pytest.raises(InputError, match="corrupt"):
        check_inflated("x.gz", io.BytesIO(b"\x78\x9c" + b"\xff" * 20), zlib.MAX_WBITS)


def test_read_header_gives_shape_without_decoding(tmp_path):
    np.save(tmp_path / "stack.npy", np.zeros((3, 8, 5), np.uint16))
    assert read_header(tmp_path / "stack.npy") == Header("npy", (3, 8, 5), metadata={"format": "npy", "dtype": "uint16"})
