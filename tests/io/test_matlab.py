"""The study's .mat format: v5 and v7.3 round trips, V or Y, and every malformed file as an InputError."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
import scipy.io

from nmkit.errors import InputError
from nmkit.io.matlab import VERSIONS, read_bone_mat, write_bone_mat


@pytest.fixture(scope="module")
def views() -> np.ndarray:
    return np.random.default_rng(0).poisson(3.0, (2, 1024, 256)).astype(np.float32)


def _v5(path, **content):
    scipy.io.savemat(path, content)
    return path


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip(tmp_path, views, version):
    path = write_bone_mat(tmp_path / "s.mat", views, (5, -1), version)
    study = read_bone_mat(path)
    assert study.views.shape == (2, 1024, 256) and study.views.dtype == np.float32
    assert np.array_equal(study.views, views)
    assert study.knee_codes == (5, -1) and study.knee_grades == (3, -1)
    assert np.array_equal(study.anterior, views[0]) and np.array_equal(study.posterior, views[1])


@pytest.mark.parametrize("version", VERSIONS)
def test_same_input_same_bytes(tmp_path, views, version):
    digests = {hashlib.sha256(write_bone_mat(tmp_path / f"{i}.mat", views, (2, 6), version).read_bytes()).hexdigest()
               for i in range(2)}
    assert len(digests) == 1


def test_v73_is_hdf5_with_matlab_header(tmp_path, views):
    path = write_bone_mat(tmp_path / "s.mat", views, (2, 3), "v7.3")
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file" and h5py.is_hdf5(path)


def test_y_instead_of_v(tmp_path, views):
    array = np.moveaxis(views, 0, 2).astype(np.uint16)
    path = _v5(tmp_path / "y.mat", Y=array, diaginfo={"kneejointid": np.array([[2.0, 4.0]])})
    assert read_bone_mat(path).knee_grades == (0, 2)


@pytest.mark.parametrize("content, problem", [
    ({"diaginfo": {"kneejointid": np.array([[2.0, 3.0]])}}, "no 'V' or 'Y'"),
    ({"V": np.zeros((1024, 256, 2), np.uint16)}, "no 'diaginfo'"),
    ({"V": np.zeros((1024, 256, 2), np.uint16), "diaginfo": {"other": 1}}, "without 'kneejointid'"),
    ({"V": np.zeros((512, 256, 2), np.uint16), "diaginfo": {"kneejointid": np.array([[2.0, 3.0]])}},
     "512 x 256 x 2"),
    ({"V": np.zeros((1024, 256, 2), np.uint16), "diaginfo": {"kneejointid": np.array([[7.0, 3.0]])}},
     "outside -1..6"),
    ({"V": np.zeros((1024, 256, 2), np.uint16), "diaginfo": {"kneejointid": np.array([[-2.0, 3.0]])}},
     "outside -1..6"),
    ({"V": np.zeros((1024, 256, 2), np.uint16), "diaginfo": {"kneejointid": np.array([[2.0, 3.0, 4.0]])}},
     "3 knee codes"),
])
def test_malformed_v5(tmp_path, content, problem):
    path = _v5(tmp_path / "bad.mat", **content)
    with pytest.raises(InputError, match=problem) as err:
        read_bone_mat(path)
    assert str(err.value).startswith(str(path))


def test_malformed_v73(tmp_path):
    path = tmp_path / "bad73.mat"
    with h5py.File(path, "w") as mat:
        mat.create_dataset("V", data=np.zeros((2, 256, 1024), np.uint16))
    with pytest.raises(InputError, match="no 'diaginfo'"):
        read_bone_mat(path)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "x.mat"
    path.write_text("hello")
    with pytest.raises(InputError, match="cannot be read as a MATLAB file"):
        read_bone_mat(path)


def test_writer_rejects_bad_arguments(tmp_path, views):
    with pytest.raises(ValueError):
        write_bone_mat(tmp_path / "a.mat", views[:1], (2, 2))
    with pytest.raises(ValueError):
        write_bone_mat(tmp_path / "a.mat", views, (1, 2))
    with pytest.raises(ValueError):
        write_bone_mat(tmp_path / "a.mat", views, (2, 2), "v6")
    assert not list(tmp_path.iterdir())
