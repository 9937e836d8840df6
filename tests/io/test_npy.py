"""NumPy .npy reader: 2-D and 3-D numbers only, never pickles."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import read_npy


def save(tmp_path, name, array, allow_pickle=False):
    path = tmp_path / name
    np.save(path, array, allow_pickle=allow_pickle)
    return path


def test_2d_float_array(tmp_path):
    plane = np.linspace(0, 1, 48).reshape(6, 8)
    image = read_npy(save(tmp_path, "plane.npy", plane))
    assert image.shape == (1, 6, 8)
    np.testing.assert_array_equal(image.array[0], plane.astype(np.float32))
    assert image.pixel_spacing == (1.0, 1.0)
    assert image.metadata == {"format": "npy", "dtype": "float64", "spacing_known": False}


def test_3d_integer_stack(tmp_path):
    stack = np.arange(3 * 6 * 8, dtype=np.int32).reshape(3, 6, 8) - 50
    image = read_npy(save(tmp_path, "stack.npy", stack))
    assert image.shape == (3, 6, 8)
    np.testing.assert_array_equal(image.array, stack)


def test_pickled_objects_are_refused(tmp_path):
    path = save(tmp_path, "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="objects.npy: holds Python objects"):
        read_npy(path)


def test_4d_array_is_refused(tmp_path):
    with pytest.raises(InputError, match="4d.npy: expected a 2-D image or a 3-D stack.*4-D"):
        read_npy(save(tmp_path, "4d.npy", np.zeros((2, 2, 3, 4))))


def test_1d_array_is_refused(tmp_path):
    with pytest.raises(InputError, match="line.npy: .*1-D"):
        read_npy(save(tmp_path, "line.npy", np.zeros(5)))


@pytest.mark.parametrize("array", [np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2), complex)])
def test_non_numeric_arrays_are_refused(tmp_path, array):
    with pytest.raises(InputError, match="odd.npy: pixel values must be real numbers"):
        read_npy(save(tmp_path, "odd.npy", array))


def test_nan_is_refused(tmp_path):
    plane = np.zeros((4, 4))
    plane[1, 2] = np.nan
    with pytest.raises(InputError, match="nan.npy: 1 pixel value"):
        read_npy(save(tmp_path, "nan.npy", plane))


def test_truncated_file_is_refused(tmp_path):
    path = save(tmp_path, "cut.npy", np.zeros((40, 40)))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="cut.npy: could not be read as a NumPy .npy file"):
        read_npy(path)
